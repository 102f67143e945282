import { copyNd } from '../kernels/elementwise.js';
import type { DType } from '../dtype.js';
import { primitive } from '../primitive.js';

// d cast(x) = cast(dy) back to x's dtype
export const cast = primitive<{ dtype: DType }>({
  name: 'cast',
  forward: ([x], { dtype }) => copyNd(x!, dtype),
  vjp: (g, { inputs: [x] }) => [g.to(x!.dtype)],
});
