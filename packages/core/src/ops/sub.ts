import { E } from '../kernels/expr.js';
import { binaryPrimitive } from './binary.js';

// d(a - b) = da - db
// tangent: ȧ - ḃ
export const sub = binaryPrimitive('sub', E.sub(E.input(0), E.input(1)), (g, { needsGrad }) => [g, needsGrad[1] ? g.neg() : null],
  ([ta, tb]) => (tb ? (ta ? ta.sub(tb) : tb.neg()) : ta!));
