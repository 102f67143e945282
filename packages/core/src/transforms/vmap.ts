import { checkOptions, formatShape } from '../composite/validate.js';
import type { GraphNode } from '../primitive.js';
import { Tensor } from '../tensor.js';
import { levelAt, visibleLevelCount, visiblePosition, withLevelsBelow, withNewLevel } from './forward-mode.js';

/**
 * vmap as eager batching with nesting levels (JAX's BatchTracer, functorch's BatchedTensor). Each
 * vmap call opens a level in the one stack that forward mode uses (forward-mode.ts), so vmap, jvp
 * and the transforms built on them nest in any order. Inside, the function sees stand-ins: tensors
 * of one example's shape (Tensor.standIn) whose values are held by a tensor with the batch axis
 * first. Applying a primitive to inputs of which one is batched at the highest visible level L
 * runs the primitive's batching rule on the holders (with level L and those above it hidden) and
 * wraps the result as a stand-in at L. The rule's tensor ops are ordinary ops: reverse mode records
 * them, and holders batched at lower levels are batched again by their own rules.
 *
 * Reverse mode inside vmap (vmap(grad(f))) records its graph on the stand-ins, so the VJP rules run
 * on stand-ins and are batched in turn. A stand-in requires grad when its holder does: a grad
 * outside vmap (grad(vmap(f))) then sees the use and keeps its history.
 */

/** How random numbers drawn inside vmap vary over the batch (torch.func's randomness option). */
export type Randomness = 'error' | 'same' | 'different';

interface BatchLevel {
  size: number;
  randomness: Randomness;
}

/** The open vmap levels by level id. */
const batchLevels = new Map<number, BatchLevel>();

/** A stand-in's level and the holder of its values (the batch axis first). */
interface Holding {
  level: number;
  value: Tensor;
}

const holdings = new WeakMap<Tensor, Holding>();

/** A stand-in at `level` for the examples of `value` along its axis 0. Library-internal. */
export function batchedTensor(value: Tensor, level: number, options: { node?: GraphNode | null; requiresGrad?: boolean } = {}): Tensor {
  const size = value.shape[0]!;
  const exampleShape = value.shape.slice(1);
  const standIn = Tensor.standIn(exampleShape, value.dtype, {
    read: () => {
      const where = visiblePosition(level) >= 0 || batchLevels.has(level) ? 'inside the vmapped function' : 'after the vmap that made it returned';
      throw new Error(
        `vmap: the values of a tensor batched by vmap (${value.dtype} ${formatShape(exampleShape)} per example, ${size} examples) cannot be read ${where}: ` +
          'item(), toArray(), toFloat64Array(), .data, backward() into .grad and branches on values need one example; ' +
          'compute with tensor ops (grad instead of backward) and read the values vmap returns',
      );
    },
    detach: () => batchedTensor(value.detach(), level),
  }, options);
  holdings.set(standIn, { level, value });
  return standIn;
}

/** The holder of x's values when x is batched at `level` (the batch axis first), else null. Library-internal. */
export function batchedValueAt(x: Tensor, level: number): Tensor | null {
  const holding = holdings.get(x);
  return holding !== undefined && holding.level === level ? holding.value : null;
}

/** The holder of a stand-in's values at its own level (whatever is visible), or null for a tensor with values. */
export function holderOf(x: Tensor): Tensor | null {
  return holdings.get(x)?.value ?? null;
}

/**
 * Every example's values of x: the tensor at the bottom of its holders, with the batch axes of
 * every level in front (x itself when it is not batched). For checks that look at all values, such
 * as which of two equivalent formulas is exact for them (composite/reduce.ts withinSquareRange).
 */
export function allExamples(x: Tensor): Tensor {
  let current = x;
  for (let holder = holderOf(current); holder !== null; holder = holderOf(current)) current = holder;
  return current;
}

/** The vmap levels at which x is batched, outermost first (empty for a tensor with values of its own). Library-internal. */
export function vmapLevels(x: Tensor): number[] {
  const levels: number[] = [];
  for (let holding = holdings.get(x); holding !== undefined; holding = holdings.get(holding.value)) levels.unshift(holding.level);
  return levels;
}

/**
 * For a write into a stand-in (assignInPlace): its holder, and the source with the same batch axis
 * (a source shared by the examples broadcast over them). Library-internal.
 */
