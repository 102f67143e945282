import { unaryPrimitive } from './unary.js';

// d(-x) = -dx
// tangent: -ẋ
export const neg = unaryPrimitive('neg', '-$0', (g) => g.neg(),
  (t) => t.neg());
