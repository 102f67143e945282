import { E } from '../kernels/expr.js';
import { binaryPrimitive } from './binary.js';

// d(a + b) = da + db
export const add = binaryPrimitive('add', E.add(E.input(0), E.input(1)), (g) => [g, g]);
