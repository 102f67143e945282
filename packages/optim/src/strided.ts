/**
 * Reading and writing the elements of a strided view (a scijs ndarray) in row-major order.
 * Optimizers update parameters in place through these two functions only; they make no
 * assumption about the view's offset or strides.
 */

/** The part of a scijs ndarray that the optimizers touch. */
export interface StridedView {
  readonly data: { [index: number]: number; readonly length: number };
  readonly shape: readonly number[];
  readonly stride: readonly number[];
  readonly offset: number;
}

/** Float storage for optimizer state, in the dtype of its parameter (as torch.optim keeps it). */
export type FloatArray = Float32Array | Float64Array;

function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const extent of shape) count *= extent;
  return count;
}

function isRowMajorContiguous(view: StridedView): boolean {
  let expected = 1;
  for (let axis = view.shape.length - 1; axis >= 0; axis--) {
    const extent = view.shape[axis] ?? 1;
    if (extent !== 1 && view.stride[axis] !== expected) return false;
    expected *= extent;
  }
  return true;
}

/** Positions in `view.data` of the elements of `view`, in row-major order. */
export function storagePositions(view: StridedView): Int32Array {
  const count = elementCount(view.shape);
  const positions = new Int32Array(count);
  if (isRowMajorContiguous(view)) {
    for (let k = 0; k < count; k++) positions[k] = view.offset + k;
    return positions;
  }
  const ndim = view.shape.length;
  const index = new Array<number>(ndim).fill(0);
  let position = view.offset;
  for (let k = 0; k < count; k++) {
    positions[k] = position;
    for (let axis = ndim - 1; axis >= 0; axis--) {
      const stride = view.stride[axis] ?? 0;
      const next = (index[axis] ?? 0) + 1;
      position += stride;
      if (next < (view.shape[axis] ?? 1)) {
        index[axis] = next;
        break;
      }
      position -= stride * next;
      index[axis] = 0;
    }
  }
  return positions;
}

/** The view's elements as a typed subarray when they are contiguous in typed storage (the common case), else null. */
export function contiguousElements(view: StridedView): FloatArray | null {
  if (!(view.data instanceof Float32Array || view.data instanceof Float64Array) || !isRowMajorContiguous(view)) return null;
  return view.data.subarray(view.offset, view.offset + elementCount(view.shape));
}

/**
 * A row-major float64 copy of the elements of `view`: a fresh array, or the front of `target`
 * when given (it must hold at least as many elements).
 */
export function readElements(view: StridedView, positions?: Int32Array, target?: Float64Array): Float64Array {
  const contiguous = positions === undefined ? contiguousElements(view) : null;
  const count = contiguous?.length ?? positions?.length ?? elementCount(view.shape);
  if (target !== undefined && target.length < count) throw new Error(`readElements: target holds ${target.length} elements, the view has ${count}`);
  const values = target === undefined ? new Float64Array(count) : target.subarray(0, count);
  if (contiguous !== null) {
    values.set(contiguous); // one native converting copy
    return values;
  }
  positions ??= storagePositions(view);
  for (let k = 0; k < positions.length; k++) values[k] = view.data[positions[k]!]!;
  return values;
}

/** Writes row-major `values` into the elements of `view`, in place. */
export function writeElements(view: StridedView, values: ArrayLike<number>, positions?: Int32Array): void {
  const contiguous = positions === undefined ? contiguousElements(view) : null;
  if (contiguous !== null && values.length === contiguous.length) {
    contiguous.set(values); // rounds to the storage dtype exactly as element-wise assignment does
    return;
  }
  positions ??= storagePositions(view);
  if (values.length !== positions.length) {
    throw new Error(`writeElements: ${values.length} values for a view of ${positions.length} elements`);
  }
  for (let k = 0; k < positions.length; k++) view.data[positions[k]!] = values[k]!;
}
