import { unaryPrimitive } from './unary.js';

// d(-x) = -dx
export const neg = unaryPrimitive('neg', '-a', (g) => g.neg());
