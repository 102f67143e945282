import { unaryPrimitive } from './unary.js';

// d log(x) = dx / x
export const log = unaryPrimitive('log', 'Math.log(a)', (g, { inputs: [x] }) => g.div(x!));
