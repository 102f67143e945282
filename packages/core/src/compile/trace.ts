import ops from 'ndarray-ops';
import type { DataArray } from '../dtype.js';
import type { PendingElementwise } from '../fusion.js';
import { mapElementwise } from '../kernels/elementwise.js';
import { contiguousData, isContiguous, sizeOf, type FloatNdArray } from '../kernels/layout.js';
import type { PrimitiveDefinition } from '../primitive.js';
import { writeStorage } from '../storage.js';
import type { Tensor } from '../tensor.js';
import { setActiveRecorder, type Recorder } from './recorder.js';

/** The shape-only primitives, whose forward returns a view of the input where the layout allows (else a copy). */
const VIEW_PRIMITIVES: ReadonlySet<string> = new Set(['reshape', 'permute', 'broadcastTo', 'slice']);

/** One call of the replayed program: a kernel into a buffer of the trace, a write, an effect or a branch check. */
export type Step = () => void;

/** Thrown by a branch step whose decision differs from the trace's; `afterEffects` says whether writes or effects already ran. */
export class ReplayDiverged extends Error {
  constructor(readonly afterEffects: boolean) {
    super('compile: the replay took another branch on tensor values than the trace');
  }
}

/**
 * The recording of one trace. Every value the traced function computes lives in an array the
 * trace allocated (kernel outputs; shape-only ops are views of them), and the program is the
 * flat list of kernel calls that fill those arrays again, in the trace's order: a replay reuses
 * the same arrays (the static memory plan) and reads external storage (parameters, buffers,
 * optimizer state) where it is, so side effects that wrote it are part of the program.
 */
export class Trace implements Recorder {
  readonly steps: Step[] = [];
  /** JavaScript values the program depends on, and their values during the trace. */
  readonly guards: { read: () => unknown; value: unknown }[] = [];
  /** Leaves whose `.grad` the trace read before assigning it, with the value read. */
  readonly gradReads = new Map<Tensor, Tensor | null>();
  /** Leaves whose `.grad` the trace assigned, with the last value assigned. */
  readonly gradWrites = new Map<Tensor, Tensor | null>();
  /** The trace's copies of the tensor arguments: the function must not write into them or their `.grad`. */
  readonly argumentTensors = new Set<Tensor>();
  #effects = false;
  /** Pending results made during the trace; one made before it is a constant (its value was fixed when it was made). */
  readonly #pendingMadeHere = new WeakSet<PendingElementwise>();

  forward(definition: PrimitiveDefinition<unknown>, inputs: readonly FloatNdArray[], params: unknown, out: FloatNdArray): void {
    // a view of its input is resolved now: it views the same array on replay
    if (VIEW_PRIMITIVES.has(definition.name) && out.data.buffer === inputs[0]!.data.buffer) return;
    const kernelInputs = inputs.slice();
    this.steps.push(() => copyInto(out, definition.forward(kernelInputs, params)));
  }

  fusedForward(definition: PrimitiveDefinition<unknown>, input: PendingElementwise, params: unknown, out: FloatNdArray): void {
    const pending: PendingElementwise = { ...input, operands: input.operands.slice(), shape: input.shape.slice() };
    this.steps.push(() => copyInto(out, definition.fusedForward!(pending, params)));
  }

  settle(inputs: readonly Tensor[]): void {
    for (const input of inputs) {
      const pending = input.pendingElementwise;
      if (pending !== null && !this.#pendingMadeHere.has(pending)) void input.data;
    }
  }

  pending(pending: PendingElementwise): void {
    this.#pendingMadeHere.add(pending);
  }

  readsSnapshot(pending: PendingElementwise): void {
    if (this.#pendingMadeHere.has(pending)) {
      this.untraceable('a lazy result is read after a write into the storage it reads', 'a replay has no copy of the old contents; compute it before the write (e.g. read .data), or write after its last use');
    }
  }

  materialize(pending: PendingElementwise, out: FloatNdArray): void {
    if (!this.#pendingMadeHere.has(pending)) return;
    const { expression, dtype } = pending;
    const operands = pending.operands.slice();
    const target = out.data as Float32Array | Float64Array;
    this.steps.push(() => mapElementwise(expression, operands, dtype, target));
  }

  write(array: DataArray, write: () => void): void {
    for (const argument of this.argumentTensors) {
      if (argument.data.data.buffer === array.buffer) {
        this.untraceable('a write into the storage of an argument', 'a replay would write into the trace\'s copy of it; capture the tensor in the function\'s closure instead of passing it');
      }
    }
    eagerly(() => writeStorage(array, write));
    this.#effects = true;
    this.steps.push(() => writeStorage(array, write));
  }

  effect(run: () => void): void {
    eagerly(run);
    this.#effects = true;
    this.steps.push(run);
  }

  guard(read: () => unknown): void {
    this.guards.push({ read, value: read() });
  }

  branch(values: FloatNdArray, decide: (values: FloatNdArray) => boolean, taken: boolean): void {
    const afterEffects = this.#effects;
    this.steps.push(() => {
      if (decide(values) !== taken) throw new ReplayDiverged(afterEffects);
    });
  }

  readGrad(leaf: Tensor, current: Tensor | null): void {
    if (!this.gradWrites.has(leaf) && !this.gradReads.has(leaf)) this.gradReads.set(leaf, current);
  }

  writeGrad(leaf: Tensor, gradient: Tensor | null): void {
    if (this.argumentTensors.has(leaf)) {
      this.untraceable(`a gradient assigned to the .grad of an argument (shape [${leaf.shape.join(', ')}])`, 'capture the tensor in the function\'s closure instead of passing it, or call the compiled function under grad mode (it then runs eagerly)');
    }
    // a gradient is computed now, so the program fills its array (a lazy one would be computed, unrecorded, by whoever reads it)
    if (gradient !== null) void gradient.data;
    this.gradWrites.set(leaf, gradient);
  }

  untraceable(what: string, advice: string): never {
    throw new Error(`compile: ${what} while the function is traced; ${advice}`);
  }
}

/** Runs fn with no trace active (a recorded write or effect runs as in eager mode). */
function eagerly(fn: () => void): void {
  const recorder = setActiveRecorder(null);
  try {
    fn();
  } finally {
    setActiveRecorder(recorder);
  }
}

/** Copies a kernel's fresh result into the trace's array for that value. */
function copyInto(out: FloatNdArray, result: FloatNdArray): void {
  const size = sizeOf(out.shape);
  if (isContiguous(out) && out.offset === 0 && out.data.length === size) out.data.set(contiguousData(result) as never);
  else ops.assign(out, result);
}
