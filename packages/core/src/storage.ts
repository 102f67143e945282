import type { DataArray } from './dtype.js';

/**
 * Storage bookkeeping for value semantics: the one in-place path of the library.
 *
 * A lazy (pending) elementwise result reads its operands' storage when it is computed, which may
 * be later than the op that made it returned. `writeStorage` — through which `assignInPlace`,
 * `elementwiseInto`, `loadStateDict`, running-statistics updates and optimizer steps all write —
 * first computes every pending result that reads the storage, so a tensor's value is fixed when
 * the op that made it returns. Then it writes and bumps the storage's version; the autodiff graph
 * records the versions of the tensors an op saved, and backward through the op after its saved
 * tensor was written is an Error (autodiff.ts), as in PyTorch.
 *
 * Storage is identified by its ArrayBuffer, so views (reshape, permute, slice, detach) share the
 * storage, its version and its writes, as PyTorch's views do.
 */

/** What a pending reader must be able to do: compute its value now. */
export interface PendingReader {
  computePending(): void;
}

interface Readers {
  refs: Set<WeakRef<PendingReader>>;
  /** Size at which dead references (readers collected while pending) are swept out. */
  sweepAt: number;
}

const versions = new WeakMap<ArrayBufferLike, number>();
const readersOf = new WeakMap<ArrayBufferLike, Readers>();

/** How many times the storage behind `array` has been written in place. */
export function storageVersion(array: DataArray): number {
  return versions.get(array.buffer) ?? 0;
}

/** Records that `reader` (a pending result) reads the given arrays; returns the handle to unregister it. */
export function registerPendingReader(reader: PendingReader, arrays: readonly DataArray[]): () => void {
  const ref = new WeakRef(reader);
  const buffers = [...new Set(arrays.map((array) => array.buffer))];
  for (const buffer of buffers) {
    let readers = readersOf.get(buffer);
    if (readers === undefined) {
      readers = { refs: new Set(), sweepAt: 64 };
      readersOf.set(buffer, readers);
    }
    readers.refs.add(ref);
    if (readers.refs.size >= readers.sweepAt) {
      for (const known of readers.refs) if (known.deref() === undefined) readers.refs.delete(known);
      readers.sweepAt = Math.max(64, 2 * readers.refs.size);
    }
  }
  return () => {
    for (const buffer of buffers) readersOf.get(buffer)?.refs.delete(ref);
  };
}

/**
 * Writes into the storage behind `array`: computes every pending result that reads it, runs
 * `write`, and bumps the storage's version.
 */
export function writeStorage(array: DataArray, write: () => void): void {
  const buffer = array.buffer;
  const readers = readersOf.get(buffer);
  if (readers !== undefined && readers.refs.size > 0) {
    for (const ref of [...readers.refs]) ref.deref()?.computePending();
    readers.refs.clear();
  }
  write();
  versions.set(buffer, (versions.get(buffer) ?? 0) + 1);
}
