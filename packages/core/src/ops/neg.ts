import { unaryPrimitive } from './unary.js';

// d(-x) = -dx
export const neg = unaryPrimitive('neg', (x) => -x, (g) => g.neg());
