import { E } from '../kernels/expr.js';
import { unaryPrimitive } from './unary.js';

// d cos(x) = -sin(x) dx
// tangent: -ẋ·sin(x)
export const cos = unaryPrimitive('cos', E.cos(E.input(0)), (g, { inputs: [x] }) => g.mul(x!.sin()).neg(),
  (t, { inputs: [x] }) => t.mul(x!.sin()).neg());
