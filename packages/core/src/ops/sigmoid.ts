import { unaryPrimitive } from './unary.js';

// 1/(1+e^-x), evaluated without overflow for large |a|
const stableSigmoid = '($0 >= 0 ? 1 / (1 + Math.exp(-$0)) : Math.exp($0) / (1 + Math.exp($0)))';

// d σ(x) = σ(x)(1 - σ(x)) dx
// tangent: ẋ·σ(x)(1 - σ(x))
export const sigmoid = unaryPrimitive('sigmoid', stableSigmoid, (g, { out }) => g.mul(out).mul(out.neg().add(1)),
  (t, { out }) => t.mul(out).mul(out.neg().add(1)));
