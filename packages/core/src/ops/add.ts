import { binaryPrimitive } from './binary.js';

// d(a + b) = da + db
export const add = binaryPrimitive('add', '$0 + $1', (g) => [g, g]);
