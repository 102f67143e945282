import { foldKernel, type WindowGeometry } from '../kernels/windows.js';
import { primitive, type Primitive } from '../primitive.js';
import { unfold } from './unfold.js';

// d fold(cols) = unfold(dy): fold is the adjoint of unfold
export const fold: Primitive<WindowGeometry & { channels: number }> = primitive<WindowGeometry & { channels: number }>({
  name: 'fold',
  forward: ([columns], { channels, ...geometry }) => foldKernel(columns!, channels, geometry),
  vjp: (g, { params: { channels: _channels, ...geometry } }) => [unfold([g], geometry)],
  // tangent: fold(ẋ)
  jvp: ([t], { params }) => fold([t!], params),
  // batched: the examples' columns joined along the image axis (N), folded, and split again
  batch: ([columns], { size, params }) => {
    const [, images, ...rest] = columns!.shape;
    const folded = fold([columns!.reshape([size * images!, ...rest])], params);
    return folded.reshape([size, images!, ...folded.shape.slice(1)]);
  },
});
