import { checkOptions, formatShape } from '../composite/validate.js';
import type { GraphNode } from '../primitive.js';
import { Tensor } from '../tensor.js';
import { levelAt, visibleLevelCount, visiblePosition, withLevelsBelow, withNewLevel } from './forward-mode.js';
import { isRecordNode, mapWithAxes, type AxisRecord, type TensorRecordOf } from './records.js';

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

/** The position of the visible vmap level whose randomness a random draw made now follows (the innermost one not 'same'), or -1. */
function drawingPosition(): number {
  for (let position = visibleLevelCount() - 1; position >= 0; position--) {
    const batchLevel = batchLevels.get(levelAt(position));
    if (batchLevel !== undefined && batchLevel.randomness !== 'same') return position;
  }
  return -1;
}

/**
 * How a random draw made now varies over the examples of the open vmaps: null outside vmap or
 * where every visible vmap says 'same' (one draw for all examples), else the randomness of the
 * innermost vmap that does not: 'different', or 'error' (the draw is an Error). For operations
 * that draw (dropout) to say what they are in that Error.
 */
export function vmapRandomness(): Randomness | null {
  const position = drawingPosition();
  return position < 0 ? null : batchLevels.get(levelAt(position))!.randomness;
}

/**
 * Random numbers drawn inside vmap (randn, rand and what uses them, such as dropout): null where
 * no visible vmap level asks for numbers that differ per example, so the caller draws one set for
 * all examples. Under randomness 'different' the draw is `draw([size, ...])` with the batch axis
 * first, one set per example; under 'error' it is an Error naming the operation. Library-internal.
 */
export function batchedRandom(operation: string, shape: readonly number[], draw: (shape: number[]) => Tensor): Tensor | null {
  const position = drawingPosition();
  if (position < 0) return null;
  const level = levelAt(position);
  const batchLevel = batchLevels.get(level)!;
  if (batchLevel.randomness === 'error') {
    throw new Error(
      `${operation}: random numbers inside vmap: pass { randomness: 'different' } to vmap for different numbers per example ` +
        "(as a loop over the examples draws), or { randomness: 'same' } for one draw shared by all examples",
    );
  }
  const value = withLevelsBelow(position, () => draw([batchLevel.size, ...shape]));
  return batchedTensor(value, level, { requiresGrad: value.requiresGrad });
}

export interface VmapOptions {
  /**
   * For each argument the axis that holds the examples, or null for an argument shared by all
   * examples (passed as it is). An argument that is a record (a plain object or array of tensors,
   * nested) takes one axis for all its tensors, or a record of the same shape with an axis or
   * null per leaf or per subtree (`[{ w: 0, b: null }, 0]`). One number or null for all of inDims
   * applies to every Tensor in every argument (other values pass through). Default 0.
   */
  inDims?: number | null | readonly AxisRecord<number | null>[];
  /**
   * Where the batch axis goes in each output: one number for all, or, for an array or record
   * result, an array or record of the same shape with a number per leaf or per subtree. Default 0.
   */
  outDims?: AxisRecord<number>;
  /**
   * Random numbers drawn inside fn: 'error' (default) makes a draw an Error; 'different' draws
   * independent numbers for each example (a seeded draw gives the same numbers on each call);
   * 'same' draws one set shared by all examples.
   */
  randomness?: Randomness;
}

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

const isInDim = (axis: unknown): axis is number | null => axis === null || typeof axis === 'number';
const isOutDim = (axis: unknown): axis is number => typeof axis === 'number';

/** A batched Tensor among the arguments: where it is, and its examples along axis 0. */
interface BatchedLeaf {
  path: string;
  leaf: Tensor;
  axis: number;
  holder: Tensor;
}

/**
 * Vectorizing map (JAX's jax.vmap, torch.func.vmap): `vmap(f)(xs)` applies f to each example of
 * xs along axis `inDims` and stacks the results along `outDims`, as a loop would, but in one pass
 * of batched tensor ops (each primitive has a batching rule). f is written for one example.
 * It composes with itself and with grad, vjp, jvp, hvp, jacrev, jacfwd and hessian in any order:
 * `vmap(grad(loss), { inDims: [null, 0, 0] })(params, xs, ys)` gives per-example gradients.
 * Arguments may be records (plain objects and arrays of tensors, nested), and f may return a
 * Tensor or a record of Tensors; the result has the same form, each Tensor with a batch axis.
 *
 * Inside f the examples' values cannot be read (item(), toArray(), branches on values); f is
 * traced eagerly, once, for all examples. Random draws follow `randomness` (default: an Error).
 */
