import { prepareReduceExpression, reduceAxes, reduceExpression } from '../kernels/reduce.js';
import { E } from '../kernels/expr.js';
import { dtypeOfNd } from '../kernels/layout.js';
import { primitive, type Primitive } from '../primitive.js';
import { shiftedAxes } from './batching.js';
import { sum } from './sum.js';
import { keptShape } from '../composite/validate.js';

// d max_axes x = dy at the maximal elements, split evenly between ties
export const max: Primitive<{ axes: number[] }> = primitive<{ axes: number[] }>({
  name: 'max',
  forward: ([x], { axes }) => reduceAxes(x!, axes, 'max'),
  fusedForward: (pending, { axes }) => reduceExpression(pending.expression, pending.operands, axes, 'max', pending.dtype),
  prepareForward: ([x], { axes }, out) => prepareReduceExpression(E.input(0), [x!], axes, 'max', dtypeOfNd(x!), out),
  prepareFusedForward: (pending, { axes }, out) => prepareReduceExpression(pending.expression, pending.operands, axes, 'max', pending.dtype, out),
  vjp: (g, { inputs: [x], out, params: { axes } }) => {
    const kept = keptShape(x!.shape, axes);
    const isMaximal = x!.eq(out.reshape(kept).broadcastTo(x!.shape));
    const ties = isMaximal.sum(axes, true);
    return [g.reshape(kept).div(ties).broadcastTo(x!.shape).mul(isMaximal)];
  },
  // tangent: the mean of ẋ over the maximal elements
  jvp: ([t], { inputs: [x], out, params }) => {
    const { axes } = params;
    const kept = keptShape(x!.shape, axes);
    const isMaximal = x!.eq(out.reshape(kept).broadcastTo(x!.shape));
    const ties = isMaximal.sum(axes, true);
    return sum([t!.mul(isMaximal.div(ties))], params);
  },
  // batched: the maximum over the same axes of each example
  batch: ([x], { params: { axes } }) => max([x!], { axes: shiftedAxes(axes) }),
});
