import { E } from '../kernels/expr.js';
import { binaryPrimitive } from './binary.js';

// d(aᵇ) = b·aᵇ⁻¹ da + aᵇ·log(a) db   (the da term taken as 0 where a = b = 0, and the db term
// as 0 where a = 0, as PyTorch; aᵇ⁻¹ = 0⁻¹ is avoided rather than masked, so every order stays finite)
export const pow = binaryPrimitive('pow', E.pow(E.input(0), E.input(1)), (g, { inputs: [a, b], out, needsGrad }) => {
  let gradBase = null;
  if (needsGrad[0]) {
    const bothZero = a!.eq(0).mul(b!.eq(0));
    gradBase = g.mul(b!).mul(a!.pow(b!.where(bothZero.eq(0), 1).sub(1)));
  }
  let gradExponent = null;
  if (needsGrad[1]) {
    const baseIsZero = a!.eq(0);
    const safeLog = a!.where(baseIsZero.eq(0), 1).log().where(baseIsZero.eq(0), 0);
    gradExponent = g.mul(out).mul(safeLog);
  }
  return [gradBase, gradExponent];
});
