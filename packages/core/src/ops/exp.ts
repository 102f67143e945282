import { unaryPrimitive } from './unary.js';

// d exp(x) = exp(x) dx
// tangent: ẋ·exp(x)
export const exp = unaryPrimitive('exp', 'Math.exp($0)', (g, { out }) => g.mul(out),
  (t, { out }) => t.mul(out));
