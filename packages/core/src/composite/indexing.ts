import { primitives } from '../ops/index.js';
import { Tensor } from '../tensor.js';
import { checkTensor, where } from './elementwise.js';
import { broadcastTo, narrow, reshape } from './shape.js';
import { allExamples } from '../transforms/vmap.js';
import { broadcastShapes, checkOptions, formatShape, normalizeAxis, sameShape } from './validate.js';

/**
 * Selection by integer indices. Indices are int32 tensors (tensor(…, { dtype: 'int32' }),
 * arange, argmax, topk); they are never differentiated. gather and indexSelect are
 * differentiable in the input: the gradient is scattered back by scatter-add, whose own gradient
 * is a gather, so derivatives of any order stay exact.
 */

function checkIndexTensor(operation: string, index: unknown): Tensor {
  const checked = checkTensor(operation, index, 'index');
  if (checked.dtype !== 'int32') {
    throw new Error(`${operation}: index must be an int32 tensor, got ${checked.dtype} of shape ${formatShape(checked.shape)} (convert with .to('int32'))`);
  }
  return checked;
}

/** The axis of x that an arg-reduction or sort runs along; a 0-d tensor counts as one element (axis 0 or -1, as PyTorch). */
function lineAxis(operation: string, x: Tensor, axis: number): number {
  return normalizeAxis(operation, axis, Math.max(x.ndim, 1), x.shape);
}

function argExtremum(operation: string, x: Tensor, axis: number | undefined, keepdims: boolean, minimize: boolean): Tensor {
  checkTensor(operation, x, 'input');
  if (axis === undefined || axis === null) {
    if (x.size === 0) throw new Error(`${operation}: cannot take the ${operation} of an empty tensor (shape ${formatShape(x.shape)})`);
    const position = primitives.argmax([reshape(x, [x.size])], { axis: 0, minimize });
    return keepdims ? reshape(position, x.shape.map(() => 1)) : position;
  }
  const normalized = lineAxis(operation, x, axis);
  if (x.ndim === 0) return primitives.argmax([reshape(x, [1])], { axis: 0, minimize });
  if (x.shape[normalized] === 0) {
    throw new Error(`${operation}: cannot reduce over the empty axis ${axis} of a tensor of shape ${formatShape(x.shape)}`);
  }
  const position = primitives.argmax([x], { axis: normalized, minimize });
  return keepdims ? reshape(position, x.shape.map((extent, index) => (index === normalized ? 1 : extent))) : position;
}

/**
 * The position of the largest element along the axis (of the flattened tensor when no axis is
 * given), as int32. The first position wins ties and NaN counts as the largest (as PyTorch).
 */
export function argmax(x: Tensor, axis?: number, keepdims = false): Tensor {
  return argExtremum('argmax', x, axis, keepdims, false);
}

/** The position of the smallest element (see argmax; NaN counts as the smallest). */
export function argmin(x: Tensor, axis?: number, keepdims = false): Tensor {
  return argExtremum('argmin', x, axis, keepdims, true);
}

export interface ArgsortOptions {
  /** Largest first (default false). */
  descending?: boolean;
}

/** The positions that sort x along the axis (int32, x's shape); stable, NaN above every number (as PyTorch's sort). */
export function argsort(x: Tensor, axis = -1, options: ArgsortOptions = {}): Tensor {
  checkTensor('argsort', x, 'input');
  checkOptions('argsort', options, ['descending']);
  const descending = options.descending ?? false;
  if (typeof descending !== 'boolean') throw new Error(`argsort: descending must be a boolean, got ${JSON.stringify(descending)}`);
  const normalized = lineAxis('argsort', x, axis);
  if (x.ndim === 0) return reshape(primitives.argsort([reshape(x, [1])], { axis: 0, descending }), []);
  return primitives.argsort([x], { axis: normalized, descending });
}

export interface TopkOptions {
  /** The k largest (default) or the k smallest. */
  largest?: boolean;
  /** Results in order, largest first (smallest first with largest: false). normgrad always sorts them; false permits any order, as in PyTorch. */
  sorted?: boolean;
}

/**
 * The k largest (or smallest) elements along the axis and their positions (int32), like
 * PyTorch's topk. Values are differentiable: the gradient flows to the selected elements.
 * Among equal elements the earlier position comes first; NaN counts as the largest.
 */
