import { checkOptions, type Tensor } from '@normgrad/core';
import { formatShape, product, range } from '../util.js';
import { channelAffine, channelBroadcast, checkRunningNormArgs, checkRunningStatisticsUnderVmap, normalizeOver, standardize, statisticsOver, updateRunningStats } from './normalize.js';

export interface InstanceNormOptions {
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** Normalize with each instance's own statistics (else with the running ones). Default true. */
  useInputStats?: boolean;
  momentum?: number;
  eps?: number;
}

/**
 * Instance normalization (Ulyanov, Vedaldi & Lempitsky 2016, https://arxiv.org/abs/1607.08022)
 * of x (N, C, *spatial): every (sample, channel) slice is normalized over its spatial axes,
 *
 *   y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias        (biased Var, per-channel affine)
 *
 * With useInputStats and running statistics, these are updated as PyTorch does: with the
 * per-instance mean and unbiased variance averaged over the batch,
 *   runningMean = (1 - momentum) * runningMean + momentum * mean_n(E[x_n])
 *   runningVar  = (1 - momentum) * runningVar  + momentum * mean_n(Var[x_n] * L / (L - 1)).
 * Without useInputStats the running statistics normalize. A plain composite of core ops
 * (normalizeOver with one statistic per sample and channel, the per-channel affine folded in).
 * Inside a vmap over the examples of a batch, updating the running statistics is an Error (the
 * update averages over the batch); over stacked running statistics (an ensemble) each updates its own.
 */
export function instanceNorm(x: Tensor, options: InstanceNormOptions = {}): Tensor {
  const op = 'instanceNorm';
  checkOptions(op, options, ['runningMean', 'runningVar', 'weight', 'bias', 'useInputStats', 'momentum', 'eps']);
  const { runningMean = null, runningVar = null, weight = null, bias = null, useInputStats = true, momentum = 0.1, eps = 1e-5 } = options;
  if (x.ndim < 3) throw new Error(`${op}: expected an input of shape (N, C, *spatial) with at least 3 dimensions, got ${formatShape(x.shape)}`);
  const channels = x.shape[1]!;
  checkRunningNormArgs(op, x, { weight, bias, runningMean, runningVar }, eps, momentum);

  const channelShape = x.shape.map((extent, axis) => (axis === 1 ? extent : 1));
  if (!useInputStats) {
    if (!runningMean || !runningVar) throw new Error(`${op}: runningMean and runningVar must be given when useInputStats is false`);
    return channelAffine(standardize(x, runningMean.reshape(channelShape), runningVar.reshape(channelShape), eps), weight, bias);
  }
  const spatialSize = product(x.shape.slice(2));
  if (spatialSize === 1) {
    throw new Error(`${op}: Expected more than 1 spatial element when training, got input size ${formatShape(x.shape)}`);
  }
  if (runningMean && runningVar) checkRunningStatisticsUnderVmap(op, x, [runningMean, runningVar]);
  const spatialAxes = range(2, x.ndim);
  const { mean, variance, affine } = normalizeOver(x, statisticsOver(x, spatialAxes), eps); // statistics (N, C, 1, ...)
  // An empty batch (N = 0 or a spatial extent 0) has no statistics: the running ones stay as they are.
  if (runningMean && runningVar && x.size > 0) {
    const batchMean = mean.mean(0).reshape([channels]);
    const batchUnbiasedVar = variance.mul(spatialSize / (spatialSize - 1)).mean(0).reshape([channels]);
    updateRunningStats(runningMean, runningVar, batchMean, batchUnbiasedVar, momentum);
  }
  return affine(channelBroadcast(x, weight), channelBroadcast(x, bias));
}
