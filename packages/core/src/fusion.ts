import type { DType } from './dtype.js';
import { mapElementwise } from './kernels/elementwise.js';
import { checkOptions } from './composite/validate.js';
import { E, isCheap, nodeCount, substitute, type Expr } from './kernels/expr.js';
import type { FloatNdArray } from './kernels/layout.js';
import { DEFAULT_FUSION_MINIMUM_SIZE, settings, updateSettings } from './settings.js';
import type { Tensor } from './tensor.js';
import { activeRecorder } from './compile/recorder.js';

/**
 * Lazy elementwise fusion. An elementwise primitive does not compute its result at once: it
 * returns a tensor holding a pending expression tree over operand arrays. An elementwise op that
 * consumes it inlines the tree into its own, so a chain like `x.mul(w).add(b)` runs as one loop
 * with no intermediate array (a tree of cheap operators is inlined by every consumer, one with an
 * expensive operator such as exp by the first only). A reduction reads the tree's operands
 * directly (see `fusedForward`). Anything else that reads the tensor's data — matmul, views, the
 * user — computes it with one pass. The graph is recorded as before, so autodiff does not see the
 * difference, and the values do not either: float32 rounds after every operator, fused or not
 * (kernels/expr.ts), and a write into an operand's storage computes the pending result first
 * (storage.ts).
 */
export interface PendingElementwise {
  /** The element value as a tree over the operands (input k is operands[k]). */
  expression: Expr;
  /** Arrays of the result's shape (possibly strided or broadcast views). */
  operands: FloatNdArray[];
  shape: number[];
  dtype: DType;
  /** Set once a consumer has inlined the expression; unless it is cheap, later consumers read the computed data. */
  inlined: boolean;
}

/**
 * Turns lazy elementwise fusion on (the default) or off, e.g. to compare both paths.
 * `minimumSize` (default 65536) is the smallest result that is fused rather than computed at once.
 * A thin wrapper over the settings (`withSettings({ fusion, fusionMinimumSize }, fn)` is the scoped form).
 */
export function setElementwiseFusion(enabled: boolean, options: { minimumSize?: number } = {}): void {
  if (typeof enabled !== 'boolean') throw new Error(`setElementwiseFusion: expected a boolean, got ${JSON.stringify(enabled)}`);
  checkOptions('setElementwiseFusion', options, ['minimumSize']);
  const minimumSize = options.minimumSize ?? DEFAULT_FUSION_MINIMUM_SIZE;
  if (!Number.isInteger(minimumSize) || minimumSize < 1) throw new Error(`setElementwiseFusion: minimumSize must be a positive integer, got ${minimumSize}`);
  updateSettings('setElementwiseFusion', { fusion: enabled, fusionMinimumSize: minimumSize });
}

export function isElementwiseFusionEnabled(): boolean {
  return settings.fusion;
}

/**
 * Whether an elementwise result of input's size is fused. While compile traces, every size is:
 * the trace's kernels are replayed, so a chain of small ops costs one loop instead of several.
 */
export function worthFusing(input: Tensor): boolean {
  return input.size >= settings.fusionMinimumSize || activeRecorder !== null;
}

/**
 * Whether a reduction reads a pending input straight from its operands. Only from the fusion
 * threshold up (also while compile traces): a reduction's order of summation follows the
 * operands' layout, so reading a small input's operands instead of its array could change the
 * last bits of a sum, and compiled results must equal eager ones.
 */
export function reducesFused(input: Tensor): boolean {
  return input.size >= settings.fusionMinimumSize;
}

/** Bounds that keep fused loops small enough to compile quickly and to stay register-friendly. */
const MAX_OPERANDS = 16;
const MAX_NODES = 96;

/**
 * The pending result of `expression` (over the op's own inputs 0, 1, …) applied to `inputs`,
 * inlining each input that is itself pending (see `isCheap`) while the bounds allow. Operand
 * arrays are shared when the same array appears twice (x·x reads x once).
 */
export function fuse(expression: Expr, inputs: readonly Tensor[], dtype: DType): PendingElementwise {
  const operands: FloatNdArray[] = [];
  const operandNode = (array: FloatNdArray): Expr => {
    let index = operands.indexOf(array);
    if (index < 0) index = operands.push(array) - 1;
    return E.input(index);
  };
  let nodes = nodeCount(expression);
  const inlinedInputs = new Map<Tensor, Expr>();
  const parts = inputs.map((input) => {
    const known = inlinedInputs.get(input);
    if (known !== undefined) return known;
    const pending = input.pendingElementwise;
    const fits = pending !== null
      && (!pending.inlined || isCheap(pending.expression))
      && nodes + nodeCount(pending.expression) <= MAX_NODES
      && operands.length + pending.operands.filter((operand) => !operands.includes(operand)).length <= MAX_OPERANDS;
    if (!fits) return operandNode(input.data);
    pending.inlined = true;
    nodes += nodeCount(pending.expression);
    const part = substitute(pending.expression, pending.operands.map(operandNode));
    inlinedInputs.set(input, part);
    return part;
  });
  return {
    expression: substitute(expression, parts),
    operands,
    shape: inputs[0]!.shape.slice(),
    dtype,
    inlined: false,
  };
}

/** Computes a pending result: one pass over its operands. */
export function materialize(pending: PendingElementwise): FloatNdArray {
  return mapElementwise(pending.expression, pending.operands, pending.dtype);
}
