import { unaryPrimitive } from './unary.js';

// d sign(x) = 0 almost everywhere
export const sign = unaryPrimitive('sign', '(a > 0 ? 1 : a < 0 ? -1 : a === 0 ? 0 : NaN)', () => null);
