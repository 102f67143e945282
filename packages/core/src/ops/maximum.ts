import { binaryPrimitive } from './binary.js';

// d max(a, b) = [a > b] da + [b > a] db, ties split evenly (as PyTorch)
export const maximum = binaryPrimitive('maximum', '($0 !== $0 || $1 !== $1 ? NaN : $0 > $1 ? $0 : $1)', (g, { inputs: [a, b] }) => {
  const shareOfA = a!.gt(b!).add(a!.eq(b!).mul(0.5));
  return [g.mul(shareOfA), g.mul(shareOfA.neg().add(1))];
});
