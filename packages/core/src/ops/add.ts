import { E } from '../kernels/expr.js';
import { binaryPrimitive } from './binary.js';
import { addTangents } from './tangents.js';

// d(a + b) = da + db
// tangent: ȧ + ḃ
export const add = binaryPrimitive('add', E.add(E.input(0), E.input(1)), (g) => [g, g],
  ([ta, tb]) => addTangents(ta, tb));
