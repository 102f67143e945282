import { E } from '../kernels/expr.js';
import { unaryPrimitive } from './unary.js';

// d |x| = sign(x) dx   (0 at x = 0, as PyTorch)
// tangent: ẋ·sign(x)
export const abs = unaryPrimitive('abs', E.abs(E.input(0)), (g, { inputs: [x] }) => g.mul(x!.sign()),
  (t, { inputs: [x] }) => t.mul(x!.sign()));
