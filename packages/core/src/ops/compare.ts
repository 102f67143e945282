import { mapElementwise } from '../kernels/elementwise.js';
import { primitive } from '../primitive.js';

export type Comparison = 'lt' | 'le' | 'gt' | 'ge' | 'eq' | 'ne';

const comparisons: Record<Comparison, string> = {
  lt: '(a < b ? 1 : 0)',
  le: '(a <= b ? 1 : 0)',
  gt: '(a > b ? 1 : 0)',
  ge: '(a >= b ? 1 : 0)',
  eq: '(a === b ? 1 : 0)',
  ne: '(a !== b ? 1 : 0)',
};

// comparisons are piecewise constant: zero gradient
export const compare = primitive<{ comparison: Comparison }>({
  name: 'compare',
  forward: ([a, b], { comparison }) => mapElementwise(comparisons[comparison], [a!, b!]),
  vjp: () => [null, null],
});
