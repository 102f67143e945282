import { checkOptions, type Tensor } from '@normgrad/core';
import { checkSameDtype, formatShape } from '../util.js';
import { checkElementwiseTensor, trailingNormalizedShape } from './normalize.js';

export interface DynamicTanhOptions {
  /** Elementwise weight shaped like normalizedShape; null: none. */
  weight?: Tensor | null;
  /** Elementwise bias shaped like normalizedShape; null: none. */
  bias?: Tensor | null;
}

/**
 * Dynamic Tanh (Zhu, Chen, He, LeCun & Liu 2025, "Transformers without Normalization",
 * https://arxiv.org/abs/2503.10622), the element-wise replacement of LayerNorm: with a learnable
 * scalar α (a tensor of shape [1]) and weight/bias over the trailing normalizedShape axes,
 *
 *   y = weight · tanh(α · x) + bias
 *
 * No statistics: the same in training and eval, independent of the batch. A plain composite.
 */
export function dynamicTanh(x: Tensor, normalizedShape: number | readonly number[], alpha: Tensor, options: DynamicTanhOptions = {}): Tensor {
  const op = 'dynamicTanh';
  checkOptions(op, options, ['weight', 'bias']);
  const { weight = null, bias = null } = options;
  const shape = trailingNormalizedShape(op, x, normalizedShape);
  if (alpha.ndim !== 1 || alpha.shape[0] !== 1) throw new Error(`${op}: alpha must have shape [1], got ${formatShape(alpha.shape)}`);
  checkElementwiseTensor(op, 'weight', weight, shape);
  checkElementwiseTensor(op, 'bias', bias, shape);
  checkSameDtype(op, x, { alpha, weight, bias });
  let y = x.mul(alpha).tanh();
  if (weight) y = y.mul(weight);
  if (bias) y = y.add(bias);
  return y;
}