export function holderWrite(target: Tensor, source: Tensor | number): [Tensor, Tensor | number] {
  const { level, value } = holdings.get(target)!;
  const position = visiblePosition(level);
  if (position < 0) target.heldElsewhere!.read(); // the stand-in is used outside its vmap
  if (typeof source === 'number') return [value, source];
  const sourceValue = batchedValueAt(source, level);
  if (sourceValue !== null) return [value, sourceValue];
  return [value, withLevelsBelow(position, () => source.broadcastTo(target.shape).unsqueeze(0).broadcastTo(value.shape))];
}

/** The position of the highest visible vmap level at which an input is batched, or -1. Library-internal. */
export function highestBatchPosition(inputs: readonly Tensor[]): number {
  let highest = -1;
  for (const input of inputs) {
    const holding = holdings.get(input);
    if (holding === undefined) continue;
    const position = visiblePosition(holding.level);
    if (position > highest) highest = position;
  }
  return highest;
}

/** The batch size of an open vmap level. Library-internal. */
export function batchSizeOf(level: number): number {
  return batchLevels.get(level)!.size;
}

/**
 * Random numbers drawn inside vmap (randn, rand and what uses them, such as dropout): null where
 * no visible vmap level asks for numbers that differ per example, so the caller draws one set for
 * all examples. Under randomness 'different' the draw is `draw([size, ...])` with the batch axis
 * first, one set per example; under 'error' it is an Error naming the operation. Library-internal.
 */
export function batchedRandom(operation: string, shape: readonly number[], draw: (shape: number[]) => Tensor): Tensor | null {
  for (let position = visibleLevelCount() - 1; position >= 0; position--) {
    const level = levelAt(position);
    const batchLevel = batchLevels.get(level);
    if (batchLevel === undefined || batchLevel.randomness === 'same') continue;
    if (batchLevel.randomness === 'error') {
      throw new Error(
        `${operation}: random numbers inside vmap: pass { randomness: 'different' } to vmap for different numbers per example ` +
          "(as a loop over the examples draws), or { randomness: 'same' } for one draw shared by all examples",
      );
    }
    const value = withLevelsBelow(position, () => draw([batchLevel.size, ...shape]));
    return batchedTensor(value, level, { requiresGrad: value.requiresGrad });
  }
  return null;
}

export interface VmapOptions {
  /**
   * For each argument the axis that holds the examples, or null for an argument shared by all
   * examples (passed as it is); one number or null applies to every Tensor argument. Default 0.
   */
  inDims?: number | null | readonly (number | null)[];
  /** Where the batch axis goes in each output (one number for all). Default 0. */
  outDims?: number | readonly number[];
  /**
   * Random numbers drawn inside fn: 'error' (default) makes a draw an Error; 'different' draws
   * independent numbers for each example (a seeded draw gives the same numbers on each call);
   * 'same' draws one set shared by all examples.
   */
  randomness?: Randomness;
}

type VmapResult = Tensor | readonly Tensor[];

/** Moves an axis of x to a position (a permute: a view, no copy). */
function moveAxis(x: Tensor, from: number, to: number): Tensor {
  if (from === to) return x;
  const order = x.shape.map((_, axis) => axis).filter((axis) => axis !== from);
  order.splice(to, 0, from);
  return x.permute(order);
}

function checkAxis(what: string, axis: unknown, ndim: number): number {
  if (typeof axis !== 'number' || !Number.isInteger(axis) || axis < -ndim || axis >= ndim) {
    throw new Error(`vmap: ${what} must be an integer in [${-ndim}, ${ndim - 1}], got ${typeof axis === 'number' ? axis : JSON.stringify(axis)}`);
  }
  return axis < 0 ? axis + ndim : axis;
}

/**
 * Vectorizing map (JAX's jax.vmap, torch.func.vmap): `vmap(f)(xs)` applies f to each example of
 * xs along axis `inDims` and stacks the results along `outDims`, as a loop would, but in one pass
 * of batched tensor ops (each primitive has a batching rule). f is written for one example.
 * It composes with itself and with grad, vjp, jvp, hvp, jacrev, jacfwd and hessian in any order:
 * `vmap(grad(loss), { inDims: [null, 0, 0] })(params, xs, ys)` gives per-example gradients.
 * f may return one Tensor or an array of Tensors; the result has the same form.
 *
 * Inside f the examples' values cannot be read (item(), toArray(), branches on values); f is
 * traced eagerly, once, for all examples. Random draws follow `randomness` (default: an Error).
 */
