import { binaryPrimitive } from './binary.js';

// d(aᵇ) = b·aᵇ⁻¹ da + aᵇ·log(a) db   (the db term taken as 0 where a = 0, as PyTorch)
export const pow = binaryPrimitive('pow', 'Math.pow(a, b)', (g, { inputs: [a, b], out, needsGrad }) => {
  const gradBase = needsGrad[0] ? g.mul(b!).mul(a!.pow(b!.sub(1))) : null;
  let gradExponent = null;
  if (needsGrad[1]) {
    const baseIsZero = a!.eq(0);
    const safeLog = a!.where(baseIsZero.eq(0), 1).log().where(baseIsZero.eq(0), 0);
    gradExponent = g.mul(out).mul(safeLog);
  }
  return [gradBase, gradExponent];
});
