import { argsortKernel } from '../kernels/indexing.js';
import { primitive } from '../primitive.js';

// an int32 result (positions): no gradient and no tangent; sorted values are gather(x, argsort(x)), differentiable through gather
export const argsort = primitive<{ axis: number; descending: boolean }>({
  name: 'argsort',
  forward: ([x], { axis, descending }) => argsortKernel(x!, axis, descending),
  vjp: () => [null],
  jvp: () => null,
});
