import { unaryPrimitive } from './unary.js';

// d sin(x) = cos(x) dx
export const sin = unaryPrimitive('sin', 'Math.sin($0)', (g, { inputs: [x] }) => g.mul(x!.cos()));
