import ndarray from 'ndarray';
import { contiguousData, createNd, dtypeOfNd, isContiguous, rowMajorStrides, type FloatNdArray } from '../kernels/layout.js';
import { primitive } from '../primitive.js';

// d reshape(x) = reshape(dy, shape of x)
export const reshape = primitive<{ shape: number[] }>({
  name: 'reshape',
  forward: ([x], { shape }) =>
    isContiguous(x!)
      ? (ndarray(x!.data, shape.slice(), rowMajorStrides(shape), x!.offset) as FloatNdArray)
      : createNd(dtypeOfNd(x!), shape, contiguousData(x!)),
  vjp: (g, { inputs: [x] }) => [g.reshape(x!.shape)],
});
