import { checkOptions, tensor, type Tensor } from '@normgrad/core';
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

/**
 * Cross entropy of logits (N, C) against integer class indices (N):
 *   loss_n = -logSoftmax(logits)[n, target_n] = logsumexp(logits_n) - logits[n, target_n]
 * computed through logSoftmax, so large logits do not overflow. The class pick is a product with
 * a constant one-hot matrix, so it is differentiable to any order.
 */
export function crossEntropy(logits: Tensor, target: Tensor | Int32Array | readonly number[], options: { reduction?: Reduction } = {}): Tensor {
  const op = 'crossEntropy';
  if (logits.ndim !== 2) throw new Error(`${op}: expected logits of shape (N, C), got ${formatShape(logits.shape)}`);
  const [batch, classes] = [logits.shape[0]!, logits.shape[1]!];
  const targetShape = Array.isArray(target) || target instanceof Int32Array ? [target.length] : (target as Tensor).shape;
  const indices = Array.isArray(target) || target instanceof Int32Array ? Array.from(target) : Array.from((target as Tensor).toFloat64Array());
  if (targetShape.length !== 1 || indices.length !== batch) {
    throw new Error(`${op}: target must hold ${batch} class indices (shape [${batch}]) for logits of shape ${formatShape(logits.shape)}, got shape ${formatShape(targetShape)}`);
  }
  const oneHot = new Float64Array(batch * classes);
  indices.forEach((cls, n) => {
    if (!Number.isInteger(cls) || cls < 0 || cls >= classes) {
      throw new Error(`${op}: target[${n}] = ${cls} is not a class index in [0, ${classes}) for logits of shape ${formatShape(logits.shape)}`);
    }
    oneHot[n * classes + cls] = 1;
  });
  const picks = tensor(oneHot, { shape: [batch, classes], dtype: logits.dtype });
  const losses = logits.logSoftmax(1).mul(picks).sum(1).neg();
  return reduce(op, losses, options.reduction ?? 'mean');
}
