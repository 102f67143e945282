import { E } from '../kernels/expr.js';
import { unaryPrimitive } from './unary.js';

// d(-x) = -dx
// tangent: -ẋ
export const neg = unaryPrimitive('neg', E.neg(E.input(0)), (g) => g.neg(),
  (t) => t.neg());
