import { argsortKernel } from '../kernels/indexing.js';
import { primitive, type Primitive } from '../primitive.js';

// an int32 result (positions): no gradient and no tangent; sorted values are gather(x, argsort(x)), differentiable through gather
export const argsort: Primitive<{ axis: number; descending: boolean }> = primitive<{ axis: number; descending: boolean }>({
  name: 'argsort',
  forward: ([x], { axis, descending }) => argsortKernel(x!, axis, descending),
  vjp: () => [null],
  jvp: () => null,
  // batched: the order along the same axis of each example
  batch: ([x], { params: { axis, descending } }) => argsort([x!], { axis: axis + 1, descending }),
});
