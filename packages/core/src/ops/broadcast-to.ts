import ndarray from 'ndarray';
import type { FloatNdArray } from '../kernels/layout.js';
import { primitive, type Primitive } from '../primitive.js';
import { sumTo } from '../composite/reduce.js';

// d broadcastTo(x) = sum of dy over the broadcast axes (sumTo)
export const broadcastTo: Primitive<{ shape: number[] }> = primitive<{ shape: number[] }>({
  name: 'broadcastTo',
  forward: ([x], { shape }) => {
    const leading = shape.length - x!.shape.length;
    const strides = shape.map((extent, axis) => {
      if (axis < leading) return 0;
      return x!.shape[axis - leading] === 1 && extent !== 1 ? 0 : x!.stride[axis - leading]!;
    });
    return ndarray(x!.data, shape.slice(), strides, x!.offset) as FloatNdArray;
  },
  vjp: (g, { inputs: [x] }) => [sumTo(g, x!.shape)],
  // tangent: broadcastTo(ẋ)
  jvp: ([t], { params }) => broadcastTo([t!], params),
  // batched: each example broadcast, its new leading axes placed after the batch axis
  batch: ([x], { size, params: { shape } }) => {
    const leading = shape.length - (x!.ndim - 1);
    const aligned = x!.reshape([size, ...new Array<number>(leading).fill(1), ...x!.shape.slice(1)]);
    return broadcastTo([aligned], { shape: [size, ...shape] });
  },
});
