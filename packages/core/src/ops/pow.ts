import { E } from '../kernels/expr.js';
import { binaryPrimitive } from './binary.js';
import { addTangents } from './tangents.js';

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
},
  // tangent: b·aᵇ⁻¹ ȧ + aᵇ·log(a) ḃ   (the same zero conventions)
  ([ta, tb], { inputs: [a, b], out }) => {
    let tangentFromBase = null;
    if (ta) {
      const bothZero = a!.eq(0).mul(b!.eq(0));
      tangentFromBase = ta.mul(b!).mul(a!.pow(b!.where(bothZero.eq(0), 1).sub(1)));
    }
    let tangentFromExponent = null;
    if (tb) {
      const baseIsZero = a!.eq(0);
      const safeLog = a!.where(baseIsZero.eq(0), 1).log().where(baseIsZero.eq(0), 0);
      tangentFromExponent = tb.mul(out).mul(safeLog);
    }
    return addTangents(tangentFromBase, tangentFromExponent);
  });
