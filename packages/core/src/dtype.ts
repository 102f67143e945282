import { recordAllocation, takePooled } from './storage-pool.js';

/** The element types a tensor can hold. float32 is the training default; float64 is for gradient checks; int32 holds indices. */
export type DType = 'float32' | 'float64' | 'int32';

/** The dtypes of values that are differentiated. */
export type FloatDType = 'float32' | 'float64';

export type FloatArray = Float32Array | Float64Array;

/** A tensor's storage: a float array, or an Int32Array for int32 tensors (indices). */
export type DataArray = FloatArray | Int32Array;

export const DTYPES: readonly DType[] = ['float32', 'float64', 'int32'];

export function isDType(value: unknown): value is DType {
  return value === 'float32' || value === 'float64' || value === 'int32';
}

/**
 * Where `allocate` gets arrays while compile replays a kernel (compile/trace.ts: the arrays that
 * kernel allocated before); null otherwise.
 */
let allocationSource: ((dtype: DType, length: number) => DataArray) | null = null;

/** Sets the source of `allocate`'s arrays (null: allocateFresh); returns the previous one. Library-internal. */
export function setAllocationSource(source: ((dtype: DType, length: number) => DataArray) | null): ((dtype: DType, length: number) => DataArray) | null {
  const previous = allocationSource;
  allocationSource = source;
  return previous;
}

/** A zero-filled typed array of the given dtype: from the allocation source if one is set, else from allocateFresh. */
export function allocate(dtype: DType, length: number): DataArray {
  return allocationSource !== null ? allocationSource(dtype, length) : allocateFresh(dtype, length);
}

/** A zero-filled typed array of the given dtype: a dead one from the storage pool (storage-pool.ts) when it has one. */
export function allocateFresh(dtype: DType, length: number): DataArray {
  const array = takePooled(dtype, length)
    ?? (dtype === 'float64' ? new Float64Array(length) : dtype === 'int32' ? new Int32Array(length) : new Float32Array(length));
  recordAllocation(array);
  return array;
}

interface NodeBuffer {
  buffer: ArrayBuffer;
}

/** Node's Buffer.allocUnsafeSlow (memory of its own, not zero-filled), or undefined outside Node. */
const allocateUninitializedBytes = (globalThis as { Buffer?: { allocUnsafeSlow?: (size: number) => NodeBuffer } }).Buffer?.allocUnsafeSlow;

/**
 * A typed array for a kernel that writes every element before anything reads it: as `allocate`,
 * except that fresh memory is not zero-filled first where the runtime can skip that (Node), so the
 * kernel's write is the only pass over it.
 */
export function allocateForOverwrite(dtype: DType, length: number): DataArray {
  if (allocationSource !== null || allocateUninitializedBytes === undefined) return allocate(dtype, length);
  const Type = dtype === 'float64' ? Float64Array : dtype === 'int32' ? Int32Array : Float32Array;
  const array = takePooled(dtype, length) ?? new Type(allocateUninitializedBytes(length * Type.BYTES_PER_ELEMENT).buffer, 0, length);
  recordAllocation(array);
  return array;
}

export function dtypeOfArray(array: DataArray): DType {
  return array instanceof Float64Array ? 'float64' : array instanceof Int32Array ? 'int32' : 'float32';
}
