import { isGradEnabled } from '../grad-mode.js';
import { E } from '../kernels/expr.js';
import { copyNd, mapElementwise } from '../kernels/elementwise.js';
import { contiguousData, createNd, dtypeOfNd, isContiguous, type FloatNdArray } from '../kernels/layout.js';
import { allocate, allocateFresh, dtypeOfArray, type DataArray, type FloatArray } from '../dtype.js';
import { settings } from '../settings.js';
import { Tensor } from '../tensor.js';
import { isForwardModeActive } from '../transforms/forward-mode.js';
import { describeValue } from '../creation.js';
import { checkOptions } from '../composite/validate.js';
import { writeStorage } from '../storage.js';
import { keepOutOfPool, keptOutOfPool } from '../storage-pool.js';
import ndarray from 'ndarray';
import { mapLeaves } from '../transforms/records.js';
import { activeRecorder, setActiveRecorder } from './recorder.js';
import { ReplayDiverged, Trace, copyInto, spansBuffer, withAllocationSource, type Step } from './trace.js';

/** How many traces a compiled function keeps per input signature (calls that differ only in guarded values). */
const TRACES_PER_SIGNATURE = 4;

/** Options of `compile`. */
export interface CompileOptions {
  /**
   * Each replay writes its results into the result tensors of the trace's previous call, in place,
   * and returns those same tensors (default false: every call returns new tensors in new arrays).
   * Views of them see the new values; lazy results computed from them keep theirs, and backward
   * through an op that saved one is an Error (storage.ts), as after any in-place write.
   */
  refillResults?: boolean;
}

/** The recorded program of one trace, or 'eager' when its results must keep their graph. */
interface Entry {
  guards: Trace['guards'];
  gradReads: Trace['gradReads'];
  program: Program | 'eager';
}

interface Program {
  /** Per argument: the array the trace's copy of a tensor argument lives in (null for other arguments). */
  argumentArrays: (FloatArray | null)[];
  /** Per argument: its value, which a replay moves to the caller's array where it can (null: copied; see Trace.opaque). */
  argumentValues: (ValueArray | null)[];
  /** The values of results that the caller receives without a copy. */
  resultValues: ValueArray[];
  /** The buffers the program's writes write into: an argument in one of them is copied, as it was before the write. */
  written: ReadonlySet<ArrayBufferLike>;
  steps: Step[];
  gradWrites: [Tensor, Tensor | null][];
  /**
   * The function's result with each tensor in it replaced by the program's value: its array handed
   * over (then the value moves to a fresh array), or a copy; with refillResults, the same tensors
   * on every call, refilled.
   */
  result: () => unknown;
  /** With refillResults: marks the result tensors as written (storage.ts), before a replay writes them. */
  beforeRefill: () => void;
  /** With refillResults: writes the values of an eager call's result into the result tensors and returns them. */
  refillFrom: (eagerResult: unknown) => unknown;
}

/**
 * Traces `fn` once per input signature and replays the recorded program on later calls.
 *
 * The signature is each argument's dtype, shape and requiresGrad (other arguments — numbers,
 * booleans, strings — by value), the grad mode and the settings, plus the JavaScript values the
 * trace declared through `traceGuard` (nn modules declare `training`). The trace runs `fn` once
 * as eager code, with chains of elementwise ops fused at every size, and records the kernels it
 * runs: fused elementwise loops, reductions (from their fused inputs from the fusion threshold up,
 * as in eager mode, whose order of summation they keep), the other primitives' kernels,
 * and every write into existing storage (running statistics, optimizer steps, `assignInPlace`),
 * which a replay runs again; it leaves out the kernels of values that neither its results, nor the
 * gradients it assigns, nor a write, effect or branch read (Trace.program). Shape-only ops are views, resolved then. Every value lives in an
 * array of the program, and each kernel gets back on replay the arrays it allocated before (the
 * memory plan, trace.ts's AllocationTape). Results have no history, and a later call never changes
 * them: a program hands over the arrays of its computed results and reads contiguous arguments
 * where they are, unless some step may reach arrays the trace did not see (a write or an effect
 * that does not declare what it reaches, a kernel whose parameters hold objects: Trace.opaque), in
 * which case it copies both. A leaf whose `.grad` the trace assigned gets the same gradient tensor
 * after every replay, refilled in place (as PyTorch accumulates into `.grad`), so gradients stay
 * where they are and a result that is one is a copy; lazy results computed from it earlier keep
 * their values. With `refillResults`, a replay writes its results into the result tensors of the
 * trace's previous call instead, in place, and returns them (CompileOptions). See docs/core.md for
 * what cannot be traced.
 */
