import { mapElementwise } from '../kernels/elementwise.js';
import { dtypeOfNd } from '../kernels/layout.js';
import { primitive, type Primitive } from '../primitive.js';
import { zerosLike } from '../creation.js';
import { where as whereOperands } from '../composite/elementwise.js';

// d where(c, a, b) = where(c, da, 0) + where(c, 0, db)
export const where: Primitive<undefined> = primitive<undefined>({
  name: 'where',
  forward: ([condition, a, b]) => mapElementwise('($0 !== 0 ? $1 : $2)', [condition!, a!, b!], dtypeOfNd(a!)),
  elementwise: { expression: () => '($0 !== 0 ? $1 : $2)', dtypeFrom: 1 },
  vjp: (g, { inputs: [condition], needsGrad }) => {
    return [null, needsGrad[1] ? g.where(condition!, 0) : null, needsGrad[2] ? whereOperands(condition!, 0, g) : null];
  },
  // tangent: where(c, ȧ, ḃ), a missing tangent being 0
  jvp: ([, ta, tb], { inputs: [condition] }) => {
    if (!ta && !tb) return null;
    return where([condition!, ta ?? zerosLike(tb!), tb ?? zerosLike(ta!)], undefined);
  },
});
