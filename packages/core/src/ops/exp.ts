import { E } from '../kernels/expr.js';
import { unaryPrimitive } from './unary.js';

// d exp(x) = exp(x) dx
export const exp = unaryPrimitive('exp', E.exp(E.input(0)), (g, { out }) => g.mul(out));
