import { allocate } from '../dtype.js';
import { contiguousData, createNd, dtypeOfNd, sizeOf, type FloatNdArray } from './layout.js';

/**
 * Batched matrix product of a (..., M, K) and b (..., K, N) with identical batch axes.
 * i-k-j loop order so the innermost loop walks both b and the output contiguously; each output
 * row accumulates in float64.
 */
export function matmulKernel(a: FloatNdArray, b: FloatNdArray): FloatNdArray {
  const rank = a.shape.length;
  const rows = a.shape[rank - 2]!;
  const inner = a.shape[rank - 1]!;
  const columns = b.shape[rank - 1]!;
  const batchShape = a.shape.slice(0, rank - 2);
  const batch = sizeOf(batchShape);
  const left = contiguousData(a);
  const right = contiguousData(b);
  const dtype = dtypeOfNd(a);
  const out = allocate(dtype, batch * rows * columns);
  const rowAccumulator = new Float64Array(columns);
  for (let batchIndex = 0; batchIndex < batch; batchIndex++) {
    const leftBase = batchIndex * rows * inner;
    const rightBase = batchIndex * inner * columns;
    const outBase = batchIndex * rows * columns;
    for (let i = 0; i < rows; i++) {
      rowAccumulator.fill(0);
      for (let k = 0; k < inner; k++) {
        const factor = left[leftBase + i * inner + k]!;
        if (factor === 0) continue;
        const rightRow = rightBase + k * columns;
        for (let j = 0; j < columns; j++) rowAccumulator[j] = rowAccumulator[j]! + factor * right[rightRow + j]!;
      }
      out.set(rowAccumulator, outBase + i * columns);
    }
  }
  return createNd(dtype, [...batchShape, rows, columns], out);
}
