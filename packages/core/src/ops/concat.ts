import ops from 'ndarray-ops';
import { createNd, dtypeOfNd, sizeOf, type FloatNdArray } from '../kernels/layout.js';
import { primitive, type Primitive } from '../primitive.js';
import { zerosLike } from '../creation.js';
import { allWithBatchAxis } from './batching.js';

// d concat(x₁…xₙ) = the matching pieces of dy
export const concat: Primitive<{ axis: number }> = primitive<{ axis: number }>({
  name: 'concat',
  forward: (inputs, { axis }) => {
    const first = inputs[0]!;
    const shape = first.shape.slice();
    shape[axis] = inputs.reduce((total, input) => total + input.shape[axis]!, 0);
    const out = createNd(dtypeOfNd(first), shape);
    let start = 0;
    for (const input of inputs) {
      const extent = input.shape[axis]!;
      if (sizeOf(input.shape) > 0) {
        const lo = shape.map((_, index) => (index === axis ? start : 0));
        const hi = input.shape;
        ops.assign(out.lo(...lo).hi(...hi) as FloatNdArray, input);
      }
      start += extent;
    }
    return out;
  },
  vjp: (g, { inputs, params: { axis }, needsGrad }) => {
    let start = 0;
    return inputs.map((input, index) => {
      const extent = input.shape[axis]!;
      const piece = needsGrad[index] ? g.narrow(axis, start, extent) : null;
      start += extent;
      return piece;
    });
  },
  // tangent: concat(ẋ₁…ẋₙ), zeros for inputs without a tangent
  jvp: (tangents, { inputs, params }) => concat(inputs.map((input, index) => tangents[index] ?? zerosLike(input)), params),
  // batched: each example's pieces joined along the same axis, shared pieces broadcast over the examples
  batch: (inputs, { batched, size, params: { axis } }) => concat(allWithBatchAxis(inputs, batched, size), { axis: axis + 1 }),
});
