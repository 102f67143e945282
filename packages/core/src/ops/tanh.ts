import { unaryPrimitive } from './unary.js';

// d tanh(x) = (1 - tanh(x)²) dx
export const tanh = unaryPrimitive('tanh', 'Math.tanh($0)', (g, { out }) => g.mul(out.mul(out).neg().add(1)));
