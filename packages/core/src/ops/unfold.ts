import { unfoldKernel, type WindowGeometry } from '../kernels/windows.js';
import { primitive, type Primitive } from '../primitive.js';
import { fold } from './fold.js';

// d unfold(x) = fold(dy): every window element's gradient is added back to its pixel
export const unfold: Primitive<WindowGeometry> = primitive<WindowGeometry>({
  name: 'unfold',
  forward: ([x], geometry) => unfoldKernel(x!, geometry),
  vjp: (g, { inputs: [x], params }) => [fold([g], { ...params, channels: x!.shape[1]! })],
  // tangent: unfold(ẋ)
  jvp: ([t], { params }) => unfold([t!], params),
});
