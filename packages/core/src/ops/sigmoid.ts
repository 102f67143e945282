import { unaryPrimitive } from './unary.js';

/** 1/(1+e^-x), evaluated without overflow for large |x|. */
function stableSigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

// d σ(x) = σ(x)(1 - σ(x)) dx
export const sigmoid = unaryPrimitive('sigmoid', stableSigmoid, (g, { out }) => g.mul(out).mul(out.neg().add(1)));
