import { checkOptions, Tensor } from '@normgrad/core';
import { checkSameDtype, formatShape, range } from '../util.js';
import { channelAffine, checkChannelVector, checkEps } from './normalize.js';

export interface FilterResponseNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** TLU threshold per channel; null: no TLU (the normalization and affine only). */
  tau?: Tensor | null;
  /** Added to ν²: a number, or a tensor of shape [1] (a learned eps, used as given). Default 1e-6. */
  eps?: number | Tensor;
}

/**
 * Filter response normalization with the thresholded linear unit (Singh & Krishnan 2019,
 * https://arxiv.org/abs/1911.09737) of x (N, C, *spatial), per sample and channel:
 *
 *   ν² = mean(x², spatial axes)
 *   y  = weight · x / sqrt(ν² + eps) + bias
 *   z  = max(y, tau)                       (TLU, when tau is given)
 *
 * No mean subtraction and no batch statistics: the same in training and eval. A plain composite
 * (TLU's max has a kink at y = tau; the gradient there is split between the two sides).
 */
export function filterResponseNorm(x: Tensor, options: FilterResponseNormOptions = {}): Tensor {
  const op = 'filterResponseNorm';
  checkOptions(op, options, ['weight', 'bias', 'tau', 'eps']);
  const { weight = null, bias = null, tau = null, eps = 1e-6 } = options;
  if (x.ndim < 3) throw new Error(`${op}: expected an input of shape (N, C, *spatial) with at least 3 dimensions, got ${formatShape(x.shape)}`);
  const channels = x.shape[1]!;
  for (const [name, t] of [['weight', weight], ['bias', bias], ['tau', tau]] as const) checkChannelVector(op, name, t, channels, x);
  if (eps instanceof Tensor) {
    if (eps.ndim !== 1 || eps.shape[0] !== 1) throw new Error(`${op}: a tensor eps must have shape [1], got ${formatShape(eps.shape)}`);
  } else checkEps(op, eps);
  checkSameDtype(op, x, { weight, bias, tau, eps: eps instanceof Tensor ? eps : null });
  const meanSquare = x.square().mean(range(2, x.ndim), true);
  const y = channelAffine(x.mul(meanSquare.add(eps).rsqrt()), weight, bias);
  if (!tau) return y;
  return y.maximum(tau.reshape(x.shape.map((extent, axis) => (axis === 1 ? extent : 1))));
}
