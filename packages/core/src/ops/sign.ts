import { unaryPrimitive } from './unary.js';

// d sign(x) = 0 almost everywhere
export const sign = unaryPrimitive('sign', '($0 > 0 ? 1 : $0 < 0 ? -1 : $0 === 0 ? 0 : NaN)', () => null);
