import { mapElementwise } from '../kernels/elementwise.js';
import { E } from '../kernels/expr.js';
import { dtypeOfNd } from '../kernels/layout.js';
import { primitive, type Primitive } from '../primitive.js';
import { zerosLike } from '../creation.js';
import { where as whereOperands } from '../composite/elementwise.js';
import { allWithBatchAxis } from './batching.js';

const choice = E.select(E.input(0), E.input(1), E.input(2));

// d where(c, a, b) = where(c, da, 0) + where(c, 0, db)
export const where: Primitive<undefined> = primitive<undefined>({
  name: 'where',
  forward: ([condition, a, b]) => mapElementwise(choice, [condition!, a!, b!], dtypeOfNd(a!)),
  elementwise: { expression: () => choice, dtypeFrom: 1 },
  vjp: (g, { inputs: [condition], needsGrad }) => {
    return [null, needsGrad[1] ? g.where(condition!, 0) : null, needsGrad[2] ? whereOperands(condition!, 0, g) : null];
  },
  // tangent: where(c, ȧ, ḃ), a missing tangent being 0
  jvp: ([, ta, tb], { inputs: [condition] }) => {
    if (!ta && !tb) return null;
    return where([condition!, ta ?? zerosLike(tb!), tb ?? zerosLike(ta!)], undefined);
  },
  // batched: the same choice with shared inputs broadcast over the examples
  batch: (inputs, { batched, size }) => where(allWithBatchAxis(inputs, batched, size), undefined),
});
