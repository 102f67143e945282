import ndarray from 'ndarray';
import ops from 'ndarray-ops';
import { createNd, dtypeOfNd, sizeOf, type FloatNdArray } from '../kernels/layout.js';
import { primitive, type Primitive } from '../primitive.js';
import { slice } from './slice.js';

export interface UnsliceParams {
  /** Shape of the zero tensor the input is placed into. */
  shape: number[];
  starts: number[];
  steps: number[];
}

/** The strided window of `target` that a slice with these starts and steps selects. */
function window(target: FloatNdArray, lengths: readonly number[], starts: readonly number[], steps: readonly number[]): FloatNdArray {
  let offset = target.offset;
  starts.forEach((start, axis) => (offset += start * target.stride[axis]!));
  const strides = steps.map((step, axis) => step * target.stride[axis]!);
  return ndarray(target.data, lengths.slice(), strides, offset) as FloatNdArray;
}

// d unslice(x) = slice(dy) at the same positions (unslice is the adjoint of slice)
export const unslice: Primitive<UnsliceParams> = primitive<UnsliceParams>({
  name: 'unslice',
  forward: ([x], { shape, starts, steps }) => {
    const out = createNd(dtypeOfNd(x!), shape);
    if (sizeOf(x!.shape) > 0) {
      const target = window(out, x!.shape, starts, steps);
      if (x!.shape.length === 0) out.data[target.offset] = x!.data[x!.offset]!;
      else ops.assign(target, x!);
    }
    return out;
  },
  vjp: (g, { inputs: [x], params: { starts, steps } }) => [slice([g], { starts, lengths: x!.shape, steps })],
  // tangent: unslice(ẋ)
  jvp: ([t], { params }) => unslice([t!], params),
  // batched: every example placed at the same positions of its own zero tensor
  batch: ([x], { size, params: { shape, starts, steps } }) => unslice([x!], { shape: [size, ...shape], starts: [0, ...starts], steps: [1, ...steps] }),
});
