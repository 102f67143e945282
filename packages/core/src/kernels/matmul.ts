import { allocate, type DType, type FloatArray } from '../dtype.js';
import { contiguousData, createNd, dtypeOfNd, sizeOf, type FloatNdArray } from './layout.js';
import { wasmMatmul, type WasmMatmul } from './wasm-matmul.js';

export type MatmulBackend = 'auto' | 'wasm' | 'js';

let backend: MatmulBackend = 'auto';

/**
 * Chooses the matrix-product kernel: 'wasm' (WebAssembly SIMD), 'js' (plain loops, the fallback
 * where WebAssembly SIMD is missing) or 'auto' (wasm when available and the product is not tiny).
 */
export function setMatmulBackend(choice: MatmulBackend): void {
  if (choice !== 'auto' && choice !== 'wasm' && choice !== 'js') {
    throw new Error(`setMatmulBackend: expected 'auto', 'wasm' or 'js', got ${JSON.stringify(choice)}`);
  }
  if (choice === 'wasm' && wasmMatmul() === null) throw new Error('setMatmulBackend: WebAssembly SIMD is not available here');
  backend = choice;
}

export function getMatmulBackend(): MatmulBackend {
  return backend;
}

/** Products smaller than this many multiply-adds stay in JS, where the copies would cost more than they save. */
const WASM_MIN_WORK = 4096;

/**
 * Batched matrix product of a (..., M, K) and b (..., K, N) with identical batch axes.
 */
export function matmulKernel(a: FloatNdArray, b: FloatNdArray): FloatNdArray {
  const rank = a.shape.length;
  const rows = a.shape[rank - 2]!;
  const inner = a.shape[rank - 1]!;
  const columns = b.shape[rank - 1]!;
  const batchShape = a.shape.slice(0, rank - 2);
  const batch = sizeOf(batchShape);
  const dtype = dtypeOfNd(a);
  const wasm = backend === 'js' ? null : wasmMatmul();
  const useWasm = wasm !== null && (backend === 'wasm' || rows * inner * columns >= WASM_MIN_WORK) && inner > 0 && rows > 0 && columns > 0;
  const out = useWasm
    ? matmulWasm(wasm, dtype, matrices(a, batchShape), matrices(b, batchShape), batch, rows, inner, columns)
    : matmulJs(dtype, contiguousData(a), contiguousData(b), batch, rows, inner, columns);
  return createNd(dtype, [...batchShape, rows, columns], out);
}

/** A batch of matrices read through strides: transposed and broadcast operands need no contiguous copy. */
interface StridedMatrices {
  data: FloatArray;
  /** Where each batch element's matrix starts in data. */
  offsets: number[];
  rowStride: number;
  columnStride: number;
}

function matrices(array: FloatNdArray, batchShape: readonly number[]): StridedMatrices {
  const rank = array.shape.length;
  let offsets = [array.offset];
  batchShape.forEach((extent, axis) => {
    const stride = array.stride[axis]!;
    offsets = offsets.flatMap((offset) => Array.from({ length: extent }, (_, index) => offset + index * stride));
  });
  return { data: array.data, offsets, rowStride: array.stride[rank - 2]!, columnStride: array.stride[rank - 1]! };
}

/** i-k-j loops so the innermost loop walks b and the output contiguously; rows accumulate in float64. */
function matmulJs(dtype: DType, left: FloatArray, right: FloatArray, batch: number, rows: number, inner: number, columns: number): FloatArray {
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
        const rightRow = rightBase + k * columns;
        for (let j = 0; j < columns; j++) rowAccumulator[j] = rowAccumulator[j]! + factor * right[rightRow + j]!;
      }
      out.set(rowAccumulator, outBase + i * columns);
    }
  }
  return out;
}

const PAGE_BYTES = 65536;

function ensureMemory(wasm: WasmMatmul, bytes: number): void {
  const missing = bytes - wasm.memory.buffer.byteLength;
  if (missing > 0) wasm.memory.grow(Math.ceil(missing / PAGE_BYTES));
}

const align16 = (bytes: number) => Math.ceil(bytes / 16) * 16;

/** From this many rows on, packing b for the blocked kernel pays for itself (measured: below it the row kernel wins). */
const BLOCKED_MIN_ROWS = 128;

const roundUp = (value: number, multiple: number) => Math.ceil(value / multiple) * multiple;

