import { unaryPrimitive } from './unary.js';

// d sign(x) = 0 almost everywhere
export const sign = unaryPrimitive('sign', (x) => (x > 0 ? 1 : x < 0 ? -1 : x === 0 ? 0 : NaN), () => null);
