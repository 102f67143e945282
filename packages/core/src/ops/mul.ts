import { E } from '../kernels/expr.js';
import { binaryPrimitive } from './binary.js';
import { addTangents } from './tangents.js';

// d(a·b) = b da + a db
export const mul = binaryPrimitive('mul', E.mul(E.input(0), E.input(1)), (g, { inputs: [a, b], needsGrad }) => [
  needsGrad[0] ? g.mul(b!) : null,
  needsGrad[1] ? g.mul(a!) : null,
],
  // tangent: ȧ·b + a·ḃ
  ([ta, tb], { inputs: [a, b] }) => addTangents(ta && ta.mul(b!), tb && a!.mul(tb)));
