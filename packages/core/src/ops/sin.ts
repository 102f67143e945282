import { E } from '../kernels/expr.js';
import { unaryPrimitive } from './unary.js';

// d sin(x) = cos(x) dx
// tangent: ẋ·cos(x)
export const sin = unaryPrimitive('sin', E.sin(E.input(0)), (g, { inputs: [x] }) => g.mul(x!.cos()),
  (t, { inputs: [x] }) => t.mul(x!.cos()));
