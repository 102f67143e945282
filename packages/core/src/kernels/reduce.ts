import { allocate, type DType } from '../dtype.js';
import { contiguousData, createNd, dtypeOfNd, type FloatNdArray } from './layout.js';

export type ReductionKind = 'sum' | 'max';

interface MergedAxis {
  extent: number;
  reduced: boolean;
  inputStride: number;
  outputStride: number;
}

/**
 * Merges runs of neighbouring axes that are all reduced or all kept, after dropping extent-1
 * axes, so that e.g. reducing (N, H, W) of NCHW becomes the three-level loop N | C | H·W.
 */
function mergeAxes(shape: readonly number[], reducedAxes: ReadonlySet<number>): MergedAxis[] {
  const runs: { extent: number; reduced: boolean }[] = [];
  shape.forEach((extent, axis) => {
    if (extent === 1) return;
    const reduced = reducedAxes.has(axis);
    const last = runs[runs.length - 1];
    if (last && last.reduced === reduced) last.extent *= extent;
    else runs.push({ extent, reduced });
  });
  const merged: MergedAxis[] = runs.map((run) => ({ ...run, inputStride: 0, outputStride: 0 }));
  let inputStride = 1;
  let outputStride = 1;
  for (let level = merged.length - 1; level >= 0; level--) {
    const axis = merged[level]!;
    axis.inputStride = inputStride;
    inputStride *= axis.extent;
    if (!axis.reduced) {
      axis.outputStride = outputStride;
      outputStride *= axis.extent;
    }
  }
  return merged;
}

/**
 * Sums or maximizes over the given axes; the result has the kept axes only (no keepdims).
 * Sums accumulate in float64 whatever the dtype, so float32 data loses no precision to the
 * running total.
 */
export function reduceAxes(x: FloatNdArray, axes: readonly number[], kind: ReductionKind, dtype: DType = dtypeOfNd(x)): FloatNdArray {
  const reducedAxes = new Set(axes);
  const outShape = x.shape.filter((_, axis) => !reducedAxes.has(axis));
  const outSize = outShape.reduce((product, extent) => product * extent, 1);
  const input = contiguousData(x);
  const initial = kind === 'sum' ? 0 : -Infinity;
  const accumulator = new Float64Array(outSize).fill(initial);
  if (input.length > 0) {
    const merged = mergeAxes(x.shape, reducedAxes);
    const walk = (level: number, inputOffset: number, outputOffset: number): void => {
      const axis = merged[level];
      if (axis === undefined) {
        const value = input[inputOffset]!;
        accumulator[outputOffset] = kind === 'sum' ? accumulator[outputOffset]! + value : Math.max(accumulator[outputOffset]!, value);
        return;
      }
      const { extent, inputStride, outputStride, reduced } = axis;
      if (level === merged.length - 1) {
        if (reduced) {
          let total = accumulator[outputOffset]!;
          if (kind === 'sum') for (let i = 0; i < extent; i++) total += input[inputOffset + i]!;
          else for (let i = 0; i < extent; i++) total = Math.max(total, input[inputOffset + i]!);
          accumulator[outputOffset] = total;
        } else if (kind === 'sum') {
          for (let i = 0; i < extent; i++) accumulator[outputOffset + i] = accumulator[outputOffset + i]! + input[inputOffset + i]!;
        } else {
          for (let i = 0; i < extent; i++) accumulator[outputOffset + i] = Math.max(accumulator[outputOffset + i]!, input[inputOffset + i]!);
        }
        return;
      }
      for (let i = 0; i < extent; i++) walk(level + 1, inputOffset + i * inputStride, outputOffset + (reduced ? 0 : i * outputStride));
    };
    walk(0, 0, 0);
  }
  const out = allocate(dtype, outSize);
  out.set(accumulator);
  return createNd(dtype, outShape, out);
}
