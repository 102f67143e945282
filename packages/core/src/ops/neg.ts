import { E } from '../kernels/expr.js';
import { unaryPrimitive } from './unary.js';

// d(-x) = -dx
export const neg = unaryPrimitive('neg', E.neg(E.input(0)), (g) => g.neg());
