import { E } from '../kernels/expr.js';
import { unaryPrimitive } from './unary.js';

// 1/(1+e^-x), evaluated without overflow for large |a|
const x = E.input(0);
const expX = E.exp(x);
const stableSigmoid = E.select(E.ge(x, 0), E.div(1, E.add(1, E.exp(E.neg(x)))), E.div(expX, E.add(1, expX)));

// d σ(x) = σ(x)(1 - σ(x)) dx
// tangent: ẋ·σ(x)(1 - σ(x))
export const sigmoid = unaryPrimitive('sigmoid', stableSigmoid, (g, { out }) => g.mul(out).mul(out.neg().add(1)),
  (t, { out }) => t.mul(out).mul(out.neg().add(1)));
