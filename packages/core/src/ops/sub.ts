import { binaryPrimitive } from './binary.js';

// d(a - b) = da - db
export const sub = binaryPrimitive('sub', 'a - b', (g, { needsGrad }) => [g, needsGrad[1] ? g.neg() : null]);
