import { E } from '../kernels/expr.js';
import { unaryPrimitive } from './unary.js';

const x = E.input(0);

// d sign(x) = 0 almost everywhere
// tangent: 0
export const sign = unaryPrimitive('sign', E.select(E.gt(x, 0), 1, E.select(E.lt(x, 0), -1, E.select(E.eq(x, 0), 0, NaN))), () => null,
  () => null);
