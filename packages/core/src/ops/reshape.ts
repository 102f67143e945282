import ndarray from 'ndarray';
import { contiguousData, createNd, dtypeOfNd, sizeOf, type FloatNdArray } from '../kernels/layout.js';
import { primitive, type Primitive } from '../primitive.js';

/**
 * Strides that let `newShape` view the same elements as (shape, strides) without a copy, or
 * null when the elements are not laid out compatibly (NumPy's no-copy reshape): the old and new
 * extents are matched in chunks of equal size, and each old chunk must be contiguous in itself.
 */
export function viewStrides(shape: readonly number[], strides: readonly number[], newShape: readonly number[]): number[] | null {
  const oldExtents: number[] = [];
  const oldStrides: number[] = [];
  shape.forEach((extent, axis) => {
    if (extent !== 1) {
      oldExtents.push(extent);
      oldStrides.push(strides[axis]!);
    }
  });
  const newStrides = newShape.map(() => 0);
  let oldStart = 0;
  let newStart = 0;
  while (oldStart < oldExtents.length && newStart < newShape.length) {
    let oldEnd = oldStart + 1;
    let newEnd = newStart + 1;
    let oldProduct = oldExtents[oldStart]!;
    let newProduct = newShape[newStart]!;
    while (oldProduct !== newProduct) {
      if (newProduct < oldProduct) newProduct *= newShape[newEnd++]!;
      else oldProduct *= oldExtents[oldEnd++]!;
    }
    for (let axis = oldStart; axis < oldEnd - 1; axis++) {
      if (oldStrides[axis] !== oldExtents[axis + 1]! * oldStrides[axis + 1]!) return null;
    }
    newStrides[newEnd - 1] = oldStrides[oldEnd - 1]!;
    for (let axis = newEnd - 1; axis > newStart; axis--) newStrides[axis - 1] = newStrides[axis]! * newShape[axis]!;
    oldStart = oldEnd;
    newStart = newEnd;
  }
  return newStrides;
}

// d reshape(x) = reshape(dy, shape of x)
export const reshape: Primitive<{ shape: number[] }> = primitive<{ shape: number[] }>({
  name: 'reshape',
  forward: ([x], { shape }) => {
    const strides = sizeOf(shape) > 0 ? viewStrides(x!.shape, x!.stride, shape) : null;
    return strides
      ? (ndarray(x!.data, shape.slice(), strides, x!.offset) as FloatNdArray)
      : createNd(dtypeOfNd(x!), shape, contiguousData(x!).slice());
  },
  vjp: (g, { inputs: [x] }) => [g.reshape(x!.shape)],
  // tangent: reshape(ẋ)
  jvp: ([t], { params }) => reshape([t!], params),
  // batched: each example to the shape
  batch: ([x], { size, params: { shape } }) => reshape([x!], { shape: [size, ...shape] }),
});
