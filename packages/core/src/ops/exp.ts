import { E } from '../kernels/expr.js';
import { unaryPrimitive } from './unary.js';

// d exp(x) = exp(x) dx
// tangent: ẋ·exp(x)
export const exp = unaryPrimitive('exp', E.exp(E.input(0)), (g, { out }) => g.mul(out),
  (t, { out }) => t.mul(out));
