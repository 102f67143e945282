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
  // a vmap stand-in has no layout of its own
  if (x.heldElsewhere !== null) return false;
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
  batch: ([a, b], { batched: [aBatched, bBatched], size }) => {
    // both batched: the batch axis is one more batch axis of the product
    if (aBatched && bBatched) return matmul([a!, b!], undefined);
    const axes = (count: number) => Array.from({ length: count }, (_, axis) => axis);
    if (aBatched) {
      // A's examples stacked as more rows: [d…, B·n, k] · [d…, k, m]
      const d = b!.ndim - 2;
      const [rows, inner] = a!.shape.slice(-2) as [number, number];
      const stacked = a!.permute([...axes(d).map((axis) => axis + 1), 0, d + 1, d + 2]).reshape([...b!.shape.slice(0, d), size * rows, inner]);
      const product = matmul([stacked, b!], undefined);
      return product.reshape([...b!.shape.slice(0, d), size, rows, b!.shape[d + 1]!]).permute([d, ...axes(d), d + 1, d + 2]);
    }
    // B's examples side by side as more columns: [d…, n, k] · [d…, k, B·m]
    const d = a!.ndim - 2;
    const [inner, columns] = b!.shape.slice(-2) as [number, number];
    const sideBySide = b!.permute([...axes(d).map((axis) => axis + 1), d + 1, 0, d + 2]).reshape([...a!.shape.slice(0, d), inner, size * columns]);
    const product = matmul([a!, sideBySide], undefined);
    return product.reshape([...a!.shape.slice(0, d), a!.shape[d]!, size, columns]).permute([d + 1, ...axes(d), d, d + 2]);
  },
});
