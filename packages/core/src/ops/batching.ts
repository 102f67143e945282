import type { Tensor } from '../tensor.js';

/** x with the examples along axis 0: as it is when batched, otherwise the one value broadcast over `size` examples (a view). */
export function withBatchAxis(x: Tensor, batched: boolean, size: number): Tensor {
  return batched ? x : x.unsqueeze(0).broadcastTo([size, ...x.shape]);
}

/** Every input with the examples along axis 0 (for primitives whose inputs must agree in shape). */
export function allWithBatchAxis(inputs: readonly Tensor[], batched: readonly boolean[], size: number): Tensor[] {
  return inputs.map((input, index) => withBatchAxis(input, batched[index]!, size));
}

/** Axes of one example, counted in the batched tensor (one further along). */
export function shiftedAxes(axes: readonly number[]): number[] {
  return axes.map((axis) => axis + 1);
}
