import { prepareReduceExpression, reduceAxes, reduceExpression } from '../kernels/reduce.js';
import { E } from '../kernels/expr.js';
import { dtypeOfNd } from '../kernels/layout.js';
import type { DType } from '../dtype.js';
import { primitive, type Primitive } from '../primitive.js';
import { keptShape } from '../composite/validate.js';
import { shiftedAxes } from './batching.js';

/** The summed axes, and the result's dtype when it is not the input's (float64: the sum's float64 totals, unrounded). */
export type SumParams = { axes: number[]; dtype?: DType };

// d Σ_axes x = broadcast(dy) over the summed axes (in x's dtype)
export const sum: Primitive<SumParams> = primitive<SumParams>({
  name: 'sum',
  forward: ([x], { axes, dtype }) => reduceAxes(x!, axes, 'sum', dtypeOfNd(x!), dtype),
  fusedForward: (pending, { axes, dtype }) => reduceExpression(pending.expression, pending.operands, axes, 'sum', pending.dtype, dtype),
  prepareForward: ([x], { axes }, out) => prepareReduceExpression(E.input(0), [x!], axes, 'sum', dtypeOfNd(x!), out),
  prepareFusedForward: (pending, { axes }, out) => prepareReduceExpression(pending.expression, pending.operands, axes, 'sum', pending.dtype, out),
  vjp: (g, { inputs: [x], params: { axes } }) => [g.to(x!.dtype).reshape(keptShape(x!.shape, axes)).broadcastTo(x!.shape)],
  // tangent: Σ_axes ẋ
  jvp: ([t], { params }) => sum([t!], params),
  // batched: Σ over the same axes of each example
  batch: ([x], { params }) => sum([x!], { ...params, axes: shiftedAxes(params.axes) }),
});
