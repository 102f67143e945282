import { matmulKernel } from '../kernels/matmul.js';
import { primitive, type Primitive } from '../primitive.js';
import { addTangents } from './tangents.js';
import type { Tensor } from '../tensor.js';

/**
 * Whether x's last two axes are laid out transposed (column-major), as W in x·Wᵀ is. Its gradient
 * is then computed transposed too, (dYᵀ·A)ᵀ instead of Aᵀ·dY: the same numbers, laid out like W,
 * so that a leaf's gradient needs no transposing copy.
 */
function isTransposedLayout(x: Tensor): boolean {
  const { shape, stride } = x.data;
  const rank = shape.length;
  return shape[rank - 1]! > 1 && shape[rank - 2]! > 1 && stride[rank - 2] === 1 && stride[rank - 1] !== 1;
}

// d(A·B) = dY·Bᵀ for A, Aᵀ·dY for B   (batch axes identical)
export const matmul: Primitive<undefined> = primitive<undefined>({
  name: 'matmul',
  forward: ([a, b]) => matmulKernel(a!, b!),
  vjp: (g, { inputs: [a, b], needsGrad }) => [
    !needsGrad[0] ? null : isTransposedLayout(a!) ? b!.matmul(g.transpose(-2, -1)).transpose(-2, -1) : g.matmul(b!.transpose(-2, -1)),
    !needsGrad[1] ? null : isTransposedLayout(b!) ? g.transpose(-2, -1).matmul(a!).transpose(-2, -1) : a!.transpose(-2, -1).matmul(g),
  ],
  // tangent: Ȧ·B + A·Ḃ
  jvp: ([ta, tb], { inputs: [a, b] }) => addTangents(ta && matmul([ta, b!], undefined), tb && matmul([a!, tb], undefined)),
});
