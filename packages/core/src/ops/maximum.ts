import { E } from '../kernels/expr.js';
import { binaryPrimitive } from './binary.js';
import { addTangents } from './tangents.js';

const [a, b] = [E.input(0), E.input(1)];

// d max(a, b) = [a > b] da + [b > a] db, ties split evenly (as PyTorch)
export const maximum = binaryPrimitive('maximum', E.select(E.ne(a, a), NaN, E.select(E.ne(b, b), NaN, E.select(E.gt(a, b), a, b))), (g, { inputs: [a, b] }) => {
  const shareOfA = a!.gt(b!).add(a!.eq(b!).mul(0.5));
  return [g.mul(shareOfA), g.mul(shareOfA.neg().add(1))];
},
  // tangent: [a > b] ȧ + [b > a] ḃ, ties averaged
  ([ta, tb], { inputs: [a, b] }) => {
    const shareOfA = a!.gt(b!).add(a!.eq(b!).mul(0.5));
    return addTangents(ta && ta.mul(shareOfA), tb && tb.mul(shareOfA.neg().add(1)));
  });
