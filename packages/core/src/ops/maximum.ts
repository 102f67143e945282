import { binaryPrimitive } from './binary.js';

// d max(a, b) = [a > b] da + [b > a] db, ties split evenly (as PyTorch)
export const maximum = binaryPrimitive('maximum', '(a !== a || b !== b ? NaN : a > b ? a : b)', (g, { inputs: [a, b] }) => {
  const shareOfA = a!.gt(b!).add(a!.eq(b!).mul(0.5));
  return [g.mul(shareOfA), g.mul(shareOfA.neg().add(1))];
});
