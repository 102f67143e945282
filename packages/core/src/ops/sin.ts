import { unaryPrimitive } from './unary.js';

// d sin(x) = cos(x) dx
export const sin = unaryPrimitive('sin', Math.sin, (g, { inputs: [x] }) => g.mul(x!.cos()));
