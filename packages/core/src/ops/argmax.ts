import { argmaxKernel } from '../kernels/indexing.js';
import { primitive } from '../primitive.js';

// an int32 result (positions): no gradient and no tangent
export const argmax = primitive<{ axis: number; minimize: boolean }>({
  name: 'argmax',
  forward: ([x], { axis, minimize }) => argmaxKernel(x!, axis, minimize),
  vjp: () => [null],
  jvp: () => null,
});
