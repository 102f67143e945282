import { checkOptions, type Tensor } from '@normgrad/core';
import { formatShape, range } from '../util.js';
import { channelAffine, checkMoreThanOneValuePerChannel, checkRunningNormArgs, standardize, standardizeOver, updateRunningStats, valuesPerChannel, checkBatchStatisticsUnderVmap } from './normalize.js';

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
  const op = 'batchNorm';
  checkOptions(op, options, ['weight', 'bias', 'training', 'momentum', 'eps']);
  const { weight = null, bias = null, training = false, momentum = 0.1, eps = 1e-5 } = options;
  if (training) checkBatchStatisticsUnderVmap(op, x, [runningMean, runningVar, weight, bias]);
  if (x.ndim < 2) throw new Error(`${op}: expected an input of shape (N, C, *) with at least 2 dimensions, got ${formatShape(x.shape)}`);
  const channels = x.shape[1]!;
  checkRunningNormArgs(op, x, { weight, bias, runningMean, runningVar }, eps, momentum);

  const statAxes = [0, ...range(2, x.ndim)];
  const channelShape = x.shape.map((extent, axis) => (axis === 1 ? extent : 1));
  if (training) {
    checkMoreThanOneValuePerChannel(op, x);
    const { normalized, mean, variance } = standardizeOver(x, statAxes, eps);
    // An empty batch (N = 0 or a spatial extent 0) has no statistics: the running ones stay as they are.
    if (runningMean && runningVar && x.size > 0) {
      const n = valuesPerChannel(x);
      const unbiased = variance.mul(n / (n - 1));
      updateRunningStats(runningMean, runningVar, mean.reshape([channels]), unbiased.reshape([channels]), momentum);
    }
    return channelAffine(normalized, weight, bias);
  }
  if (!runningMean || !runningVar) throw new Error(`${op}: runningMean and runningVar must be given when training is false`);
  const y = standardize(x, runningMean.reshape(channelShape), runningVar.reshape(channelShape), eps);
  return channelAffine(y, weight, bias);
}
