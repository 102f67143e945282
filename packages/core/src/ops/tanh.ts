import { E } from '../kernels/expr.js';
import { unaryPrimitive } from './unary.js';

// d tanh(x) = (1 - tanh(x)²) dx
// tangent: ẋ·(1 - tanh(x)²)
export const tanh = unaryPrimitive('tanh', E.tanh(E.input(0)), (g, { out }) => g.mul(out.mul(out).neg().add(1)),
  (t, { out }) => t.mul(out.mul(out).neg().add(1)));
