import { E } from '../kernels/expr.js';
import { unaryPrimitive } from './unary.js';

// d (1/x) = -dx / x² = -(1/x)² dx
// tangent: -ẋ·(1/x)²
export const reciprocal = unaryPrimitive('reciprocal', E.div(1, E.input(0)), (g, { out }) => g.mul(out).mul(out).neg(),
  (t, { out }) => t.mul(out).mul(out).neg());
