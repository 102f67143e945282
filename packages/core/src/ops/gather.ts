import { gatherKernel } from '../kernels/indexing.js';
import { primitive, type Primitive } from '../primitive.js';
import { scatterAdd } from './scatter-add.js';
import { allWithBatchAxis } from './batching.js';

// d gather(x, index) = scatterAdd(dy, index) into x's shape; gather is linear in x, so its JVP is the
// gather of the tangent; the int32 index has no gradient and no tangent
export const gather: Primitive<{ axis: number }> = primitive<{ axis: number }>({
  name: 'gather',
  forward: ([x, index], { axis }) => gatherKernel('gather', x!, axis, index!),
  vjp: (g, { inputs: [x, index], params: { axis } }) => [scatterAdd([g, index!], { axis, shape: x!.shape }), null],
  jvp: ([t], { inputs: [, index], params }) => (t ? gather([t, index!], params) : null),
  // batched: each example's values at its index (a shared x or index broadcast over the examples)
  batch: (inputs, { batched, size, params: { axis } }) => gather(allWithBatchAxis(inputs, batched, size), { axis: axis + 1 }),
});
