import { checkOptions, stopGradient, type Tensor } from '@normgrad/core';
import { formatShape } from '../util.js';
import { channelAffine, checkMoreThanOneValuePerChannel, checkRunningNormArgs, standardize, normalizeOver, channelStatistics, channelBroadcast, updateRunningStats, valuesPerChannel, checkBatchStatisticsUnderVmap } from './normalize.js';

export interface BatchRenormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** Normalize with corrected batch statistics and update the running ones. Default false (eval). */
  training?: boolean;
  /** Weight of the new batch in the running statistics (PyTorch convention). Default 0.01. */
  momentum?: number;
  eps?: number;
  /** Clip r to [1 / rMax, rMax]; rMax >= 1. Default 3. */
  rMax?: number;
  /** Clip d to [-dMax, dMax]; dMax >= 0. Default 5. */
  dMax?: number;
}

/**
 * Batch renormalization (Ioffe 2017, https://arxiv.org/abs/1702.03275) of x (N, C, *). In
 * training, with batch statistics μ_B, σ_B = sqrt(Var_B[x] + eps) (biased Var, over every axis
 * but the channel axis 1) and running ones μ = runningMean, σ = sqrt(runningVar + eps):
 *
 *   r = stopGradient(clip(σ_B / σ, 1 / rMax, rMax))
 *   d = stopGradient(clip((μ_B - μ) / σ, -dMax, dMax))
 *   y = ((x - μ_B) / σ_B · r + d) · weight + bias
 *
 * r and d are computed from the running statistics before this batch updates them:
 *   runningMean += momentum · (μ_B - runningMean)
 *   runningVar  += momentum · (Var_B[x] · n / (n - 1) - runningVar)      (unbiased, as BatchNorm)
 * The paper moves σ itself (σ += momentum · (σ_B - σ)); keeping the variance, as BatchNorm does,
 * makes batchRenorm with rMax = 1, dMax = 0 equal batchNorm in output and running statistics.
 * In eval y = (x - μ) / σ · weight + bias, BatchNorm's eval formula.
 * A plain composite of core ops: r and d are stopGradient values, every other term is differentiated.
 */
export function batchRenorm(x: Tensor, runningMean: Tensor, runningVar: Tensor, options: BatchRenormOptions = {}): Tensor {
  const op = 'batchRenorm';
  checkOptions(op, options, ['weight', 'bias', 'training', 'momentum', 'eps', 'rMax', 'dMax']);
  const { weight = null, bias = null, training = false, momentum = 0.01, eps = 1e-3, rMax = 3, dMax = 5 } = options;
  if (training) checkBatchStatisticsUnderVmap(op, x, [runningMean, runningVar, weight, bias]);
  if (x.ndim < 2) throw new Error(`${op}: expected an input of shape (N, C, *) with at least 2 dimensions, got ${formatShape(x.shape)}`);
  const channels = x.shape[1]!;
  if (!runningMean || !runningVar) throw new Error(`${op}: runningMean and runningVar are required (r and d compare the batch with them)`);
  checkRunningNormArgs(op, x, { weight, bias, runningMean, runningVar }, eps, momentum);
  checkClipping(op, rMax, dMax);

  const channelShape = x.shape.map((extent, axis) => (axis === 1 ? extent : 1));
  const mu = runningMean.reshape(channelShape);
  const sigma = runningVar.reshape(channelShape).add(eps).sqrt();
  if (!training) return channelAffine(standardize(x, mu, runningVar.reshape(channelShape), eps), weight, bias);

  checkMoreThanOneValuePerChannel(op, x);
  const { mean: batchMean, variance: batchVar, affine } = normalizeOver(x, channelStatistics(x), eps);
  const r = stopGradient(batchVar.add(eps).sqrt().div(sigma).clamp(1 / rMax, rMax));
  const d = stopGradient(batchMean.sub(mu).div(sigma).clamp(-dMax, dMax));
  const n = valuesPerChannel(x);
  const unbiasedVar = batchVar.mul(n / (n - 1));
  // An empty batch (N = 0 or a spatial extent 0) has no statistics: the running ones stay as they are.
  if (x.size > 0) updateRunningStats(runningMean, runningVar, batchMean.reshape([channels]), unbiasedVar.reshape([channels]), momentum);
  // (normalized · r + d) · weight + bias
  const [channelWeight, channelBias] = [channelBroadcast(x, weight), channelBroadcast(x, bias)];
  const offset = channelWeight ? d.mul(channelWeight) : d;
  return affine(channelWeight ? r.mul(channelWeight) : r, channelBias ? offset.add(channelBias) : offset);
}

/** rMax >= 1 and dMax >= 0, both finite. */
export function checkClipping(op: string, rMax: number, dMax: number): void {
  if (!Number.isFinite(rMax) || rMax < 1) throw new Error(`${op}: rMax must be a finite number >= 1, got ${rMax}`);
  if (!Number.isFinite(dMax) || dMax < 0) throw new Error(`${op}: dMax must be a finite number >= 0, got ${dMax}`);
}
