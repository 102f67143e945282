import { Tensor, allExamples, branchOnValues, checkOptions, tensor, where } from '@normgrad/core';
import { checkSameDtype, formatShape } from '../util.js';

export type Reduction = 'mean' | 'sum' | 'none';

function reduce(op: string, losses: Tensor, reduction: Reduction): Tensor {
  switch (reduction) {
    case 'mean':
      return losses.mean();
    case 'sum':
      return losses.sum();
    case 'none':
      return losses;
    default:
      throw new Error(`${op}: reduction must be 'mean', 'sum' or 'none', got ${JSON.stringify(reduction)}`);
  }
}

/** Mean squared error: reduce((input - target)^2). Shapes must match exactly. */
export function mseLoss(input: Tensor, target: Tensor, options: { reduction?: Reduction } = {}): Tensor {
  if (input.ndim !== target.ndim || input.shape.some((extent, i) => extent !== target.shape[i])) {
    throw new Error(`mseLoss: input shape ${formatShape(input.shape)} and target shape ${formatShape(target.shape)} must be equal`);
  }
  checkSameDtype('mseLoss', input, { target });
  checkOptions('mseLoss', options, ['reduction']);
  return reduce('mseLoss', input.sub(target).square(), options.reduction ?? 'mean');
}

export interface CrossEntropyOptions {
  reduction?: Reduction;
  /** A rescaling weight for each class, shape (C), the logits' dtype (PyTorch's weight). */
  weight?: Tensor | null;
  /** Targets equal to this class index contribute nothing and are not counted by 'mean' (default -100). */
  ignoreIndex?: number;
  /** ε in [0, 1]: the target mixes (1 − ε) of the given class with ε spread evenly over all C classes. */
  labelSmoothing?: number;
}

/**
 * Cross entropy of logits (N, C), (N, C, d1, …) or (C), as PyTorch's F.cross_entropy, against
 * either class indices — an int32 tensor, an Int32Array, a number[] or a float tensor of shape
 * (N, d1, …) (a 0-d tensor for unbatched logits) — or class probabilities, a float tensor of the
 * logits' shape. With log-probabilities p = logSoftmax(logits) along the class axis and w the
 * class weights (1 without a weight):
 *
 *   loss_n = −w[y_n] · p[n, y_n]    (0 where y_n = ignoreIndex)
 *
 * 'mean' divides the sum by Σ_n w[y_n] over the targets not ignored (PyTorch's convention, so with
 * weights it is a weighted mean). Label smoothing ε adds the uniform part as PyTorch does:
 * (1 − ε) · reduce(loss_n) + ε / C · reduce(−Σ_c w_c p[n, c]), the second part also masked by
 * ignoreIndex and, for 'mean', divided by the same Σ w[y_n]. For probability targets q (smoothed to
 * (1 − ε) q + ε / C), loss_n = −Σ_c w_c q[n, c] p[n, c] and 'mean' divides by the number of
 * rows (N · d1 · …). The class pick is a gather, so the loss is differentiable to any order.
 */