export function compile<Args extends unknown[], Result>(fn: (...args: Args) => Result, options: CompileOptions = {}): (...args: Args) => Result {
  if (typeof fn !== 'function') throw new Error(`compile: expected a function, got ${describeValue(fn)}`);
  checkOptions('compile', options, ['refillResults']);
  const refillResults = options.refillResults ?? false;
  if (typeof refillResults !== 'boolean') throw new Error(`compile: refillResults must be a boolean, got ${describeValue(refillResults)}`);
  const cache = new Map<string, Entry[]>();
  return (...args: Args): Result => {
    const signature = signatureOf(args);
    // inside another trace, the body is part of that trace; forward-mode tangents and inputs that
    // require grad (whose results must stay differentiable) run eagerly
    if (activeRecorder !== null || isForwardModeActive() || (isGradEnabled() && args.some((arg) => arg instanceof Tensor && arg.requiresGrad))) {
      return fn(...args);
    }
    const entries = cache.get(signature) ?? [];
    const entry = entries.find((candidate) => guardsHold(candidate));
    if (entry === undefined) {
      const { result, entry: traced } = trace(fn, args, refillResults);
      entries.push(traced);
      if (entries.length > TRACES_PER_SIGNATURE) entries.shift();
      cache.set(signature, entries);
      return result;
    }
    if (entry.program === 'eager') return fn(...args);
    try {
      return replay(entry.program, args) as Result;
    } catch (error) {
      if (!(error instanceof ReplayDiverged)) throw error;
      if (error.afterEffects) {
        throw new Error(
          'compile: this call took another branch on tensor values than the traced call (e.g. a variance beyond the range where squares are exact) ' +
            'after the replay had already written state (running statistics, parameters); those writes have happened. Run this step eagerly (call the function without compile)',
        );
      }
      return refillResults ? entry.program.refillFrom(fn(...args)) as Result : fn(...args);
    }
  };
}

function guardsHold(entry: Entry): boolean {
  return entry.guards.every((guard) => guard.read() === guard.value) && [...entry.gradReads].every(([leaf, value]) => leaf.grad === value);
}

/** The key of the arguments' signature, with the grad mode and the settings; an Error for arguments compile cannot key. */
function signatureOf(args: readonly unknown[]): string {
  const parts = args.map((arg, index) => {
    if (arg instanceof Tensor) return `${arg.dtype}[${arg.shape.join(',')}]${arg.requiresGrad ? ' requiresGrad' : ''}`;
    if (typeof arg === 'number') return `number ${Object.is(arg, -0) ? '-0' : String(arg)}`;
    if (typeof arg === 'boolean' || typeof arg === 'string' || arg === undefined || arg === null) return `${typeof arg} ${JSON.stringify(arg)}`;
    throw new Error(
      `compile: argument ${index} is ${describeValue(arg)}; a compiled function takes tensors, numbers, booleans and strings (capture other values in the function's closure)`,
    );
  });
  return [...parts, `grad ${isGradEnabled()}`, JSON.stringify(settings)].join(' | ');
}

