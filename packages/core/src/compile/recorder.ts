import type { DataArray } from '../dtype.js';
import type { FloatNdArray } from '../kernels/layout.js';
import type { PendingElementwise } from '../fusion.js';
import type { PrimitiveDefinition } from '../primitive.js';
import type { StorageAccess } from '../storage.js';
import type { Tensor } from '../tensor.js';

/**
 * What `compile` (compile.ts) records while it traces a function: the hooks that the kernels'
 * callers (primitive.ts, tensor.ts, storage.ts, creation.ts) call while a trace is active. When no
 * trace is active, `activeRecorder` is null and every hook is a single null check.
 */
export interface Recorder {
  /** A primitive's forward kernel computed `out` from `inputs`. */
  forward(definition: PrimitiveDefinition<unknown>, inputs: readonly FloatNdArray[], params: unknown, out: FloatNdArray): void;
  /** A reduction computed `out` straight from a pending elementwise input. */
  fusedForward(definition: PrimitiveDefinition<unknown>, input: PendingElementwise, params: unknown, out: FloatNdArray): void;
  /**
   * Called with a primitive's inputs before it runs: computes those that are pending results made
   * before the trace (state whose value was fixed then), so the program reads their arrays rather
   * than inlining their expressions.
   */
  settle(inputs: readonly Tensor[]): void;
  /** A pending elementwise result was made (only those made during the trace are values of the program). */
  pending(pending: PendingElementwise): void;
  /** A pending result reads the old contents of storage written since it was made: an Error if it was made during the trace. */
  readsSnapshot(pending: PendingElementwise): void;
  /** A pending elementwise result was computed into `out`. */
  materialize(pending: PendingElementwise, out: FloatNdArray): void;
  /** A write into existing storage (storage.ts's writeStorage), with what it reaches if declared: recorded, then run. */
  write(array: DataArray, write: () => void, access?: StorageAccess): void;
  /** A JavaScript-side effect that every replay repeats at this point (see `traceEffect`), with the ndarrays it reaches if declared. */
  effect(run: () => void, arrays?: readonly FloatNdArray[]): void;
  /** A JavaScript value the program depends on; a call where `read()` gives another value traces again. */
  guard(read: () => unknown): void;
  /** A branch taken on a tensor's values; replays check that the same branch is taken. */
  branch(values: FloatNdArray, decide: (values: FloatNdArray) => boolean, taken: boolean): void;
  /** A leaf's `.grad` is read or assigned. */
  readGrad(leaf: Tensor, current: Tensor | null): void;
  writeGrad(leaf: Tensor, gradient: Tensor | null): void;
  /** Something the trace cannot replay (reading values into JavaScript, random draws): throws an Error naming compile. */
  untraceable(what: string, advice: string): never;
}

/** The recorder of the trace in progress, or null (also while a recorded write or effect runs). */
export let activeRecorder: Recorder | null = null;

export function setActiveRecorder(recorder: Recorder | null): Recorder | null {
  const previous = activeRecorder;
  activeRecorder = recorder;
  return previous;
}
