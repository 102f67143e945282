import { binaryPrimitive } from './binary.js';
import { addTangents } from './tangents.js';

// d max(a, b) = [a > b] da + [b > a] db, ties split evenly (as PyTorch)
export const maximum = binaryPrimitive('maximum', '($0 !== $0 || $1 !== $1 ? NaN : $0 > $1 ? $0 : $1)', (g, { inputs: [a, b] }) => {
  const shareOfA = a!.gt(b!).add(a!.eq(b!).mul(0.5));
  return [g.mul(shareOfA), g.mul(shareOfA.neg().add(1))];
},
  // tangent: [a > b] ȧ + [b > a] ḃ, ties averaged
  ([ta, tb], { inputs: [a, b] }) => {
    const shareOfA = a!.gt(b!).add(a!.eq(b!).mul(0.5));
    return addTangents(ta && ta.mul(shareOfA), tb && tb.mul(shareOfA.neg().add(1)));
  });
