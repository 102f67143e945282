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
  // batched: the examples' images joined along the image axis (N), windows taken, and split again
  batch: ([x], { size, params }) => {
    const [, images, ...rest] = x!.shape;
    const columns = unfold([x!.reshape([size * images!, ...rest])], params);
    return columns.reshape([size, images!, ...columns.shape.slice(1)]);
  },
});
