import { checkOptions, type Tensor } from '@normgrad/core';
import { checkSameDtype, formatShape } from '../util.js';
import { checkEps } from './normalize.js';

export interface ScaleNormOptions {
  /** Lower bound of the norm. Default 1e-5. */
  eps?: number;
}

/**
 * ScaleNorm (Nguyen & Salazar 2019, "Transformers without Tears",
 * https://arxiv.org/abs/1910.05895) over the last axis, with a learnable scalar g (a tensor of
 * shape [1]):
 *
 *   y = g · x / max(‖x‖₂, eps)
 *
 * The clamped norm is computed as sqrt(max(Σ x², eps²)), the same value, with a finite gradient
 * at x = 0. No statistics over the batch. A plain composite of core ops.
 */
export function scaleNorm(x: Tensor, scale: Tensor, options: ScaleNormOptions = {}): Tensor {
  const op = 'scaleNorm';
  checkOptions(op, options, ['eps']);
  const { eps = 1e-5 } = options;
  if (x.ndim < 1) throw new Error(`${op}: expected an input with at least 1 dimension (features last), got ${formatShape(x.shape)}`);
  if (scale.ndim !== 1 || scale.shape[0] !== 1) throw new Error(`${op}: scale must have shape [1], got ${formatShape(scale.shape)}`);
  checkSameDtype(op, x, { scale });
  checkEps(op, eps);
  const norm = x.square().sum(-1, true).maximum(eps * eps).sqrt();
  return x.mul(scale.div(norm));
}
