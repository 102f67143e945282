import ndarray, { type NdArray } from 'ndarray';
import ops from 'ndarray-ops';
import { allocate, dtypeOfArray, type DataArray, type DType } from '../dtype.js';

export type FloatNdArray = NdArray<DataArray>;

export function sizeOf(shape: readonly number[]): number {
  let size = 1;
  for (const extent of shape) size *= extent;
  return size;
}

export function rowMajorStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    strides[axis] = stride;
    stride *= shape[axis]!;
  }
  return strides;
}

/** A fresh, contiguous, row-major ndarray (zero-filled unless data is given). */
export function createNd(dtype: DType, shape: readonly number[], data?: DataArray): FloatNdArray {
  const storage = data ?? allocate(dtype, sizeOf(shape));
  return ndarray(storage, shape.slice(), rowMajorStrides(shape), 0) as FloatNdArray;
}

export function dtypeOfNd(array: FloatNdArray): DType {
  return dtypeOfArray(array.data);
}

/**
 * A stride-0 view of `array` with NumPy broadcasting to `shape` (leading axes added, extents of 1
 * repeated): no copy. The caller has checked that the shapes broadcast.
 */
export function broadcastView(array: FloatNdArray, shape: readonly number[]): FloatNdArray {
  const leading = shape.length - array.shape.length;
  const strides = shape.map((extent, axis) => {
    if (axis < leading) return 0;
    return array.shape[axis - leading] === 1 && extent !== 1 ? 0 : array.stride[axis - leading]!;
  });
  return ndarray(array.data, shape.slice(), strides, array.offset) as FloatNdArray;
}

/** True when the elements occupy data[offset .. offset+size) in row-major order. */
export function isContiguous(array: FloatNdArray): boolean {
  let expected = 1;
  for (let axis = array.shape.length - 1; axis >= 0; axis--) {
    const extent = array.shape[axis]!;
    if (extent !== 1 && array.stride[axis] !== expected) return false;
    expected *= extent;
  }
  return true;
}

/**
 * The elements in row-major order as a typed array: a subarray view when the ndarray is already
 * contiguous (do not write to it), otherwise a fresh copy.
 */
export function contiguousData(array: FloatNdArray): DataArray {
  const size = sizeOf(array.shape);
  if (isContiguous(array)) return array.data.subarray(array.offset, array.offset + size);
  const copy = createNd(dtypeOfNd(array), array.shape);
  if (size > 0) {
    if (array.shape.length === 0) copy.data[0] = array.data[array.offset]!;
    else ops.assign(copy, array);
  }
  return copy.data;
}