function trace<Args extends unknown[], Result>(fn: (...args: Args) => Result, args: Args, refillResults: boolean): { result: Result; entry: Entry } {
  const recording = new Trace();
  // tensor arguments are copied into arrays of the trace, which replays refill from the new arguments
  const argumentArrays = args.map((arg) => (arg instanceof Tensor ? allocate(arg.dtype, arg.size) as FloatArray : null));
  const traceArgs = args.map((arg, k) => {
    if (!(arg instanceof Tensor)) return arg;
    const copy = Tensor.fromNd(copyArgument(arg, argumentArrays[k]!), { requiresGrad: arg.requiresGrad });
    return copy;
  }) as Args;
  for (const arg of traceArgs) if (arg instanceof Tensor) recording.argumentTensors.add(arg);
  const previous = setActiveRecorder(recording);
  let result: Result;
  let outputs: Tensor[];
  try {
    // the trace notes the arrays it allocates: only those can hold values that the program computes
    result = withAllocationSource((dtype, length, otherwise) => {
      const array = otherwise(dtype, length);
      recording.allocated.add(array.buffer);
      return array;
    }, () => {
      const value = fn(...traceArgs);
      // the outputs' arrays are filled by the program
      for (const output of tensorsIn(value)) void output.data;
      return value;
    });
    outputs = tensorsIn(result);
  } finally {
    setActiveRecorder(previous);
  }
  const base = { guards: recording.guards, gradReads: recording.gradReads };
  // a result with a live graph (not consumed by a backward pass) may be differentiated by the caller
  if (outputs.some((output) => output.node !== null && !output.node.freed)) return { result, entry: { ...base, program: 'eager' } };
  const argumentData = traceArgs.map((arg) => (arg instanceof Tensor ? arg.data : null));
  recording.see([...argumentData.filter((data) => data !== null), ...outputs.map((output) => output.data)]);
  // unless the program is opaque, every step reaches its arrays through the ndarrays the trace saw, so
  // values can move; the .grad tensors are refilled in place, so their values stay where they are
  const gradientBuffers = new Set([...recording.gradWrites.values()].flatMap((gradient) => (gradient === null ? [] : [gradient.data.data.buffer])));
  const valueOf = (array: FloatArray | DataArray): ValueArray | null =>
    (recording.opaque || gradientBuffers.has(array.buffer) ? null : ValueArray.of(recording.views.get(array.buffer), array));
  const argumentValues = argumentData.map((data) => (data === null ? null : valueOf(data.data)));
  // the program's arrays are never the caller's arguments (a replay copies such an argument)
  for (const buffer of recording.computed) for (const view of recording.views.get(buffer) ?? []) keepOutOfPool(view.data);
  // results that a step computes on every replay are handed over (one value for results that share an array)
  const resultValueOf = new Map<Tensor, ValueArray>();
  const byBuffer = new Map<ArrayBufferLike, ValueArray | null>();
  for (const output of outputs) {
    const buffer = output.data.data.buffer;
    if (!recording.computed.has(buffer)) continue;
    if (!byBuffer.has(buffer)) byBuffer.set(buffer, valueOf(output.data.data));
    const value = byBuffer.get(buffer)!;
    if (value !== null) resultValueOf.set(output, value);
  }
  /** The tensors that a replay refills (refillResults): per output, the tensor the caller got. */
  const refilled = new Map<Tensor, Tensor>();
  const handOver = (output: Tensor): Tensor => {
    if (!resultValueOf.has(output)) return Tensor.fromNd(copyResult(output.data));
    const view = output.data;
    return Tensor.fromNd(ndarray(view.data, view.shape.slice(), view.stride.slice(), view.offset) as FloatNdArray);
  };
  const program: Program = {
    argumentArrays,
    argumentValues,
    resultValues: [...new Set(resultValueOf.values())],
    written: recording.written,
    // the steps that compute the results and the gradients, and every write, effect and branch
    steps: recording.program([...outputs.map((output) => output.data.data.buffer), ...gradientBuffers]),
    gradWrites: [...recording.gradWrites],
    // the other results live in arrays that the next call refills (or are state): each call returns copies of them
    result: () => {
      if (refillResults) {
        return mapTensors(result, (output) => {
          const known = refilled.get(output);
          if (known === undefined) {
            const tensor = handOver(output);
            refilled.set(output, tensor);
            return tensor;
          }
          // a computed result is already in its tensor's array; the others are copied into it
          if (!resultValueOf.has(output)) copyInto(known.data, output.data);
          return known;
        });
      }
      const handedOver = mapTensors(result, handOver);
      // the caller owns those arrays now: the next call computes these values into fresh arrays
      for (const value of program.resultValues) value.moveToFresh();
      return handedOver;
    },
    beforeRefill: () => {
      for (const tensor of refilled.values()) writeStorage(tensor.data.data, () => {});
    },
    refillFrom: (eagerResult) => {
      const eagerOutputs = tensorsIn(eagerResult);
      const outputs = tensorsIn(result);
      // the eager call ran after the replay had begun writing the result tensors: they get its values
      outputs.forEach((output, k) => {
        const tensor = refilled.get(output);
        if (tensor !== undefined) writeStorage(tensor.data.data, () => copyInto(tensor.data, eagerOutputs[k]!.data));
      });
      let k = 0;
      return mapTensors(eagerResult, (eager) => refilled.get(outputs[k++]!) ?? eager);
    },
  };
  return { result: program.result() as Result, entry: { ...base, program } };
}

