import { matmulKernel } from '../kernels/matmul.js';
import { primitive } from '../primitive.js';

// d(A·B) = dY·Bᵀ for A, Aᵀ·dY for B   (batch axes identical)
export const matmul = primitive<undefined>({
  name: 'matmul',
  forward: ([a, b]) => matmulKernel(a!, b!),
  vjp: (g, { inputs: [a, b], needsGrad }) => [
    needsGrad[0] ? g.matmul(b!.transpose(-2, -1)) : null,
    needsGrad[1] ? a!.transpose(-2, -1).matmul(g) : null,
  ],
});
