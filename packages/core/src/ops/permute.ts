import type { FloatNdArray } from '../kernels/layout.js';
import { primitive, type Primitive } from '../primitive.js';

export function inversePermutation(permutation: readonly number[]): number[] {
  const inverse = new Array<number>(permutation.length);
  permutation.forEach((axis, position) => (inverse[axis] = position));
  return inverse;
}

// d permute(x, p) = permute(dy, p⁻¹)
export const permute: Primitive<{ permutation: number[] }> = primitive<{ permutation: number[] }>({
  name: 'permute',
  forward: ([x], { permutation }) => x!.transpose(...permutation) as FloatNdArray,
  vjp: (g, { params: { permutation } }) => [g.permute(inversePermutation(permutation))],
  // tangent: permute(ẋ, p)
  jvp: ([t], { params }) => permute([t!], params),
  // batched: the batch axis stays first
  batch: ([x], { params: { permutation } }) => permute([x!], { permutation: [0, ...permutation.map((axis) => axis + 1)] }),
});