function replay(program: Program, args: readonly unknown[]): unknown {
  program.argumentArrays.forEach((array, k) => {
    if (array === null) return;
    const arg = args[k] as Tensor;
    const value = program.argumentValues[k] ?? null;
    const callerArray = value === null ? null : wholeArrayOf(arg);
    if (value !== null && callerArray !== null && !program.written.has(callerArray.buffer)) {
      value.bind(callerArray);
    } else {
      value?.bind(array);
      copyArgument(arg, array);
    }
  });
  // gradients are refilled in place: lazy results that read them keep their values (storage.ts)
  for (const [, gradient] of program.gradWrites) if (gradient !== null) writeStorage(gradient.data.data, () => {});
  // refilled results are written in place: lazy results that read them keep their values
  program.beforeRefill();
  for (const step of program.steps) step();
  for (const [leaf, gradient] of program.gradWrites) leaf.grad = gradient;
  return program.result();
}

/**
 * One value of a program whose steps reach their arrays only through ndarrays the trace saw (no
 * opaque step: see Trace.opaque), and every ndarray through which the steps (kernels, declared
 * writes and effects) and results reach it: `bind` points them all at another array of the same
 * dtype and length, which moves the value there. A replay binds an
 * argument's value to the caller's array instead of copying it, and hands a result's array to the
 * caller instead of copying it (the value moves to a fresh array for the next call, as eager
 * execution makes fresh results).
 */
class ValueArray {
  private constructor(
    private readonly views: readonly FloatNdArray[],
    private array: DataArray,
  ) {}

  /** The value of `array` if every view of its buffer spans all of it (then it can move), else null. */
  static of(views: ReadonlySet<FloatNdArray> | undefined, array: DataArray): ValueArray | null {
    if (views === undefined || !spansBuffer(array)) return null;
    const movable = [...views].every((view) => view.data.byteOffset === 0 && view.data.length === array.length && dtypeOfArray(view.data) === dtypeOfArray(array));
    return movable ? new ValueArray([...views], array) : null;
  }

  bind(array: DataArray): void {
    this.array = array;
    for (const view of this.views) view.data = array;
  }

  moveToFresh(): void {
    const fresh = allocateFresh(dtypeOfArray(this.array), this.array.length);
    keepOutOfPool(fresh);
    this.bind(fresh);
  }
}

/** The array of a computed, contiguous tensor that spans it and is not a compiled program's, or null. */
function wholeArrayOf(arg: Tensor): DataArray | null {
  const data = arg.data;
  const array = data.data;
  return data.offset === 0 && array.length === arg.size && isContiguous(data) && spansBuffer(array) && !keptOutOfPool(array) ? array : null;
}

/** Copies a tensor argument (any layout, possibly lazy) into the trace's contiguous array for it. */
function copyArgument(arg: Tensor, array: FloatArray): FloatNdArray {
  const data = arg.data;
  if (isContiguous(data)) array.set(data.data.subarray(data.offset, data.offset + arg.size) as FloatArray);
  else mapElementwise(E.input(0), [data], arg.dtype, array);
  return createNd(arg.dtype, arg.shape, array);
}

/** A fresh contiguous copy of a result (a block copy when it is contiguous). */
function copyResult(data: FloatNdArray): FloatNdArray {
  return isContiguous(data) ? createNd(dtypeOfNd(data), data.shape, contiguousData(data).slice()) : copyNd(data);
}

/** The tensors in a result: a tensor, or arrays and plain objects of them (other values are kept as they are). */
function tensorsIn(result: unknown): Tensor[] {
  const found: Tensor[] = [];
  mapTensors(result, (tensor) => {
    found.push(tensor);
    return tensor;
  });
  return found;
}

function mapTensors(value: unknown, map: (tensor: Tensor) => Tensor): unknown {
  return mapLeaves(value, 'result', (leaf) => {
    if (leaf instanceof Tensor) return map(leaf);
    if (leaf !== null && typeof leaf === 'object') {
      throw new Error(`compile: the function returned ${describeValue(leaf)}; return tensors, numbers, or arrays and plain objects of them`);
    }
    return leaf;
  });
}
