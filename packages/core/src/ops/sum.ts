import { reduceAxes, reduceExpression } from '../kernels/reduce.js';
import { primitive, type Primitive } from '../primitive.js';
import { keptShape } from '../composite/validate.js';
import { shiftedAxes } from './batching.js';

// d Σ_axes x = broadcast(dy) over the summed axes
export const sum: Primitive<{ axes: number[] }> = primitive<{ axes: number[] }>({
  name: 'sum',
  forward: ([x], { axes }) => reduceAxes(x!, axes, 'sum'),
  fusedForward: (pending, { axes }) => reduceExpression(pending.expression, pending.operands, axes, 'sum', pending.dtype),
  vjp: (g, { inputs: [x], params: { axes } }) => [g.reshape(keptShape(x!.shape, axes)).broadcastTo(x!.shape)],
  // tangent: Σ_axes ẋ
  jvp: ([t], { params }) => sum([t!], params),
  // batched: Σ over the same axes of each example
  batch: ([x], { params: { axes } }) => sum([x!], { axes: shiftedAxes(axes) }),
});
