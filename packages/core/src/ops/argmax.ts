import { argmaxKernel } from '../kernels/indexing.js';
import { primitive, type Primitive } from '../primitive.js';

// an int32 result (positions): no gradient and no tangent
export const argmax: Primitive<{ axis: number; minimize: boolean }> = primitive<{ axis: number; minimize: boolean }>({
  name: 'argmax',
  forward: ([x], { axis, minimize }) => argmaxKernel(x!, axis, minimize),
  vjp: () => [null],
  jvp: () => null,
  // batched: the positions along the same axis of each example
  batch: ([x], { params: { axis, minimize } }) => argmax([x!], { axis: axis + 1, minimize }),
});
