import { broadcastView } from '../kernels/layout.js';
import { primitive, type Primitive } from '../primitive.js';
import { sumTo } from '../composite/reduce.js';

// d broadcastTo(x) = sum of dy over the broadcast axes (sumTo)
export const broadcastTo: Primitive<{ shape: number[] }> = primitive<{ shape: number[] }>({
  name: 'broadcastTo',
  forward: ([x], { shape }) => broadcastView(x!, shape),
  vjp: (g, { inputs: [x] }) => [sumTo(g, x!.shape)],
  // tangent: broadcastTo(ẋ)
  jvp: ([t], { params }) => broadcastTo([t!], params),
});
