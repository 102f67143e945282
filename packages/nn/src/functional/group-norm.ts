import type { Tensor } from '@normgrad/core';
import { checkSameDtype, formatShape, product } from '../util.js';
import { channelAffine, checkChannelVector, checkEps, standardizeOver } from './normalize.js';

export interface GroupNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  eps?: number;
}

/**
 * Group normalization (Wu & He 2018, https://arxiv.org/abs/1803.08494) of x (N, C, *): the C
 * channels are split into numGroups groups of C / numGroups consecutive channels, and each
 * (sample, group) is normalized over its channels and spatial positions,
 *
 *   y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias        (biased Var, per-channel affine)
 *
 * numGroups = 1 is LayerNorm over (C, *) with per-channel affine; numGroups = C is InstanceNorm.
 * A plain composite of core ops.
 */
export function groupNorm(x: Tensor, numGroups: number, options: GroupNormOptions = {}): Tensor {
  const op = 'groupNorm';
  const { weight = null, bias = null, eps = 1e-5 } = options;
  if (x.ndim < 2) throw new Error(`${op}: expected an input of shape (N, C, *) with at least 2 dimensions, got ${formatShape(x.shape)}`);
  const [batch, channels] = [x.shape[0]!, x.shape[1]!];
  if (!Number.isInteger(numGroups) || numGroups < 1 || channels % numGroups !== 0) {
    throw new Error(`${op}: the ${channels} channels of input of shape ${formatShape(x.shape)} must divide into numGroups = ${numGroups} groups`);
  }
  checkChannelVector(op, 'weight', weight, channels, x);
  checkChannelVector(op, 'bias', bias, channels, x);
  checkSameDtype(op, x, { weight, bias });
  checkEps(op, eps);
  // PyTorch's check (F.group_norm): N * C / G * prod(spatial) values must exceed one.
  const checkedSize = [(batch * channels) / numGroups, numGroups, ...x.shape.slice(2)];
  if (checkedSize[0]! * product(checkedSize.slice(2)) === 1) {
    throw new Error(`${op}: Expected more than 1 value per channel when training, got input size ${formatShape(checkedSize)}`);
  }
  const grouped = x.reshape([batch, numGroups, x.size / (batch * numGroups)]);
  const y = standardizeOver(grouped, [2], eps).normalized.reshape(x.shape);
  return channelAffine(y, weight, bias);
}
