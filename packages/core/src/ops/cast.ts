import { copyNd } from '../kernels/elementwise.js';
import type { DType } from '../dtype.js';
import { primitive, type Primitive } from '../primitive.js';

// d cast(x) = cast(dy) back to x's dtype
export const cast: Primitive<{ dtype: DType }> = primitive<{ dtype: DType }>({
  name: 'cast',
  forward: ([x], { dtype }) => copyNd(x!, dtype),
  vjp: (g, { inputs: [x] }) => [g.to(x!.dtype)],
  // tangent: cast(ẋ)
  jvp: ([t], { params }) => cast([t!], params),
  // batched: every example converted
  batch: ([x], { params }) => cast([x!], params),
});