export function crossEntropy(logits: Tensor, target: Tensor | Int32Array | readonly number[], options: CrossEntropyOptions = {}): Tensor {
  const op = 'crossEntropy';
  checkOptions(op, options, ['reduction', 'weight', 'ignoreIndex', 'labelSmoothing']);
  const { reduction = 'mean', weight = null, ignoreIndex = -100, labelSmoothing = 0 } = options;
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none') {
    throw new Error(`${op}: reduction must be 'mean', 'sum' or 'none', got ${JSON.stringify(reduction)}`);
  }
  if (!(logits instanceof Tensor)) throw new Error(`${op}: logits must be a Tensor, got ${logits === null ? 'null' : typeof logits}`);
  if (logits.dtype === 'int32') throw new Error(`${op}: logits must be float32 or float64, got an int32 tensor of shape ${formatShape(logits.shape)}`);
  if (logits.ndim === 1 && target instanceof Tensor && (target.ndim === 0 || (target.dtype !== 'int32' && target.ndim === 1 && target.shape[0] === logits.shape[0]))) {
    // unbatched (C): one class index (0-d) or one probability vector (C)
    const loss = crossEntropy(logits.unsqueeze(0), target.unsqueeze(0), options);
    return reduction === 'none' ? loss.reshape([]) : loss;
  }
  if (logits.ndim < 2) {
    throw new Error(`${op}: expected logits of shape (N, C), got ${formatShape(logits.shape)} (unbatched logits (C) take a 0-d target tensor)`);
  }
  const classes = logits.shape[1]!;
  if (weight !== null) {
    if (!(weight instanceof Tensor) || weight.ndim !== 1 || weight.shape[0] !== classes) {
      const got = weight instanceof Tensor ? `shape ${formatShape(weight.shape)}` : typeof weight;
      throw new Error(`${op}: weight must be a tensor of shape [${classes}] (one per class) for logits of shape ${formatShape(logits.shape)}, got ${got}`);
    }
    checkSameDtype(op, logits, { weight });
  }
  if (typeof labelSmoothing !== 'number' || !(labelSmoothing >= 0 && labelSmoothing <= 1)) {
    throw new Error(`${op}: labelSmoothing must be a number in [0, 1], got ${JSON.stringify(labelSmoothing)}`);
  }
  if (!Number.isInteger(ignoreIndex)) throw new Error(`${op}: ignoreIndex must be an integer, got ${JSON.stringify(ignoreIndex)}`);
  const logProbabilities = logits.logSoftmax(1);
  const classShape = logits.shape.map((extent, axis) => (axis === 1 ? extent : 1));
  const weighted = (values: Tensor): Tensor => (weight === null ? values : values.mul(weight.reshape(classShape)));
  const smoothing = labelSmoothing;

  if (target instanceof Tensor && target.dtype !== 'int32' && target.ndim === logits.ndim) {
    // class probabilities
    if (target.shape.some((extent, axis) => extent !== logits.shape[axis])) {
      throw new Error(`${op}: probability targets must have the logits' shape ${formatShape(logits.shape)}, got ${formatShape(target.shape)}`);
    }
    checkSameDtype(op, logits, { target });
    const probabilities = smoothing > 0 ? target.mul(1 - smoothing).add(smoothing / classes) : target;
    const losses = weighted(logProbabilities.mul(probabilities)).sum(1).neg();
    return reduce(op, losses, reduction);
  }

  // class indices
  const targetShape = [logits.shape[0]!, ...logits.shape.slice(2)];
  const givenShape = target instanceof Tensor ? target.shape : Array.isArray(target) || target instanceof Int32Array ? [target.length] : null;
  if (givenShape === null) throw new Error(`${op}: target must be a Tensor, an Int32Array or an array of class indices, got ${target === null ? 'null' : typeof target}`);
  if (givenShape.length !== targetShape.length || givenShape.some((extent, axis) => extent !== targetShape[axis])) {
    const count = targetShape.reduce((a, b) => a * b, 1);
    throw new Error(`${op}: target must hold ${count} class indices (shape ${formatShape(targetShape)}) for logits of shape ${formatShape(logits.shape)}, got shape ${formatShape(givenShape)}`);
  }
  // checked over every example's values under vmap, where the indices are computed with tensor ops;
  // a tensor's values are checked as a branch on values, which compile's replays check again
  const found: { invalid: { position: number; value: number } | null } = { invalid: null };
  const valid = (values: ArrayLike<number>): boolean => (found.invalid = firstInvalidClass(values, classes, ignoreIndex)) === null;
  if (target instanceof Tensor) {
    // flattened (a view where the layout allows): the decision reads one strided row
    branchOnValues(allExamples(target).flatten(), ({ data, offset, stride, shape }) => valid(Array.from({ length: shape[0]! }, (_, i) => data[offset + i * stride[0]!]!)));
  } else {
    valid(target);
  }
  if (found.invalid !== null) {
    const { position, value } = found.invalid;
    throw new Error(`${op}: target[${position}] = ${value} is not a class index in [0, ${classes}) for logits of shape ${formatShape(logits.shape)} (nor ignoreIndex ${ignoreIndex})`);
  }
  const indices = target instanceof Tensor ? target : tensor(Int32Array.from(target), { shape: targetShape });
  const ignored = indices.eq(ignoreIndex);
  const index = where(ignored, 0, indices).to('int32');
  const mask = ignored.eq(0).to(logits.dtype);
  const targetWeight = weight === null ? mask : weight.indexSelect(0, index.flatten()).reshape(targetShape).mul(mask);
  const nll = logProbabilities.gather(1, index.unsqueeze(1)).squeeze(1).mul(targetWeight).neg();
  const smooth = smoothing > 0 ? weighted(logProbabilities).sum(1).neg().mul(mask) : null;
  const reduceIndexed = (losses: Tensor): Tensor => (reduction === 'mean' ? losses.sum().div(targetWeight.sum()) : reduce(op, losses, reduction));
  if (smooth === null) return reduceIndexed(nll);
  return reduceIndexed(nll).mul(1 - smoothing).add(reduceIndexed(smooth).mul(smoothing / classes));
}

/** The first entry of `values` that is neither a class index in [0, classes) nor ignoreIndex, or null. */
function firstInvalidClass(values: ArrayLike<number>, classes: number, ignoreIndex: number): { position: number; value: number } | null {
  for (let position = 0; position < values.length; position++) {
    const value = values[position]!;
    if (value === ignoreIndex) continue;
    if (!Number.isInteger(value) || value < 0 || value >= classes) return { position, value };
  }
  return null;
}

