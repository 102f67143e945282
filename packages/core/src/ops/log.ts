import { E } from '../kernels/expr.js';
import { unaryPrimitive } from './unary.js';

// d log(x) = dx / x
// tangent: ẋ / x
export const log = unaryPrimitive('log', E.log(E.input(0)), (g, { inputs: [x] }) => g.div(x!),
  (t, { inputs: [x] }) => t.div(x!));
