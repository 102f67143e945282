import { allocate, type DType, type FloatArray } from '../dtype.js';
import { createNd, dtypeOfNd, isContiguous, sizeOf, type FloatNdArray } from './layout.js';

/**
 * Visits the elements of several same-shaped (possibly strided, possibly stride-0 broadcast)
 * ndarrays in row-major order. `visit(outIndex, offsets)` is called once per innermost row with
 * the row length and each array's starting offset and innermost stride.
 */
function forEachRow(
  shape: readonly number[],
  arrays: readonly FloatNdArray[],
  visit: (outStart: number, length: number, offsets: number[], innerStrides: number[]) => void,
): void {
  const rank = shape.length;
  const size = sizeOf(shape);
  if (size === 0) return;
  if (rank === 0) {
    visit(0, 1, arrays.map((array) => array.offset), arrays.map(() => 0));
    return;
  }
  const inner = shape[rank - 1]!;
  const innerStrides = arrays.map((array) => array.stride[rank - 1]!);
  const offsets = arrays.map((array) => array.offset);
  const counter = new Array<number>(rank).fill(0);
  for (let outStart = 0; outStart < size; outStart += inner) {
    visit(outStart, inner, offsets, innerStrides);
    for (let axis = rank - 2; axis >= 0; axis--) {
      counter[axis]!++;
      for (let k = 0; k < arrays.length; k++) offsets[k]! += arrays[k]!.stride[axis]!;
      if (counter[axis]! < shape[axis]!) break;
      for (let k = 0; k < arrays.length; k++) offsets[k]! -= arrays[k]!.stride[axis]! * shape[axis]!;
      counter[axis] = 0;
    }
  }
}

export function mapUnary(x: FloatNdArray, fn: (value: number) => number, dtype: DType = dtypeOfNd(x)): FloatNdArray {
  const size = sizeOf(x.shape);
  const out = allocate(dtype, size);
  const source = x.data;
  if (isContiguous(x)) {
    const offset = x.offset;
    for (let i = 0; i < size; i++) out[i] = fn(source[offset + i]!);
  } else {
    forEachRow(x.shape, [x], (start, length, [offset], [stride]) => {
      for (let i = 0; i < length; i++) out[start + i] = fn(source[offset! + i * stride!]!);
    });
  }
  return createNd(dtype, x.shape, out);
}

export function mapBinary(
  a: FloatNdArray,
  b: FloatNdArray,
  fn: (left: number, right: number) => number,
): FloatNdArray {
  const size = sizeOf(a.shape);
  const dtype = dtypeOfNd(a);
  const out = allocate(dtype, size);
  const left = a.data;
  const right = b.data;
  if (isContiguous(a) && isContiguous(b)) {
    const offsetA = a.offset;
    const offsetB = b.offset;
    for (let i = 0; i < size; i++) out[i] = fn(left[offsetA + i]!, right[offsetB + i]!);
  } else {
    forEachRow(a.shape, [a, b], (start, length, [offsetA, offsetB], [strideA, strideB]) => {
      for (let i = 0; i < length; i++) out[start + i] = fn(left[offsetA! + i * strideA!]!, right[offsetB! + i * strideB!]!);
    });
  }
  return createNd(dtype, a.shape, out);
}

export function mapTernary(
  a: FloatNdArray,
  b: FloatNdArray,
  c: FloatNdArray,
  fn: (first: number, second: number, third: number) => number,
  dtype: DType,
): FloatNdArray {
  const out: FloatArray = allocate(dtype, sizeOf(a.shape));
  const [da, db, dc] = [a.data, b.data, c.data];
  forEachRow(a.shape, [a, b, c], (start, length, [oa, ob, oc], [sa, sb, sc]) => {
    for (let i = 0; i < length; i++) out[start + i] = fn(da[oa! + i * sa!]!, db[ob! + i * sb!]!, dc[oc! + i * sc!]!);
  });
  return createNd(dtype, a.shape, out);
}

/** Copies any (strided) ndarray into a fresh contiguous one, optionally converting the dtype. */
export function copyNd(x: FloatNdArray, dtype: DType = dtypeOfNd(x)): FloatNdArray {
  return mapUnary(x, (value) => value, dtype);
}
