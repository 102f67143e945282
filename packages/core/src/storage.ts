import type { DataArray } from './dtype.js';
import type { FloatNdArray } from './kernels/layout.js';
import { activeRecorder } from './compile/recorder.js';

/**
 * Storage bookkeeping for value semantics: the one in-place path of the library.
 *
 * A lazy (pending) elementwise result reads its operands' storage when it is computed, which may
 * be later than the op that made it returned. `writeStorage` — through which `assignInPlace`,
 * `elementwiseInto`, `loadStateDict`, running-statistics updates and optimizer steps all write —
 * first keeps the storage's old contents for the pending results that may still read it (see
 * `StorageCell`), so a tensor's value is fixed when the op that made it returns. Then it writes
 * and bumps the storage's version; the autodiff graph
 * records the versions of the tensors an op saved, and backward through the op after its saved
 * tensor was written is an Error (autodiff.ts), as in PyTorch.
 *
 * Storage is identified by its ArrayBuffer, so views (reshape, permute, slice, detach) share the
 * storage, its version and its writes, as PyTorch's views do.
 */

/**
 * The contents of one storage between two writes, as pending results read them. A write into
 * storage that pending results may still read copies its old contents into the current cell's
 * snapshot and starts a new cell; a pending result that held the old cell then reads the snapshot.
 * Only pending results hold old cells, so a cell and its snapshot are freed with them.
 */
export interface StorageCell {
  /** Pending results registered on this cell and not computed yet (some may be unreachable already). */
  readers: number;
  /** The storage's contents before the write that retired this cell; null while the cell is current. */
  snapshot: ArrayBuffer | null;
}

const versions = new WeakMap<ArrayBufferLike, number>();
const currentCells = new WeakMap<ArrayBufferLike, StorageCell>();

/** How many times the storage behind `array` has been written in place. */
export function storageVersion(array: DataArray): number {
  return versions.get(array.buffer) ?? 0;
}

/** Records that a pending result reads each of the arrays; returns their current cells (in order). */
export function registerPendingReader(arrays: readonly DataArray[]): StorageCell[] {
  const cells: StorageCell[] = [];
  for (const array of arrays) {
    let cell = currentCells.get(array.buffer);
    if (cell === undefined) {
      cell = { readers: 0, snapshot: null };
      currentCells.set(array.buffer, cell);
    }
    // each cell counts this result once, however many of its operands share the storage
    if (!cells.includes(cell)) cell.readers++;
    cells.push(cell);
  }
  return cells;
}

/** Whether pending results may still read the storage behind `array` (some may be unreachable already). */
export function mayHavePendingReaders(array: DataArray): boolean {
  return (currentCells.get(array.buffer)?.readers ?? 0) > 0;
}

/** A pending result registered on these cells no longer reads them (it was computed, or it reads snapshots now). */
export function releasePendingReader(cells: readonly StorageCell[]): void {
  cells.forEach((cell, k) => {
    if (cells.indexOf(cell) === k) cell.readers--;
  });
}

/** The array as a pending result registered on `cell` must read it: the array itself, or its snapshot after a write. */
export function contentsAt<A extends DataArray>(array: A, cell: StorageCell): A {
  if (cell.snapshot === null) return array;
  const Constructor = array.constructor as new (buffer: ArrayBuffer, byteOffset: number, length: number) => A;
  return new Constructor(cell.snapshot, array.byteOffset, array.length);
}

/**
 * What a write reaches: `target` views the array it writes (`array` of writeStorage), and `reads`
 * are the ndarrays through which it reads tensors' values. The write reaches them only through
 * these ndarrays' `.data`, read when it runs; other arrays it reads or writes (an optimizer's state)
 * belong to no tensor that a compiled program computes or takes as an argument. Under compile a
 * write that declares its access lets the program move values between arrays (compile.ts's
 * ValueArray re-points these ndarrays too), where an undeclared one makes it copy them.
 */
export interface StorageAccess {
  target: FloatNdArray;
  reads: readonly FloatNdArray[];
}

/**
 * Writes into the storage behind `array`: if pending results may still read it, its contents are
 * kept for them first (a copy), then `write` runs and the storage's version is bumped. `access`
 * declares what the write reaches (see StorageAccess); `access.target.data` must be `array`.
 */
export function writeStorage(array: DataArray, write: () => void, access?: StorageAccess): void {
  if (access !== undefined && access.target.data !== array) throw new Error('writeStorage: access.target must view the written array (access.target.data === array)');
  // while compile traces, the write is recorded (and replayed by running `write` again)
  if (activeRecorder !== null) return activeRecorder.write(array, write, access);
  const buffer = array.buffer;
  const cell = currentCells.get(buffer);
  if (cell !== undefined && cell.readers > 0) {
    cell.snapshot = (buffer as ArrayBuffer).slice(0);
    currentCells.delete(buffer);
  }
  write();
  versions.set(buffer, (versions.get(buffer) ?? 0) + 1);
}
