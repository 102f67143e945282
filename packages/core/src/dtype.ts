/** The element types a tensor can hold. float32 is the training default; float64 is for gradient checks. */
export type DType = 'float32' | 'float64';

export type FloatArray = Float32Array | Float64Array;

export const DTYPES: readonly DType[] = ['float32', 'float64'];

export function isDType(value: unknown): value is DType {
  return value === 'float32' || value === 'float64';
}

/** A zero-filled typed array of the given dtype. */
export function allocate(dtype: DType, length: number): FloatArray {
  return dtype === 'float64' ? new Float64Array(length) : new Float32Array(length);
}

export function dtypeOfArray(array: FloatArray): DType {
  return array instanceof Float64Array ? 'float64' : 'float32';
}