export function topk(x: Tensor, k: number, axis = -1, options: TopkOptions = {}): { values: Tensor; indices: Tensor } {
  checkTensor('topk', x, 'input');
  checkOptions('topk', options, ['largest', 'sorted']);
  const { largest = true, sorted = true } = options;
  if (typeof largest !== 'boolean' || typeof sorted !== 'boolean') {
    throw new Error(`topk: largest and sorted must be booleans, got ${JSON.stringify(largest)}, ${JSON.stringify(sorted)}`);
  }
  const normalized = lineAxis('topk', x, axis);
  const line = x.ndim === 0 ? reshape(x, [1]) : x;
  const extent = line.shape[normalized]!;
  if (!Number.isInteger(k) || k < 0 || k > extent) {
    throw new Error(`topk: k must be an integer in [0, ${extent}] for axis ${axis} of a tensor of shape ${formatShape(x.shape)}, got ${k}`);
  }
  const order = primitives.argsort([line], { axis: normalized, descending: largest });
  const indices = narrow(order, normalized, 0, k);
  const values = primitives.gather([line, indices], { axis: normalized });
  return x.ndim === 0 ? { values: reshape(values, []), indices: reshape(indices, []) } : { values, indices };
}

/**
 * out[i][j][k] = x[index[i][j][k]][j][k] for axis 0 (and likewise for other axes): PyTorch's
 * gather. index is int32 with x's number of dimensions and no larger than x outside the axis;
 * the result has index's shape. Differentiable in x.
 */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  checkTensor('gather', x, 'input');
  checkIndexTensor('gather', index);
  const normalized = lineAxis('gather', x, axis);
  if (index.ndim !== x.ndim) {
    throw new Error(`gather: index of shape ${formatShape(index.shape)} and input of shape ${formatShape(x.shape)} must have the same number of dimensions`);
  }
  if (x.ndim === 0) return reshape(primitives.gather([reshape(x, [1]), reshape(index, [1])], { axis: 0 }), []);
  const fits = index.shape.every((extent, dimension) => dimension === normalized || extent <= x.shape[dimension]!);
  if (!fits) {
    throw new Error(`gather: index of shape ${formatShape(index.shape)} is larger than the input of shape ${formatShape(x.shape)} outside axis ${axis}`);
  }
  return primitives.gather([x, index], { axis: normalized });
}

/**
 * The entries of x at the given positions along the axis (PyTorch's index_select): index is a 1-D
 * (or 0-d) int32 tensor; the result has x's shape with that axis's extent replaced by index's size.
 * Differentiable in x (gradients of repeated positions add up).
 */
export function indexSelect(x: Tensor, axis: number, index: Tensor): Tensor {
  checkTensor('indexSelect', x, 'input');
  checkIndexTensor('indexSelect', index);
  if (index.ndim > 1) throw new Error(`indexSelect: index must be 1-D (or 0-d), got shape ${formatShape(index.shape)}`);
  if (x.ndim === 0) throw new Error('indexSelect: the input must have at least one dimension, got a 0-d tensor');
  const normalized = normalizeAxis('indexSelect', axis, x.ndim, x.shape);
  const count = index.size;
  const shape = x.shape.map((extent, dimension) => (dimension === normalized ? count : extent));
  const spread = broadcastTo(reshape(index, x.shape.map((_, dimension) => (dimension === normalized ? count : 1))), shape);
  return primitives.gather([x, spread], { axis: normalized });
}

/**
 * x with `value` where mask is true (PyTorch's masked_fill). The mask is an int32 tensor or a
 * float tensor of zeros and ones (what lt, gt, eq, … return), broadcastable to x's shape; any
 * other value in it is an Error. value is a number or a 0-d tensor (differentiable, like x).
 */
export function maskedFill(x: Tensor, mask: Tensor, value: number | Tensor): Tensor {
  checkTensor('maskedFill', x, 'input');
  checkTensor('maskedFill', mask, 'mask');
  const shape = broadcastShapes('maskedFill', x.shape, mask.shape);
  if (!sameShape(shape, x.shape)) {
    throw new Error(`maskedFill: a mask of shape ${formatShape(mask.shape)} does not broadcast to the input's shape ${formatShape(x.shape)}`);
  }
  const values = allExamples(mask).toTypedArray();
  for (let i = 0; i < values.length; i++) {
    if (values[i] !== 0 && values[i] !== 1) {
      throw new Error(`maskedFill: the mask must hold only 0 and 1 (as lt, gt, eq, … return), got ${values[i]} at element ${i} of shape ${formatShape(mask.shape)}`);
    }
  }
  if (typeof value === 'number') {
    if (x.dtype === 'int32' && !Number.isInteger(value)) throw new Error(`maskedFill: value ${value} is not an integer, but the input is int32`);
    return where(mask, value, x);
  }
  checkTensor('maskedFill', value, 'value');
  if (value.ndim !== 0) throw new Error(`maskedFill: value must be a number or a 0-d tensor, got shape ${formatShape(value.shape)}`);
  if (value.dtype !== x.dtype) throw new Error(`maskedFill: value is ${value.dtype} but the input is ${x.dtype}`);
  return where(mask, value, x);
}
