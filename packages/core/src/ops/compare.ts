import { mapBinary } from '../kernels/elementwise.js';
import { primitive } from '../primitive.js';

export type Comparison = 'lt' | 'le' | 'gt' | 'ge' | 'eq' | 'ne';

const comparisons: Record<Comparison, (a: number, b: number) => number> = {
  lt: (a, b) => (a < b ? 1 : 0),
  le: (a, b) => (a <= b ? 1 : 0),
  gt: (a, b) => (a > b ? 1 : 0),
  ge: (a, b) => (a >= b ? 1 : 0),
  eq: (a, b) => (a === b ? 1 : 0),
  ne: (a, b) => (a !== b ? 1 : 0),
};

// comparisons are piecewise constant: zero gradient
export const compare = primitive<{ comparison: Comparison }>({
  name: 'compare',
  forward: ([a, b], { comparison }) => mapBinary(a!, b!, comparisons[comparison]),
  vjp: () => [null, null],
});
