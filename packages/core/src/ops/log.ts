import { unaryPrimitive } from './unary.js';

// d log(x) = dx / x
export const log = unaryPrimitive('log', 'Math.log($0)', (g, { inputs: [x] }) => g.div(x!));
