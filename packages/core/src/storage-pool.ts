import type { DataArray, DType } from './dtype.js';
import { registerScratchRelease } from './kernels/scratch.js';

/**
 * Storage reuse where lifetimes are known. A fresh array costs a page fault per 4 KiB page on first
 * touch; arrays that a backward pass proves dead (autodiff.ts: an intermediate cotangent after its
 * VJP ran, allocated during that pass and referenced by nothing that lives on) are kept here by
 * dtype and length, and `allocate` hands them out again, zero-filled, instead of fresh memory.
 *
 * The backward pass returns only arrays allocated while it ran (`recordAllocations` collects them),
 * so user data, forward activations and anything allocated before the pass are never reused, and
 * a compiled program's arrays (`keepOutOfPool`) never enter the pool. Nothing here watches the
 * garbage collector.
 */

/** Arrays smaller than this come from the allocator's small-object memory, which is reused anyway. */
export const POOLED_MINIMUM_BYTES = 32768;
/** The most bytes the pool holds; arrays returned beyond it are left to the garbage collector. */
export const POOL_CAPACITY_BYTES = 128 * 1024 * 1024;

const free = new Map<string, DataArray[]>();
let pooledBytes = 0;
/** How many arrays were returned to the pool and taken from it since the process started (for tests). */
const counts = { returned: 0, taken: 0 };
let enabled = true;
/** The allocations of one backward pass (see recordAllocations). */
export interface AllocationRecord {
  allocated: WeakSet<DataArray>;
}

/** Arrays that a compiled program owns (compile/trace.ts): they never enter the pool. */
const programArrays = new WeakSet<DataArray>();

/** Marks an array as a compiled program's: `returnToPool` ignores it from now on. */
export function keepOutOfPool(array: DataArray): void {
  programArrays.add(array);
}

/** Whether an array was marked as a compiled program's (keepOutOfPool). */
export function keptOutOfPool(array: DataArray): boolean {
  return programArrays.has(array);
}

/** The records of the backward passes running now, innermost last. */
const records: AllocationRecord[] = [];

const keyOf = (dtype: DType, length: number): string => `${dtype}:${length}`;

function dtypeKey(array: DataArray): string {
  const dtype: DType = array instanceof Float64Array ? 'float64' : array instanceof Int32Array ? 'int32' : 'float32';
  return keyOf(dtype, array.length);
}

/** A dead array of this dtype and length, zero-filled, or null (then the caller allocates). */
export function takePooled(dtype: DType, length: number): DataArray | null {
  if (pooledBytes === 0) return null;
  const arrays = free.get(keyOf(dtype, length));
  const array = arrays?.pop();
  if (array === undefined) return null;
  pooledBytes -= array.byteLength;
  counts.taken++;
  array.fill(0);
  return array;
}

/** Notes an array that `allocate` just handed out, for the backward pass running now (if any). */
export function recordAllocation(array: DataArray): void {
  if (records.length > 0 && array.byteLength >= POOLED_MINIMUM_BYTES) records[records.length - 1]!.allocated.add(array);
}

/** The record of the innermost backward pass running now, or null. */
export function currentRecord(): AllocationRecord | null {
  return records.length > 0 ? records[records.length - 1]! : null;
}

/**
 * Takes an array back out of the current record: the storage of a tensor made before the pass
 * (a pending result computed during it) belongs to that tensor, not to the pass.
 */
export function forgetAllocation(array: DataArray): void {
  currentRecord()?.allocated.delete(array);
}

/** Runs fn collecting the arrays allocated meanwhile (not those of nested passes) into `record`. */
export function recordAllocations<T>(record: AllocationRecord, fn: () => T): T {
  records.push(record);
  try {
    return fn();
  } finally {
    records.pop();
  }
}

/**
 * Keeps a dead array for reuse. The caller has proved that nothing that lives on refers to its
 * storage (autodiff.ts); the array is one `allocate` made, so it spans its whole buffer.
 */
export function returnToPool(array: DataArray): void {
  if (!enabled || array.byteLength < POOLED_MINIMUM_BYTES || pooledBytes + array.byteLength > POOL_CAPACITY_BYTES || programArrays.has(array)) return;
  const key = dtypeKey(array);
  let arrays = free.get(key);
  if (arrays === undefined) {
    arrays = [];
    free.set(key, arrays);
  }
  arrays.push(array);
  pooledBytes += array.byteLength;
  counts.returned++;
}

function emptyPool(): void {
  free.clear();
  pooledBytes = 0;
}

registerScratchRelease('storage-pool', emptyPool);

/** Turns reuse on (the default) or off, emptying the pool; for tests that compare both. Library-internal. */
export function setStorageReuse(on: boolean): void {
  enabled = on;
  emptyPool();
}

/** How many arrays have been returned to the pool and taken from it so far (for tests). */
export function poolCounts(): { returned: number; taken: number } {
  return { ...counts };
}

/** How many bytes the pool holds now (for tests). */
export function pooledByteCount(): number {
  return pooledBytes;
}
