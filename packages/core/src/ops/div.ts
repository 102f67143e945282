import { E } from '../kernels/expr.js';
import { binaryPrimitive } from './binary.js';
import { addTangents } from './tangents.js';

// d(a/b) = da/b - (a/b)/b db
export const div = binaryPrimitive('div', E.div(E.input(0), E.input(1)), (g, { inputs: [, b], out, needsGrad }) => [
  needsGrad[0] ? g.div(b!) : null,
  needsGrad[1] ? g.mul(out).div(b!).neg() : null,
],
  // tangent: ȧ/b - (a/b)·ḃ/b
  ([ta, tb], { inputs: [, b], out }) => addTangents(ta && ta.div(b!), tb && tb.mul(out).div(b!).neg()));
