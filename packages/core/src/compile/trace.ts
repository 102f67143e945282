import ops from 'ndarray-ops';
import { allocateFresh, dtypeOfArray, setAllocationSource, type DataArray, type DType } from '../dtype.js';
import type { PendingElementwise } from '../fusion.js';
import { prepareElementwise } from '../kernels/elementwise.js';
import { combinePreparedReductions, preparedReductionRows } from '../kernels/reduce.js';
import { contiguousData, isContiguous, sizeOf, type FloatNdArray } from '../kernels/layout.js';
import type { PrimitiveDefinition } from '../primitive.js';
import { writeStorage, type StorageAccess } from '../storage.js';
import { keepOutOfPool } from '../storage-pool.js';
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
 * the same arrays (each kernel's allocations served by its AllocationTape; a pure program may move
 * a value to another array, see `views`) and reads external storage (parameters, buffers,
 * optimizer state) where it is, so side effects that wrote it are part of the program.
 */
export class Trace implements Recorder {
  /** The program's steps in the trace's order, with what each computes and reads (TraceStep). */
  readonly #steps: TraceStep[] = [];
  /** JavaScript values the program depends on, and their values during the trace. */
  readonly guards: { read: () => unknown; value: unknown }[] = [];
  /** Leaves whose `.grad` the trace read before assigning it, with the value read. */
  readonly gradReads = new Map<Tensor, Tensor | null>();
  /** Leaves whose `.grad` the trace assigned, with the last value assigned. */
  readonly gradWrites = new Map<Tensor, Tensor | null>();
  /** The trace's copies of the tensor arguments: the function must not write into them or their `.grad`. */
  readonly argumentTensors = new Set<Tensor>();
  /**
   * Every ndarray the steps read or write, by the buffer it views: pointing all of a buffer's
   * views at another array moves that value there (see compile.ts's ValueArray).
   */
  readonly views = new Map<ArrayBufferLike, Set<FloatNdArray>>();
  /** The buffers whose contents a step computes again on every replay (kernel results, computed lazy results). */
  readonly computed = new Set<ArrayBufferLike>();
  /** The buffers of the arrays `allocate` made while the function ran (compile.ts watches): only those can be values the program computes. */
  readonly allocated = new WeakSet<ArrayBufferLike>();
  /** The buffers that writes write into (as they were during the trace). */
  readonly written = new Set<ArrayBufferLike>();
  /**
   * Whether some step may use arrays that are not in `views`: a write or an effect that did not
   * declare what it reaches (JavaScript that reads what it captured), or a kernel whose parameters
   * hold arrays or objects.
   */
  opaque = false;
  #effects = false;
  /** Pending results made during the trace; one made before it is a constant (its value was fixed when it was made). */
  readonly #pendingMadeHere = new WeakSet<PendingElementwise>();

  forward(definition: PrimitiveDefinition<unknown>, inputs: readonly FloatNdArray[], params: unknown, out: FloatNdArray): void {
    this.see([...inputs, out]);
    // a view of its input is resolved now: it views the same array on replay
    if (VIEW_PRIMITIVES.has(definition.name) && out.data.buffer === inputs[0]!.data.buffer) return;
    this.#kernel(params, inputs, out);
    const kernelInputs = inputs.slice();
    // the kernel is resolved now where the primitive allows it; it reads out.data and the inputs' data on every replay
    const prepared = definition.prepareForward?.(kernelInputs, params, out) ?? null;
    if (prepared !== null) {
      this.#pushKernel(prepared, kernelInputs, out);
      return;
    }
    const tape = new AllocationTape(out, kernelInputs);
    const kernel = (): FloatNdArray => definition.forward(kernelInputs, params);
    this.#pushKernel(() => copyInto(out, tape.run(kernel)), kernelInputs, out);
  }

