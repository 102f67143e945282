import { unaryPrimitive } from './unary.js';

// 1/(1+e^-a), evaluated without overflow for large |a|
const stableSigmoid = '(a >= 0 ? 1 / (1 + Math.exp(-a)) : Math.exp(a) / (1 + Math.exp(a)))';

// d σ(x) = σ(x)(1 - σ(x)) dx
export const sigmoid = unaryPrimitive('sigmoid', stableSigmoid, (g, { out }) => g.mul(out).mul(out.neg().add(1)));
