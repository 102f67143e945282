import { unaryPrimitive } from './unary.js';

// d sign(x) = 0 almost everywhere
// tangent: 0
export const sign = unaryPrimitive('sign', '($0 > 0 ? 1 : $0 < 0 ? -1 : $0 === 0 ? 0 : NaN)', () => null,
  () => null);