  fusedForward(definition: PrimitiveDefinition<unknown>, input: PendingElementwise, params: unknown, out: FloatNdArray): void {
    const pending: PendingElementwise = { ...input, operands: input.operands.slice(), shape: input.shape.slice() };
    this.see([...pending.operands, out]);
    this.#kernel(params, pending.operands, out);
    // the kernel is resolved now where the reduction allows it; it reads out.data and the operands' data on every replay
    const prepared = definition.prepareFusedForward?.(pending, params, out) ?? null;
    if (prepared !== null) {
      this.#pushKernel(prepared, pending.operands, out);
      return;
    }
    const tape = new AllocationTape(out, pending.operands);
    const kernel = (): FloatNdArray => definition.fusedForward!(pending, params);
    this.#pushKernel(() => copyInto(out, tape.run(kernel)), pending.operands, out);
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
    this.see([...operands, out]);
    if (this.allocated.has(out.data.buffer)) this.computed.add(out.data.buffer);
    // the loop is resolved now; it reads out.data and the operands' data on every replay (a value may move to another array between replays)
    this.#pushKernel(prepareElementwise(expression, operands, dtype, out), operands, out);
  }

  /**
   * A kernel step: it computes `out` from `inputs` when the trace allocated out's array (a kernel
   * is a function of its inputs and parameters: random draws are untraceable, and parameters that
   * hold objects make the program opaque); into any other array it runs as a write does.
   */
  #pushKernel(run: Step, inputs: readonly FloatNdArray[], out: FloatNdArray): void {
    const buffer = out.data.buffer;
    this.#steps.push({ run, computes: this.allocated.has(buffer) ? buffer : null, reads: inputs.map((input) => input.data.buffer) });
  }

  /**
   * The steps a replay runs to compute the arrays of `needed` (results, gradients) and every write,
   * effect and branch, in the trace's order: a kernel step whose array no later step reads and
   * that is not needed (a loss whose gradient alone is returned) is left out, and WebAssembly
   * reductions over the same rows run as one step (combineReductions). An opaque program
   * (steps that may read arrays the trace did not see) runs every step as it was traced.
   */
  program(needed: Iterable<ArrayBufferLike>): Step[] {
    if (this.opaque) return this.#steps.map((step) => step.run);
    const read = new Set(needed);
    const live: TraceStep[] = [];
    for (let k = this.#steps.length - 1; k >= 0; k--) {
      const step = this.#steps[k]!;
      if (step.computes !== null && !read.has(step.computes)) continue;
      // a needed array stays needed above its step: an earlier step may compute another part of it
      for (const buffer of step.reads) read.add(buffer);
      live.push(step);
    }
    return combineReductions(live.reverse());
  }

  /** Notes ndarrays that steps (or the program's arguments and results) use (see `views`). */
  see(arrays: readonly FloatNdArray[]): void {
    for (const array of arrays) {
      const buffer = array.data.buffer;
      let views = this.views.get(buffer);
      if (views === undefined) {
        views = new Set();
        this.views.set(buffer, views);
      }
      views.add(array);
    }
  }

  /**
   * A kernel step computes `out` if the kernel allocated its array (not an input's or one it kept);
   * parameters holding arrays or objects make the program opaque.
   */
  #kernel(params: unknown, inputs: readonly FloatNdArray[], out: FloatNdArray): void {
    const buffer = out.data.buffer;
    if (this.allocated.has(buffer) && inputs.every((input) => input.data.buffer !== buffer)) this.computed.add(buffer);
    if (holdsReferences(params)) this.opaque = true;
  }

  write(array: DataArray, write: () => void, access?: StorageAccess): void {
    for (const argument of this.argumentTensors) {
      if (argument.data.data.buffer === array.buffer) {
        this.untraceable('a write into the storage of an argument', 'a replay would write into the trace\'s copy of it; capture the tensor in the function\'s closure instead of passing it');
      }
    }
    eagerly(() => writeStorage(array, write));
    this.#effects = true;
    this.written.add(array.buffer);
    if (access === undefined) {
      this.opaque = true;
      this.#steps.push({ run: () => writeStorage(array, write), computes: null, reads: [] });
      return;
    }
    // the write reaches values only through these ndarrays, so a value that moves moves for it too
    const { target, reads } = access;
    this.see([target, ...reads]);
    this.#steps.push({ run: () => writeStorage(target.data, write), computes: null, reads: [target, ...reads].map((array) => array.data.buffer) });
  }

  effect(run: () => void, arrays?: readonly FloatNdArray[]): void {
    eagerly(run);
    this.#effects = true;
    if (arrays === undefined) this.opaque = true;
    else this.see(arrays);
    this.#steps.push({ run, computes: null, reads: (arrays ?? []).map((array) => array.data.buffer) });
  }

  guard(read: () => unknown): void {
    this.guards.push({ read, value: read() });
  }

  branch(values: FloatNdArray, decide: (values: FloatNdArray) => boolean, taken: boolean): void {
    const afterEffects = this.#effects;
    // decide reads only the values it is given (hooks.ts)
    this.see([values]);
    this.#steps.push({
      run: () => {
        if (decide(values) !== taken) throw new ReplayDiverged(afterEffects);
      },
      computes: null,
      reads: [values.data.buffer],
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

/** A step of a trace, with the buffer it computes (null: a write, an effect, a branch or a kernel into an array the trace did not allocate) and the buffers it reads. */
interface TraceStep {
  run: Step;
  computes: ArrayBufferLike | null;
  reads: readonly ArrayBufferLike[];
}

/** How many later steps combineReductions looks through for reductions to run with one, and how many it runs as one. */
const COMBINE_WINDOW = 16;
const COMBINED_MOST = 4;

/**
 * The steps' runs, where a WebAssembly reduction and later ones over the same rows
 * (reduce.ts's preparedReductionRows) run as one step at the first one's place
 * (combinePreparedReductions: an array they all read is staged once). A later reduction joins only
 * if moving it up changes nothing: no step from the first one on computes an array it reads, or
 * reads or computes its result, and no write, effect or branch lies between.
 */
function combineReductions(steps: readonly TraceStep[]): Step[] {
  const runs: Step[] = [];
  const moved = new Set<number>();
  for (let first = 0; first < steps.length; first++) {
    if (moved.has(first)) continue;
    const step = steps[first]!;
    const rows = preparedReductionRows(step.run);
    if (rows === null || step.computes === null) {
      runs.push(step.run);
      continue;
    }
    const group = [first];
    const computedSince = new Set([step.computes]);
    const readSince = new Set(step.reads);
    for (let later = first + 1; later < steps.length && later <= first + COMBINE_WINDOW && group.length < COMBINED_MOST; later++) {
      if (moved.has(later)) continue;
      const { run, computes, reads } = steps[later]!;
      if (computes === null) break;
      const joins = preparedReductionRows(run) === rows && !computedSince.has(computes) && !readSince.has(computes) && reads.every((buffer) => !computedSince.has(buffer));
      if (joins) group.push(later);
      computedSince.add(computes);
      for (const buffer of reads) readSince.add(buffer);
    }
    const combined = group.length > 1 ? combinePreparedReductions(group.map((k) => steps[k]!.run)) : null;
    if (combined === null) {
      runs.push(step.run);
      continue;
    }
    for (const k of group) moved.add(k);
    runs.push(combined);
  }
  return runs;
}

/** Whether kernel parameters hold anything but numbers, strings, booleans and plain arrays and objects of them. */
function holdsReferences(value: unknown, depth = 6): boolean {
  if (typeof value === 'function') return true;
  if (value === null || typeof value !== 'object') return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== Array.prototype && prototype !== null) return true;
  return depth === 0 || Object.values(value).some((item) => holdsReferences(item, depth - 1));
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

/**
 * The static memory plan of one kernel step: the arrays its kernel allocates. The step's first
 * replay records the kernel's `allocate` calls in order (fresh arrays, kept out of the storage
 * pool), and the one that holds the kernel's result is replaced by the trace's array for that
 * value; later replays hand the same arrays, zero-filled, to the same calls, so the kernel writes
 * its result straight into the trace's array. A call that differs from the tape (another dtype
 * or length, or one more call) gets a fresh array, and the step copies the result in.
 */
export class AllocationTape {
  /** The recorded arrays; null stands for the trace's array for the result, `out.data` (a value may move between replays). */
  #arrays: (DataArray | null)[] | null = null;

  /** `out` is the trace's array for the kernel's result; `inputs` are what the kernel reads. */
  constructor(
    private readonly out: FloatNdArray,
    private readonly inputs: readonly FloatNdArray[],
  ) {}

  /** Runs the kernel with its allocations served from (or, the first time, recorded on) the tape. */
  run(kernel: () => FloatNdArray): FloatNdArray {
    return this.#arrays === null ? this.#record(kernel) : this.#serve(kernel);
  }

  /** Runs the kernel with the tape's arrays, zero-filled as `allocate` promises. */
  #serve(kernel: () => FloatNdArray): FloatNdArray {
    this.#next = 0;
    const previous = setAllocationSource(this.#source);
    this.#otherwise = previous ?? allocateFresh;
    try {
      return kernel();
    } finally {
      setAllocationSource(previous);
    }
  }

  /** The position of the next `allocate` call on the tape while it serves a kernel; -1 once a call differed from the tape. */
  #next = 0;
  /** The allocation source in place before the tape served (allocateFresh when none). */
  #otherwise: (dtype: DType, length: number) => DataArray = allocateFresh;
  /** `allocate`'s source while the tape serves a kernel (one function for all replays). */
  readonly #source = (dtype: DType, length: number): DataArray => {
    const entry = this.#next < 0 ? undefined : this.#arrays![this.#next];
    const array = entry === null ? this.out.data : entry;
    if (array === undefined || array.length !== length || dtypeOfArray(array) !== dtype) {
      this.#next = -1;
      return this.#otherwise(dtype, length);
    }
    this.#next++;
    array.fill(0);
    return array;
  };

  #record(kernel: () => FloatNdArray): FloatNdArray {
    const recorded: (DataArray | null)[] = [];
    const result = withAllocationSource((dtype, length, otherwise) => {
      const array = otherwise(dtype, length);
      keepOutOfPool(array);
      recorded.push(array);
      return array;
    }, kernel);
    const at = recorded.indexOf(result.data);
    const out = this.out;
    // the trace's array can take the result's place when the kernel lays the result out in a whole array just like it
    const servable = at >= 0 && out.offset === 0 && spansBuffer(out.data) &&
      out.data.length === result.data.length && dtypeOfArray(out.data) === dtypeOfArray(result.data) && sameLayout(out, result) &&
      this.inputs.every((input) => input.data.buffer !== out.data.buffer);
    if (servable) {
      keepOutOfPool(out.data);
      recorded[at] = null;
    }
    this.#arrays = recorded;
    return result;
  }
}

