import { unaryPrimitive } from './unary.js';

// d exp(x) = exp(x) dx
export const exp = unaryPrimitive('exp', 'Math.exp($0)', (g, { out }) => g.mul(out));
