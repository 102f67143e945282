import { checkOptions, meanAbsScale, moments, ones, scaledRsqrt, type Tensor } from '@normgrad/core';
import { checkSameDtype, formatShape, product, range } from '../util.js';
import { channelAffine, checkChannelTensors, checkEps, checkMomentum, updateRunningStats, checkBatchStatisticsUnderVmap } from './normalize.js';

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
 * are mixed with the given weights (a layer passes softmaxes of learned logits), normalized to sum to 1,
 *
 *   μ = Σ_k w_k μ_k / Σ_k w_k,  σ² = Σ_k w'_k σ²_k / Σ_k w'_k,  y = (x - μ) / sqrt(σ² + eps) · weight + bias,
 *
 * all variances biased, so one-hot weights give exactly instanceNorm, layerNorm or batchNorm.
 * x − μ is formed as Σ_k w_k (x − μ_k) / Σ_k w_k, each deviation from its own statistic, and every
 * term over one common scale (mean |x − μ_LN|, see core's moments), so float32 is right at large means and at every
 * magnitude where the result is representable. Through softmax weights the gradients with respect
 * to the logits are those of the unnormalized formula (softmax's Jacobian removes the difference).
 * With two weights there is no BN branch. The running statistics of the BN branch are updated
 * as BatchNorm's (momentum convention and unbiased variance). A plain composite of core ops.
 */
export function switchableNorm(x: Tensor, options: SwitchableNormOptions): Tensor {
  const op = 'switchableNorm';
  checkOptions(op, options, ['meanWeights', 'varWeights', 'runningMean', 'runningVar', 'weight', 'bias', 'training', 'momentum', 'eps']);
  const { meanWeights, varWeights, runningMean = null, runningVar = null, weight = null, bias = null, training = false, momentum = 0.1, eps = 1e-5 } = options;
  // the BN branch (three mixing weights) uses batch statistics in training and without running ones
  if ((training || runningMean === null) && meanWeights?.shape[0] === 3) {
    checkBatchStatisticsUnderVmap(op, x, [runningMean, runningVar, weight, bias, meanWeights, varWeights]);
  }
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
  const allAxes = range(0, x.ndim);
  const layerMean = x.mean(range(1, x.ndim), true);
  // One scale for every branch, mean |x − μ_LN| over the whole input (a constant of the graph), so
  // the deviations and variances of all branches are in one unit and their squares stay in range.
  const scale = meanAbsScale(x.sub(layerMean), allAxes);
  const branches = [scaledBranch(x, x.mean(spatialAxes, true), spatialAxes, scale), scaledBranch(x, layerMean, range(1, x.ndim), scale)];
  if (meanWeights.shape[0] === 3) branches.push(batchBranch(x, runningMean, runningVar, training, momentum, scale));
  const deviation = mix(branches.map((branch) => branch.scaledDeviation), meanWeights);
  const variance = mix(branches.map((branch) => branch.scaledVariance), varWeights);
  return channelAffine(deviation.mul(scaledRsqrt(variance, scale, eps)), weight, bias);
}

/** A branch's deviations x − μ_k and biased variance, both over the common scale. */
interface ScaledBranch {
  scaledDeviation: Tensor;
  scaledVariance: Tensor;
}

/**
 * (x − μ) / scale corrected for the rounding of μ (as core's moments), and its mean square over
 * the axes: the branch's biased variance over scale².
 */
function scaledBranch(x: Tensor, mean: Tensor, axes: number[], scale: Tensor): ScaledBranch {
  const scaled = x.sub(mean).div(scale);
  const scaledDeviation = scaled.sub(scaled.mean(axes, true));
  return { scaledDeviation, scaledVariance: scaledDeviation.square().mean(axes, true) };
}

/** The BN branch, statistics of shape (1, C, 1, ...): the batch's (updating the running ones) or the running ones. */
function batchBranch(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, training: boolean, momentum: number, scale: Tensor): ScaledBranch {
  const channelShape = x.shape.map((extent, axis) => (axis === 1 ? extent : 1));
  const statAxes = [0, ...range(2, x.ndim)];
  if (!training && runningMean && runningVar) {
    return { scaledDeviation: x.sub(runningMean.reshape(channelShape)).div(scale), scaledVariance: runningVar.reshape(channelShape).div(scale).div(scale) };
  }
  // core's moments, so that the running update is batchNorm's to the last bit; its terms are then
  // brought to the common scale.
  const statistics = moments(x, statAxes, { correction: 0 });
  // An empty batch (N = 0 or a spatial extent 0) has no statistics: the running ones stay as they are.
  if (training && runningMean && runningVar && x.size > 0) {
    const n = x.size / x.shape[1]!;
    const channels = [x.shape[1]!];
    updateRunningStats(runningMean, runningVar, statistics.mean.reshape(channels), statistics.variance.mul(n / (n - 1)).reshape(channels), momentum);
  }
  const ratio = statistics.scale.div(scale);
  return { scaledDeviation: statistics.scaledDeviation.mul(ratio), scaledVariance: statistics.scaledVariance.mul(ratio.square()) };
}

/**
 * Σ_k weights[k] · terms[k] / Σ_k weights[k], broadcast to (N, C, 1, ...). Mixing the deviations
 * x − μ_k rather than the means keeps float32 exact at large means: the mixed mean
 * Σ_k w_k μ_k / Σ_k w_k is never formed, so its rounding never meets x.
 */
function mix(terms: Tensor[], weights: Tensor): Tensor {
  return terms.map((term, k) => term.mul(weights.slice([k, k + 1]))).reduce((total, term) => total.add(term)).div(weights.sum());
}
