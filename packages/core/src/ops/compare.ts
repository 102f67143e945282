import { mapElementwise } from '../kernels/elementwise.js';
import { primitive } from '../primitive.js';

export type Comparison = 'lt' | 'le' | 'gt' | 'ge' | 'eq' | 'ne';

const comparisons: Record<Comparison, string> = {
  lt: '($0 < $1 ? 1 : 0)',
  le: '($0 <= $1 ? 1 : 0)',
  gt: '($0 > $1 ? 1 : 0)',
  ge: '($0 >= $1 ? 1 : 0)',
  eq: '($0 === $1 ? 1 : 0)',
  ne: '($0 !== $1 ? 1 : 0)',
};

// comparisons are piecewise constant: zero gradient
export const compare = primitive<{ comparison: Comparison }>({
  name: 'compare',
  forward: ([a, b], { comparison }) => mapElementwise(comparisons[comparison], [a!, b!]),
  elementwise: { expression: ({ comparison }) => comparisons[comparison] },
  vjp: () => [null, null],
  // tangent: 0
  jvp: () => null,
});
