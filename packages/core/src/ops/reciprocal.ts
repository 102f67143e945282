import { E } from '../kernels/expr.js';
import { unaryPrimitive } from './unary.js';

// d (1/x) = -dx / x² = -(1/x)² dx
export const reciprocal = unaryPrimitive('reciprocal', E.div(1, E.input(0)), (g, { out }) => g.mul(out).mul(out).neg());
