import { checkOptions, type Tensor } from '@normgrad/core';
import { checkSameDtype, formatShape, product, range } from '../util.js';
import { channelAffine, checkChannelTensors, checkEps, checkMomentum, updateRunningStats } from './normalize.js';

export interface SwitchableNormOptions {
  /** Mixing weights of the IN, LN (and BN) means: non-negative, shape [3] (or [2] without BN). */
  meanWeights: Tensor;
  /** Mixing weights of the IN, LN (and BN) variances, same shape as meanWeights. */
  varWeights: Tensor;
  /** BN branch: running statistics, updated in training and used in eval (when given). */
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** BN branch uses batch statistics (and updates the running ones). Default false. */
  training?: boolean;
  momentum?: number;
  eps?: number;
}

/**
 * Switchable normalization (Luo, Ren, Peng, Zhang & Li 2018, https://arxiv.org/abs/1806.10779)
 * of x (N, C, *spatial): the statistics of instance, layer and batch normalization,
 *
 *   μ_IN, σ²_IN over the spatial axes (per sample and channel)
 *   μ_LN, σ²_LN over channels and spatial axes (per sample)
 *   μ_BN, σ²_BN over batch and spatial axes (per channel; the running ones in eval)
 *
 * are mixed with the given weights (a layer passes softmaxes of learned logits),
 *
 *   μ = Σ_k w_k μ_k,  σ² = Σ_k w'_k σ²_k,  y = (x - μ) / sqrt(σ² + eps) · weight + bias,
 *
 * all variances biased, so one-hot weights give exactly instanceNorm, layerNorm or batchNorm.
 * With two weights there is no BN branch. The running statistics of the BN branch are updated
 * as BatchNorm's (momentum convention and unbiased variance). A plain composite of core ops.
 */
export function switchableNorm(x: Tensor, options: SwitchableNormOptions): Tensor {
  const op = 'switchableNorm';
  checkOptions(op, options, ['meanWeights', 'varWeights', 'runningMean', 'runningVar', 'weight', 'bias', 'training', 'momentum', 'eps']);
  const { meanWeights, varWeights, runningMean = null, runningVar = null, weight = null, bias = null, training = false, momentum = 0.1, eps = 1e-5 } = options;
  if (x.ndim < 3) throw new Error(`${op}: expected an input of shape (N, C, *spatial) with at least 3 dimensions, got ${formatShape(x.shape)}`);
  for (const [name, w] of [['meanWeights', meanWeights], ['varWeights', varWeights]] as const) {
    if (!w || w.ndim !== 1 || (w.shape[0] !== 3 && w.shape[0] !== 2)) {
      throw new Error(`${op}: ${name} must have shape [3] (IN, LN, BN) or [2] (IN, LN), got ${w ? formatShape(w.shape) : String(w)}`);
    }
  }
  if (meanWeights.shape[0] !== varWeights.shape[0]) {
    throw new Error(`${op}: meanWeights and varWeights must have the same shape, got ${formatShape(meanWeights.shape)} and ${formatShape(varWeights.shape)}`);
  }
  checkChannelTensors(op, x, { weight, bias, runningMean, runningVar });
  checkSameDtype(op, x, { meanWeights, varWeights, weight, bias, runningMean, runningVar });
  checkEps(op, eps);
  checkMomentum(op, momentum);
  const spatialSize = product(x.shape.slice(2));
  if (spatialSize === 1) {
    throw new Error(`${op}: Expected more than 1 spatial element (instance statistics), got input size ${formatShape(x.shape)}`);
  }

  const spatialAxes = range(2, x.ndim);
  const means = [x.mean(spatialAxes, true), x.mean(range(1, x.ndim), true)];
  const variances = [x.var(spatialAxes, { correction: 0, keepdims: true }), x.var(range(1, x.ndim), { correction: 0, keepdims: true })];
  if (meanWeights.shape[0] === 3) {
    const [batchMean, batchVar] = batchStatistics(x, runningMean, runningVar, training, momentum);
    means.push(batchMean);
    variances.push(batchVar);
  }
  const mean = mix(means, meanWeights);
  const variance = mix(variances, varWeights);
  return channelAffine(x.sub(mean).mul(variance.add(eps).rsqrt()), weight, bias);
}

/** BN-branch statistics, shape (1, C, 1, ...): the batch's (updating the running ones) or the running ones. */
function batchStatistics(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, training: boolean, momentum: number): [Tensor, Tensor] {
  const channelShape = x.shape.map((extent, axis) => (axis === 1 ? extent : 1));
  if (!training && runningMean && runningVar) return [runningMean.reshape(channelShape), runningVar.reshape(channelShape)];
  const statAxes = [0, ...range(2, x.ndim)];
  const mean = x.mean(statAxes, true);
  const variance = x.var(statAxes, { correction: 0, keepdims: true });
  if (training && runningMean && runningVar) {
    const n = x.size / x.shape[1]!;
    updateRunningStats(runningMean, runningVar, mean.reshape([x.shape[1]!]), variance.mul(n / (n - 1)).reshape([x.shape[1]!]), momentum);
  }
  return [mean, variance];
}

/** Σ_k weights[k] · statistics[k], broadcast to (N, C, 1, ...). */
function mix(statistics: Tensor[], weights: Tensor): Tensor {
  return statistics.map((statistic, k) => statistic.mul(weights.slice([k, k + 1]))).reduce((total, term) => total.add(term));
}
