import type { DType } from './dtype.js';
import { mapElementwise } from './kernels/elementwise.js';
import { checkOptions } from './composite/validate.js';
import type { FloatNdArray } from './kernels/layout.js';
import type { Tensor } from './tensor.js';

/**
 * Lazy elementwise fusion. An elementwise primitive does not compute its result at once: it
 * returns a tensor holding a pending expression over operand arrays. An elementwise op that
 * consumes it inlines the expression into its own, so a chain like `x.mul(w).add(b)` runs as one
 * loop with no intermediate array (plain arithmetic is inlined by every consumer, an expression
 * with a function call by the first only; see `isArithmetic`). A reduction reads the expression's
 * operands directly (see `fusedForward`). Anything else that reads the tensor's data — matmul,
 * views, the user — computes it with one pass. The graph is recorded as before, so autodiff does
 * not see the difference; only the number of passes over memory changes.
 */
export interface PendingElementwise {
  /** A JavaScript expression over the operands' element values $0, $1, … */
  expression: string;
  /** Arrays of the result's shape (possibly strided or broadcast views). */
  operands: FloatNdArray[];
  shape: number[];
  dtype: DType;
  /** Set once a consumer has inlined the expression; unless it is plain arithmetic, later consumers read the computed data. */
  inlined: boolean;
}

let fusionEnabled = true;

/**
 * Below this many elements an op is computed at once by default: composing expressions costs more
 * than the passes it saves. Measured A/B in one process: BatchNorm2d on 2M elements fwd+bwd 108 ms
 * fused vs 181 ms unfused; the MLP step of 32K-element tensors and the demo's convnet (50K) 3–5%
 * slower fused; the demo's batch-2 runs (under 4K) a third slower fused.
 */
const DEFAULT_MINIMUM_SIZE = 65536;
let minimumSize = DEFAULT_MINIMUM_SIZE;

/**
 * Turns lazy elementwise fusion on (the default) or off, e.g. to compare both paths.
 * `minimumSize` (default 65536) is the smallest result that is fused rather than computed at once.
 */
export function setElementwiseFusion(enabled: boolean, options: { minimumSize?: number } = {}): void {
  if (typeof enabled !== 'boolean') throw new Error(`setElementwiseFusion: expected a boolean, got ${JSON.stringify(enabled)}`);
  checkOptions('setElementwiseFusion', options, ['minimumSize']);
  const size = options.minimumSize ?? DEFAULT_MINIMUM_SIZE;
  if (!Number.isInteger(size) || size < 1) throw new Error(`setElementwiseFusion: minimumSize must be a positive integer, got ${size}`);
  fusionEnabled = enabled;
  minimumSize = size;
}

export function isElementwiseFusionEnabled(): boolean {
  return fusionEnabled;
}

export function worthFusing(input: Tensor): boolean {
  return input.size >= minimumSize;
}

/** Bounds that keep fused loops small enough to compile quickly and to stay register-friendly. */
const MAX_OPERANDS = 16;
const MAX_EXPRESSION_LENGTH = 400;

/**
 * Plain arithmetic (no Math.* call) costs less to compute again than to store and read back, so
 * such a pending result is inlined by every elementwise consumer; one with a function call is
 * inlined once, and later consumers read it computed.
 */
const isArithmetic = (expression: string): boolean => !expression.includes('Math.');

/**
 * The pending result of `expression` (over the op's own inputs $0, $1, …) applied to `inputs`,
 * inlining each input that is itself pending (see `isArithmetic`) while the bounds allow.
 * Operand arrays are shared when the same array appears twice (x·x reads x once).
 */
export function fuse(expression: string, inputs: readonly Tensor[], dtype: DType): PendingElementwise {
  const operands: FloatNdArray[] = [];
  const operandName = (array: FloatNdArray): string => {
    let index = operands.indexOf(array);
    if (index < 0) index = operands.push(array) - 1;
    return `$${index}`;
  };
  const parts = inputs.map((input) => {
    const pending = input.pendingElementwise;
    const fits = pending !== null
      && (!pending.inlined || isArithmetic(pending.expression))
      && pending.expression.length <= MAX_EXPRESSION_LENGTH
      && operands.length + pending.operands.filter((operand) => !operands.includes(operand)).length <= MAX_OPERANDS;
    if (!fits) return operandName(input.data);
    pending.inlined = true;
    return `(${pending.expression.replace(/\$(\d+)/g, (_, index: string) => operandName(pending.operands[Number(index)]!))})`;
  });
  return {
    expression: expression.replace(/\$(\d+)/g, (_, index: string) => parts[Number(index)]!),
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