export function vmap<Args extends unknown[], Result>(fn: (...args: Args) => Result & TensorRecordOf<Result>, options?: VmapOptions): (...args: Args) => Result {
  if (typeof fn !== 'function') throw new Error(`vmap: the first argument must be a function, got ${typeof fn}`);
  checkOptions('vmap', options, ['inDims', 'outDims', 'randomness']);
  const inDims = options?.inDims === undefined ? 0 : options.inDims;
  const outDims = options?.outDims === undefined ? 0 : options.outDims;
  const randomness = options?.randomness ?? 'error';
  if (randomness !== 'error' && randomness !== 'same' && randomness !== 'different') {
    throw new Error(`vmap: randomness must be 'error', 'same' or 'different', got ${JSON.stringify(randomness)}`);
  }
  if (inDims !== null && typeof inDims !== 'number' && !Array.isArray(inDims)) {
    throw new Error(`vmap: inDims must be a number, null or an array of them (one per argument, records for record arguments), got ${JSON.stringify(inDims)}`);
  }
  if (typeof outDims !== 'number' && !isRecordNode(outDims)) {
    throw new Error(`vmap: outDims must be a number, or an array or record of numbers (the shape of the result), got ${JSON.stringify(outDims)}`);
  }
  return (...args: Args) => {
    if (Array.isArray(inDims) && inDims.length !== args.length) {
      throw new Error(`vmap: inDims has ${inDims.length} entries but the function was called with ${args.length} argument(s); give one per argument (null: not batched)`);
    }
    /** Each argument with every batched Tensor leaf replaced by `replace(leaf, holder)`. */
    const mapArguments = (replace: (leaf: BatchedLeaf) => unknown): unknown[] =>
      args.map((arg, index) => {
        const path = `argument ${index}`;
        const visit = (leaf: unknown, dim: number | null, leafPath: string): unknown => {
          if (dim === null) return leaf;
          if (!(leaf instanceof Tensor)) {
            // one number for all of inDims batches the Tensors and passes other values through
            if (!Array.isArray(inDims)) return leaf;
            throw new Error(`vmap: ${leafPath} is batched (inDims ${dim}) but is ${leaf === null ? 'null' : typeof leaf}, not a Tensor; give it inDims null`);
          }
          const axis = checkAxis(`inDims for ${leafPath} (shape ${formatShape(leaf.shape)})`, dim, leaf.ndim);
          return replace({ path: leafPath, leaf, axis, holder: moveAxis(leaf, axis, 0) });
        };
        const dims = Array.isArray(inDims) ? inDims[index] : inDims;
        return mapWithAxes('vmap', 'inDims', arg, dims, path, visit, { visitNull: false, isAxis: isInDim });
      });
    let size: number | null = null;
    let sizeFrom = '';
    mapArguments(({ path, leaf, axis, holder }) => {
      const extent = leaf.shape[axis]!;
      if (size === null) {
        size = extent;
        sizeFrom = path;
      } else if (extent !== size) {
        throw new Error(`vmap: ${path} (shape ${formatShape(leaf.shape)}) has ${extent} examples along axis ${axis}, but ${sizeFrom} has ${size}; batched arguments must agree`);
      }
      return holder;
    });
    if (size === null) throw new Error(`vmap: no argument is batched (inDims ${JSON.stringify(inDims)}); give at least one Tensor argument an axis`);
    if (size === 0) throw new Error(`vmap: the batch axis has 0 examples (${sizeFrom}); vmap needs at least one`);
    const batchSize: number = size;
    return withNewLevel((level) => {
      batchLevels.set(level, { size: batchSize, randomness });
      try {
        const callArgs = mapArguments(({ holder }) => batchedTensor(holder, level, { requiresGrad: holder.requiresGrad })) as Args;
        const result = fn(...callArgs);
        const position = visiblePosition(level);
        const visit = (output: unknown, dim: number, path: string): Tensor => {
          if (!(output instanceof Tensor)) {
            throw new Error(`vmap: the function must return a Tensor, or arrays and records of Tensors; ${path} is ${output === null ? 'null' : typeof output}`);
          }
          // an output that does not depend on the batched arguments is the same for every example
          const holder = batchedValueAt(output, level) ?? output.unsqueeze(0).broadcastTo([batchSize, ...output.shape]);
          const axis = checkAxis(`outDims for ${path} (${formatShape(output.shape)} per example)`, dim, output.ndim + 1);
          return moveAxis(holder, 0, axis);
        };
        return withLevelsBelow(position, () => mapWithAxes('vmap', 'outDims', result, outDims, 'output', visit, { visitNull: true, isAxis: isOutDim })) as Result;
      } finally {
        batchLevels.delete(level);
      }
    });
  };
}
