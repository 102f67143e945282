import { unaryPrimitive } from './unary.js';

// d(-x) = -dx
export const neg = unaryPrimitive('neg', '-$0', (g) => g.neg());
