import { unaryPrimitive } from './unary.js';

// d (1/x) = -dx / x² = -(1/x)² dx
export const reciprocal = unaryPrimitive('reciprocal', '1 / $0', (g, { out }) => g.mul(out).mul(out).neg());
