import type { FloatNdArray } from '../kernels/layout.js';
import { describeValue } from '../creation.js';
import { checkOptions } from '../composite/validate.js';
import { Tensor } from '../tensor.js';
import { activeRecorder } from './recorder.js';

/**
 * Declares a JavaScript value that a compiled function's program depends on, such as a module's
 * `training` flag: a later call for which `read()` gives another value (compared with `===`)
 * traces the function again instead of replaying. Outside a trace it does nothing.
 */
export function traceGuard(read: () => unknown): void {
  checkFunction('traceGuard', 'read', read);
  activeRecorder?.guard(read);
}

/** What a traced effect reaches (see traceEffect). */
export interface TraceEffectOptions {
  /**
   * Every ndarray (a tensor's `.data`) through which the effect reads or writes tensors' values,
   * read through their `.data` when it runs; `[]` for an effect on JavaScript values only.
   */
  arrays?: readonly FloatNdArray[];
}

/**
 * Runs a JavaScript-side effect (e.g. `numBatchesTracked += 1`) now and, inside a function that
 * compile traces, again at the same point of every replay. An effect that declares the `arrays`
 * it reaches lets the compiled program read its arguments where they are and hand over its
 * results (compile moves those ndarrays' values with the others); without them the program copies
 * both, since the effect may read any array it captured.
 */
export function traceEffect(effect: () => void, options?: TraceEffectOptions): void {
  checkFunction('traceEffect', 'effect', effect);
  checkOptions('traceEffect', options, ['arrays']);
  const arrays = options?.arrays;
  if (arrays !== undefined && !(Array.isArray(arrays) && arrays.every(isNdArray))) {
    throw new Error(`traceEffect: arrays must be an array of ndarrays (tensors' .data), got ${describeValue(arrays)}`);
  }
  if (activeRecorder !== null) activeRecorder.effect(effect, arrays);
  else effect();
}

function isNdArray(value: unknown): value is FloatNdArray {
  return value !== null && typeof value === 'object' && ArrayBuffer.isView((value as { data?: unknown }).data) && Array.isArray((value as { shape?: unknown }).shape);
}

/**
 * A decision on a tensor's values (data-dependent control flow): `decide` receives the tensor's
 * data and reads nothing else (a compiled program may keep other values in other arrays by the
 * time it decides again). Under compile, replays decide again on the replayed values, and a replay
 * whose decision differs from the trace's does not continue (see compile).
 */
export function branchOnValues(tensor: Tensor, decide: (values: FloatNdArray) => boolean): boolean {
  if (!(tensor instanceof Tensor)) throw new Error(`branchOnValues: expected a Tensor, got ${describeValue(tensor)}`);
  checkFunction('branchOnValues', 'decide', decide);
  const values = tensor.data;
  const taken = decide(values);
  if (typeof taken !== 'boolean') throw new Error(`branchOnValues: decide must return a boolean, got ${describeValue(taken)}`);
  activeRecorder?.branch(values, decide, taken);
  return taken;
}

/** Whether compile is tracing a function right now (outside recorded writes and effects). */
export function isTracing(): boolean {
  return activeRecorder !== null;
}

function checkFunction(entryPoint: string, name: string, value: unknown): void {
  if (typeof value !== 'function') throw new Error(`${entryPoint}: ${name} must be a function, got ${describeValue(value)}`);
}
