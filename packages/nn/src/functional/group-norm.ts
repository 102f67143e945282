import { checkOptions, sumFloat64, type Tensor } from '@normgrad/core';
import { checkSameDtype, formatShape, product, range } from '../util.js';
import { checkChannelVector, checkEps, normalizeOver, channelBroadcast } from './normalize.js';

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
 * A plain composite of core ops (normalizeOver, as batchNorm). The statistics are summed
 * per channel and then per group, and are spread back to one value per (sample, channel), where
 * they fold with the per-channel affine: x and everything of its size keep the (N, C, *) layout,
 * so the elementwise work fuses with the reductions.
 */
export function groupNorm(x: Tensor, numGroups: number, options: GroupNormOptions = {}): Tensor {
  const op = 'groupNorm';
  checkOptions(op, options, ['weight', 'bias', 'eps']);
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
  const channelsPerGroup = channels / numGroups;
  const spatialAxes = range(2, x.ndim);
  const count = channelsPerGroup * product(x.shape.slice(2));
  // (N, C, *) → per-(sample, group) sums (N, G, 1), and back to one value per channel (N, C, 1, …)
  const channelSum = (t: Tensor, asFloat64: boolean): Tensor =>
    spatialAxes.length === 0 ? (asFloat64 ? t.to('float64') : t) : asFloat64 ? sumFloat64(t, spatialAxes) : t.sum(spatialAxes);
  const groupSum = (t: Tensor, asFloat64 = false): Tensor => channelSum(t, asFloat64).reshape([batch, numGroups, channelsPerGroup]).sum(2, true);
  const perChannel = (t: Tensor): Tensor => t.broadcastTo([batch, numGroups, channelsPerGroup]).reshape([batch, channels, ...spatialAxes.map(() => 1)]);
  return normalizeOver(x, { sum: groupSum, spread: perChannel, count }, eps).affine(channelBroadcast(x, weight), channelBroadcast(x, bias));
}
