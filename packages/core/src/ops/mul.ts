import { E } from '../kernels/expr.js';
import { binaryPrimitive } from './binary.js';

// d(a·b) = b da + a db
export const mul = binaryPrimitive('mul', E.mul(E.input(0), E.input(1)), (g, { inputs: [a, b], needsGrad }) => [
  needsGrad[0] ? g.mul(b!) : null,
  needsGrad[1] ? g.mul(a!) : null,
]);
