import { checkOptions, noGrad, type Tensor } from '@normgrad/core';
import { formatShape } from '../util.js';
import { channelBroadcast, channelStatistics, checkBatchStatisticsUnderVmap, checkMoreThanOneValuePerChannel, checkRunningNormArgs, normalizeOver, standardize, updateRunningStats, valuesPerChannel } from './normalize.js';

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** Normalize with batch statistics (and update the running ones, when given). Default false. */
  training?: boolean;
  /** Weight of the new batch in the running statistics. Default 0.1. */
  momentum?: number;
  eps?: number;
}

/**
 * Batch normalization (Ioffe & Szegedy 2015, https://arxiv.org/abs/1502.03167) of x (N, C, *):
 *
 *   y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias
 *
 * with E and Var over every axis but the channel axis 1. In training (or when no running
 * statistics are given) they are the batch mean and the biased batch variance, and the running
 * statistics, when given, are updated in place as PyTorch does:
 *   runningMean = (1 - momentum) * runningMean + momentum * E[x]
 *   runningVar  = (1 - momentum) * runningVar  + momentum * Var[x] * n / (n - 1)   (unbiased)
 * Otherwise (eval) E and Var are runningMean and runningVar.
 * A plain composite of core ops: every derivative, of any order, comes from autodiff.
 */
export function batchNorm(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, options: BatchNormOptions = {}): Tensor {
  return batchNormWithAffine(x, runningMean, runningVar, options, null);
}

/** An affine applied after normalizing: scale and offset broadcast against x. */
export interface BroadcastAffine {
  scale: Tensor;
  offset: Tensor;
}

/**
 * batchNorm with its affine given as `broadcastAffine` (e.g. one scale and offset per sample and
 * channel, conditionalBatchNorm's) instead of weight and bias, or null for batchNorm's own.
 */
export function batchNormWithAffine(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  options: BatchNormOptions,
  broadcastAffine: BroadcastAffine | null,
): Tensor {
  const op = 'batchNorm';
  checkOptions(op, options, ['weight', 'bias', 'training', 'momentum', 'eps']);
  const { weight = null, bias = null, training = false, momentum = 0.1, eps = 1e-5 } = options;
  if (training) checkBatchStatisticsUnderVmap(op, x, [runningMean, runningVar, weight, bias]);
  if (x.ndim < 2) throw new Error(`${op}: expected an input of shape (N, C, *) with at least 2 dimensions, got ${formatShape(x.shape)}`);
  const channels = x.shape[1]!;
  checkRunningNormArgs(op, x, { weight, bias, runningMean, runningVar }, eps, momentum);

  const scale = broadcastAffine ? broadcastAffine.scale : channelBroadcast(x, weight);
  const offset = broadcastAffine ? broadcastAffine.offset : channelBroadcast(x, bias);
  if (training) {
    checkMoreThanOneValuePerChannel(op, x);
    const { mean, variance, affine } = normalizeOver(x, channelStatistics(x), eps);
    // An empty batch (N = 0 or a spatial extent 0) has no statistics: the running ones stay as they are.
    if (runningMean && runningVar && x.size > 0) {
      const n = valuesPerChannel(x);
      // outside the graph: the running statistics have no gradient
      noGrad(() => updateRunningStats(runningMean, runningVar, mean.reshape([channels]), variance.mul(n / (n - 1)).reshape([channels]), momentum));
    }
    return affine(scale, offset);
  }
  if (!runningMean || !runningVar) throw new Error(`${op}: runningMean and runningVar must be given when training is false`);
  const y = standardize(x, channelBroadcast(x, runningMean)!, channelBroadcast(x, runningVar)!, eps);
  const scaled = scale ? y.mul(scale) : y;
  return offset ? scaled.add(offset) : scaled;
}
