import { scatterAddKernel } from '../kernels/indexing.js';
import { primitive, type Primitive } from '../primitive.js';
import { gather } from './gather.js';
import { allWithBatchAxis } from './batching.js';

export interface ScatterAddParams {
  axis: number;
  /** Shape of the zero tensor the source is added into. */
  shape: number[];
}

// d scatterAdd(src, index) = gather(dy, index): scatterAdd is the adjoint of gather; linear in src, so
// its JVP is the scatter-add of the tangent
export const scatterAdd: Primitive<ScatterAddParams> = primitive<ScatterAddParams>({
  name: 'scatterAdd',
  forward: ([src, index], { axis, shape }) => scatterAddKernel('scatterAdd', src!, axis, index!, shape),
  vjp: (g, { inputs: [, index], params: { axis } }) => [gather([g, index!], { axis }), null],
  jvp: ([t], { inputs: [, index], params }) => (t ? scatterAdd([t, index!], params) : null),
  // batched: each example's source added into its own zero tensor (a shared source or index broadcast)
  batch: (inputs, { batched, size, params: { axis, shape } }) => scatterAdd(allWithBatchAxis(inputs, batched, size), { axis: axis + 1, shape: [size, ...shape] }),
});
