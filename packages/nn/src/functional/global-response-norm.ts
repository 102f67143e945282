import { checkOptions, type Tensor } from '@normgrad/core';
import { checkSameDtype, formatShape, range } from '../util.js';
import { channelAffine, checkChannelVector, checkEps } from './normalize.js';

export interface GlobalResponseNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  eps?: number;
}

/**
 * Global response normalization (Woo et al. 2023, ConvNeXt V2, https://arxiv.org/abs/2301.00808)
 * of x (N, C, *spatial), timm's `GlobalResponseNorm` (channels first):
 *
 *   G_c = ‖x_c‖₂ over the spatial axes      (per sample and channel)
 *   N_c = G_c / (mean_c' G_c' + eps)         (mean over channels)
 *   y   = x + weight · (x · N) + bias
 *
 * weight and bias per channel (a layer starts both at zeros: the identity); a null weight is 1,
 * a null bias 0. A plain composite of core ops.
 */
export function globalResponseNorm(x: Tensor, options: GlobalResponseNormOptions = {}): Tensor {
  const op = 'globalResponseNorm';
  checkOptions(op, options, ['weight', 'bias', 'eps']);
  const { weight = null, bias = null, eps = 1e-6 } = options;
  if (x.ndim < 3) throw new Error(`${op}: expected an input of shape (N, C, *spatial) with at least 3 dimensions, got ${formatShape(x.shape)}`);
  const channels = x.shape[1]!;
  checkChannelVector(op, 'weight', weight, channels, x);
  checkChannelVector(op, 'bias', bias, channels, x);
  checkSameDtype(op, x, { weight, bias });
  checkEps(op, eps);
  const spatialNorm = x.square().sum(range(2, x.ndim), true).sqrt();
  const relative = spatialNorm.div(spatialNorm.mean(1, true).add(eps));
  return channelAffine(channelAffine(x.mul(relative), weight, null).add(x), null, bias);
}