type AllocationSource = (dtype: DType, length: number, otherwise: (dtype: DType, length: number) => DataArray) => DataArray;

/** Runs fn with `allocate` answered by `source`, which may defer to the source set before (or allocateFresh). */
export function withAllocationSource<T>(source: AllocationSource, fn: () => T): T {
  const otherwise = setAllocationSource(null) ?? allocateFresh;
  setAllocationSource((dtype, length) => source(dtype, length, otherwise));
  try {
    return fn();
  } finally {
    setAllocationSource(otherwise === allocateFresh ? null : otherwise);
  }
}

/** Whether an array is the whole of its buffer. */
export function spansBuffer(array: DataArray): boolean {
  return array.byteOffset === 0 && array.byteLength === array.buffer.byteLength;
}

function sameLayout(a: FloatNdArray, b: FloatNdArray): boolean {
  return a.offset === b.offset && a.shape.length === b.shape.length && a.shape.every((extent, axis) => extent === b.shape[axis] && (extent === 1 || a.stride[axis] === b.stride[axis]));
}

/** Copies a kernel's result into the trace's array for that value (nothing to do when the kernel wrote it there). */
export function copyInto(out: FloatNdArray, result: FloatNdArray): void {
  if (result.data === out.data && sameLayout(out, result)) return;
  const size = sizeOf(out.shape);
  if (isContiguous(out) && out.offset === 0 && out.data.length === size) out.data.set(contiguousData(result) as never);
  else ops.assign(out, result);
}
