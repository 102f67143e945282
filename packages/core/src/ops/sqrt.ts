import { E } from '../kernels/expr.js';
import { unaryPrimitive } from './unary.js';

// d sqrt(x) = dx / (2 sqrt(x))
// tangent: ẋ / (2 sqrt(x))
export const sqrt = unaryPrimitive('sqrt', E.sqrt(E.input(0)), (g, { out }) => g.div(out.mul(2)),
  (t, { out }) => t.div(out.mul(2)));
