import { binaryPrimitive } from './binary.js';

// d(a + b) = da + db
export const add = binaryPrimitive('add', 'a + b', (g) => [g, g]);
