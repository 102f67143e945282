import ndarray from 'ndarray';
import type { FloatNdArray } from '../kernels/layout.js';
import { primitive, type Primitive } from '../primitive.js';
import { unslice } from './unslice.js';

export interface SliceParams {
  /** One entry per axis: first index, number of elements taken, and the (positive) step. */
  starts: number[];
  lengths: number[];
  steps: number[];
}

// d slice(x) = unslice(dy): dy placed back at the sliced positions of a zero tensor
export const slice: Primitive<SliceParams> = primitive<SliceParams>({
  name: 'slice',
  forward: ([x], { starts, lengths, steps }) => {
    let offset = x!.offset;
    starts.forEach((start, axis) => (offset += start * x!.stride[axis]!));
    const strides = steps.map((step, axis) => step * x!.stride[axis]!);
    return ndarray(x!.data, lengths.slice(), strides, offset) as FloatNdArray;
  },
  vjp: (g, { inputs: [x], params: { starts, steps } }) => [unslice([g], { shape: x!.shape, starts, steps })],
  // tangent: slice(ẋ)
  jvp: ([t], { params }) => slice([t!], params),
  // batched: every example, the same window of each
  batch: ([x], { size, params: { starts, lengths, steps } }) => slice([x!], { starts: [0, ...starts], lengths: [size, ...lengths], steps: [1, ...steps] }),
});