/**
 * Copies the operands into WebAssembly memory, zero-padded to the chosen kernel's shape
 * requirements (and b packed in column panels for the blocked kernel), runs the SIMD kernel per
 * batch element and copies the result out without the padding.
 */
function matmulWasm(wasm: WasmMatmul, dtype: DType, left: StridedMatrices, right: StridedMatrices, batch: number, rows: number, inner: number, columns: number): FloatArray {
  const elementBytes = dtype === 'float64' ? 8 : 4;
  const vectorColumns = 16 / elementBytes;
  const blocked = rows >= BLOCKED_MIN_ROWS;
  const paddedColumns = roundUp(columns, blocked ? 2 * vectorColumns : vectorColumns);
  const paddedRows = blocked ? roundUp(rows, 4) : rows;
  const leftBytes = align16(batch * paddedRows * inner * elementBytes);
  const rightBytes = align16(batch * inner * paddedColumns * elementBytes);
  const outBytes = batch * paddedRows * paddedColumns * elementBytes;
  ensureMemory(wasm, leftBytes + rightBytes + outBytes);
  const View = dtype === 'float64' ? Float64Array : Float32Array;
  const buffer = wasm.memory.buffer;
  const leftView = new View(buffer, 0, batch * paddedRows * inner);
  const rightView = new View(buffer, leftBytes, batch * inner * paddedColumns);
  const outView = new View(buffer, leftBytes + rightBytes, batch * paddedRows * paddedColumns);
  copyPadded(left, leftView, rows, inner, paddedRows, inner);
  if (blocked) packPanels(right, rightView, inner, columns, paddedColumns, 2 * vectorColumns);
  else {
    copyPadded(right, rightView, inner, columns, inner, paddedColumns);
    outView.fill(0);
  }
  const kernel = blocked
    ? dtype === 'float64' ? wasm.blockedFloat64 : wasm.blockedFloat32
    : dtype === 'float64' ? wasm.rowFloat64 : wasm.rowFloat32;
  for (let batchIndex = 0; batchIndex < batch; batchIndex++) {
    kernel(
      batchIndex * paddedRows * inner * elementBytes,
      leftBytes + batchIndex * inner * paddedColumns * elementBytes,
      leftBytes + rightBytes + batchIndex * paddedRows * paddedColumns * elementBytes,
      paddedRows,
      inner,
      paddedColumns,
    );
  }
  if (paddedRows === rows && paddedColumns === columns) return outView.slice();
  const out = allocate(dtype, batch * rows * columns);
  for (let batchIndex = 0; batchIndex < batch; batchIndex++) {
    for (let row = 0; row < rows; row++) {
      const start = (batchIndex * paddedRows + row) * paddedColumns;
      out.set(outView.subarray(start, start + columns), (batchIndex * rows + row) * columns);
    }
  }
  return out;
}

/** Copies each (rows × columns) matrix into a zero-padded (paddedRows × paddedColumns) block of target, batch after batch. */
function copyPadded(source: StridedMatrices, target: FloatArray, rows: number, columns: number, paddedRows: number, paddedColumns: number): void {
  if (rows !== paddedRows || columns !== paddedColumns) target.fill(0);
  const { data, rowStride, columnStride } = source;
  source.offsets.forEach((offset, batchIndex) => {
    for (let row = 0; row < rows; row++) {
      const from = offset + row * rowStride;
      const to = (batchIndex * paddedRows + row) * paddedColumns;
      if (columnStride === 1) target.set(data.subarray(from, from + columns), to);
      else for (let column = 0; column < columns; column++) target[to + column] = data[from + column * columnStride]!;
    }
  });
}

/** Packs each (inner × columns) matrix into column panels of `panelColumns`, zero-padded to paddedColumns. */
function packPanels(source: StridedMatrices, target: FloatArray, inner: number, columns: number, paddedColumns: number, panelColumns: number): void {
  const { data, rowStride, columnStride } = source;
  let position = 0;
  for (const offset of source.offsets) {
    for (let firstColumn = 0; firstColumn < paddedColumns; firstColumn += panelColumns) {
      const width = Math.max(0, Math.min(panelColumns, columns - firstColumn));
      for (let k = 0; k < inner; k++) {
        const from = offset + k * rowStride + firstColumn * columnStride;
        let column = 0;
        for (; column < width; column++) target[position++] = data[from + column * columnStride]!;
        for (; column < panelColumns; column++) target[position++] = 0;
      }
    }
  }
}
