import { binaryPrimitive } from './binary.js';

// d(a - b) = da - db
export const sub = binaryPrimitive('sub', '$0 - $1', (g, { needsGrad }) => [g, needsGrad[1] ? g.neg() : null]);
