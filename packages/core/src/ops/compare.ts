import { mapElementwise } from '../kernels/elementwise.js';
import { E, type Expr } from '../kernels/expr.js';
import { primitive, type Primitive } from '../primitive.js';
import { allWithBatchAxis } from './batching.js';

export type Comparison = 'lt' | 'le' | 'gt' | 'ge' | 'eq' | 'ne';

const [a, b] = [E.input(0), E.input(1)];
const comparisons: Record<Comparison, Expr> = { lt: E.lt(a, b), le: E.le(a, b), gt: E.gt(a, b), ge: E.ge(a, b), eq: E.eq(a, b), ne: E.ne(a, b) };

// comparisons are piecewise constant: zero gradient
export const compare: Primitive<{ comparison: Comparison }> = primitive<{ comparison: Comparison }>({
  name: 'compare',
  forward: ([a, b], { comparison }) => mapElementwise(comparisons[comparison], [a!, b!]),
  elementwise: { expression: ({ comparison }) => comparisons[comparison] },
  vjp: () => [null, null],
  // tangent: 0
  jvp: () => null,
  // batched: the same comparison with a shared input broadcast over the examples
  batch: (inputs, { batched, size, params }) => compare(allWithBatchAxis(inputs, batched, size), params),
});