export function vmap<Args extends unknown[], Result extends VmapResult>(fn: (...args: Args) => Result, options?: VmapOptions): (...args: Args) => Result {
  if (typeof fn !== 'function') throw new Error(`vmap: the first argument must be a function, got ${typeof fn}`);
  checkOptions('vmap', options, ['inDims', 'outDims', 'randomness']);
  const inDims = options?.inDims === undefined ? 0 : options.inDims;
  const outDims = options?.outDims === undefined ? 0 : options.outDims;
  const randomness = options?.randomness ?? 'error';
  if (randomness !== 'error' && randomness !== 'same' && randomness !== 'different') {
    throw new Error(`vmap: randomness must be 'error', 'same' or 'different', got ${JSON.stringify(randomness)}`);
  }
  if (inDims !== null && typeof inDims !== 'number' && !Array.isArray(inDims)) {
    throw new Error(`vmap: inDims must be a number, null or an array of them (one per argument), got ${JSON.stringify(inDims)}`);
  }
  if (typeof outDims !== 'number' && !Array.isArray(outDims)) {
    throw new Error(`vmap: outDims must be a number or an array of numbers (one per output), got ${JSON.stringify(outDims)}`);
  }
  return (...args: Args) => {
    let dims: (number | null)[];
    if (Array.isArray(inDims)) {
      if (inDims.length !== args.length) {
        throw new Error(`vmap: inDims has ${inDims.length} entries but the function was called with ${args.length} argument(s); give one per argument (null: not batched)`);
      }
      dims = [...(inDims as readonly (number | null)[])];
    } else {
      dims = args.map((arg) => (arg instanceof Tensor ? (inDims as number | null) : null));
    }
    let size: number | null = null;
    let sizeFrom = -1;
    const holders = args.map((arg, index) => {
      const dim = dims[index];
      if (dim === null || dim === undefined) return null;
      if (!(arg instanceof Tensor)) throw new Error(`vmap: argument ${index} is batched (inDims ${dim}) but is ${arg === null ? 'null' : typeof arg}, not a Tensor; give it inDims null`);
      const axis = checkAxis(`inDims for argument ${index} (shape ${formatShape(arg.shape)})`, dim, arg.ndim);
      const extent = arg.shape[axis]!;
      if (size === null) {
        size = extent;
        sizeFrom = index;
      } else if (extent !== size) {
        throw new Error(
          `vmap: argument ${index} (shape ${formatShape(arg.shape)}) has ${extent} examples along axis ${axis}, but argument ${sizeFrom} has ${size}; batched arguments must agree`,
        );
      }
      return moveAxis(arg, axis, 0);
    });
    if (size === null) throw new Error(`vmap: no argument is batched (inDims ${JSON.stringify(inDims)}); give at least one Tensor argument an axis`);
    if (size === 0) throw new Error(`vmap: the batch axis has 0 examples (argument ${sizeFrom}); vmap needs at least one`);
    const batchSize: number = size;
    return withNewLevel((level) => {
      batchLevels.set(level, { size: batchSize, randomness });
      try {
        const callArgs = args.map((arg, index) => {
          const holder = holders[index];
          return holder ? batchedTensor(holder, level, { requiresGrad: holder.requiresGrad }) : arg;
        }) as Args;
        const result = fn(...callArgs);
        const outputs: readonly unknown[] = Array.isArray(result) ? result : [result];
        const positions = Array.isArray(outDims) ? outDims : outputs.map(() => outDims);
        if (positions.length !== outputs.length) {
          throw new Error(`vmap: outDims has ${positions.length} entries but the function returned ${outputs.length} output(s)`);
        }
        const position = visiblePosition(level);
        const batched = withLevelsBelow(position, () =>
          outputs.map((output, index) => {
            if (!(output instanceof Tensor)) throw new Error(`vmap: the function must return a Tensor or an array of Tensors, got ${output === null ? 'null' : typeof output} (output ${index})`);
            // an output that does not depend on the batched arguments is the same for every example
            const holder = batchedValueAt(output, level) ?? output.unsqueeze(0).broadcastTo([batchSize, ...output.shape]);
            const axis = checkAxis(`outDims for output ${index} (${formatShape(output.shape)} per example)`, positions[index], output.ndim + 1);
            return moveAxis(holder, 0, axis);
          }),
        );
        return (Array.isArray(result) ? batched : batched[0]) as Result;
      } finally {
        batchLevels.delete(level);
      }
    });
  };
}
