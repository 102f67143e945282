import { assignInPlace, moments, noGrad, ones, scaledRsqrt, sumFloat64, vmapLevels, withinSquareRange, type Tensor } from '@normgrad/core';
import { checkPositiveFinite, checkSameDtype, formatShape, product, range } from '../util.js';

/**
 * The statistics over `axes` and x standardized with them, (x − mean) / sqrt(variance + eps),
 * biased variance; built on core's moments, so the mean and the deviations are computed once, and
 * normalized from its scaled statistics, so float32 is right at every magnitude where the result is.
 */
export function standardizeOver(x: Tensor, axes: number[], eps: number): { normalized: Tensor; mean: Tensor; variance: Tensor } {
  const statistics = moments(x, axes, { correction: 0 });
  return { normalized: statistics.normalized(eps), mean: statistics.mean, variance: statistics.variance };
}

/**
 * How a norm groups the values of x (N, C, *) into statistics: `sum` adds up each statistic's
 * values (an x-shaped tensor to the statistics' shape; as float64, unrounded, when asked: core's
 * sumFloat64), `spread` puts a statistic back into a shape that broadcasts against x with one
 * value per channel (or per sample and channel), and `count` is how many values of x each
 * statistic is taken over.
 */
export interface StatisticsLayout {
  sum(t: Tensor, asFloat64?: boolean): Tensor;
  spread(statistic: Tensor): Tensor;
  count: number;
}

/** The batch statistics of normalizeOver and x normalized with them, ready for an affine. */
export interface Normalization {
  /** The mean, the statistics' shape. */
  mean: Tensor;
  /** The biased variance, the statistics' shape. */
  variance: Tensor;
  /**
   * normalized · scale + offset for scale and offset that broadcast against x (per channel, or per
   * sample and channel; null for 1 and 0), the per-channel terms folded (see normalizeOver).
   */
  affine(scale: Tensor | null, offset: Tensor | null): Tensor;
}

/**
 * x normalized over the layout's statistics, (x − E[x]) / sqrt(Var[x] + eps) (biased Var), and
 * the statistics; `affine` applies a per-channel affine. The same function of x as core's
 * moments(...).normalized(eps), in fewer passes over x, forward and backward:
 * - The deviations e = x − m̄ are taken from the mean's value m̄ (a constant of the graph); the
 *   mean's derivatives come in through the zero shift δ = m − m̄ instead, by the identities
 *   x − m = e − δ and Var[x] = E[e²] − δ², so that no x-sized gradient is summed for the mean.
 * - The variance is the corrected two-pass one (Chan, Golub & LeVeque 1983), E[e²] − r² with the
 *   rounding of the mean r = E[e] (zero in exact arithmetic, a constant of the graph); r is
 *   subtracted from the normalized values too, so float32 data with a large mean and a small spread
 *   neither cancels (never E[x²] − E[x]²) nor keeps the mean's rounding. For float32 x, r is the
 *   float32 mean's rounding, Σx/n − m̄, from the float64 sum behind the mean (the same to float32
 *   rounding, without a pass over x); for float64 x it is the sum of the deviations.
 * - Where the squares would leave float range the deviations are divided by their mean magnitude
 *   s (a constant of the graph, as core's meanAbsScale), so float32 is right at every magnitude.
 * - The per-channel terms fold: normalized · a + b = e/s · F + (b − (δ/s + r) · F) with
 *   F = a · rsqrt(Var/s² + eps/s²), so the backward of y sums only g and g · e/s over x.
 * Every op is an ordinary differentiable one, and the function is the plain formula's (δ is zero
 * and r and s are constants), so every derivative, of any order, is that of the plain formula.
 */
export function normalizeOver(x: Tensor, layout: StatisticsLayout, eps: number): Normalization {
  const { sum, spread, count } = layout;
  // float32: the mean from its float64 sum, whose rounding is then known exactly (float64 − float32 is exact)
  const exactMean = x.dtype === 'float32' ? sum(x, true).div(count) : null;
  const mean = exactMean ? exactMean.to(x.dtype) : sum(x).div(count);
  const meanValue = mean.detach();
  const meanRounding = exactMean && exactMean.detach().sub(meanValue.to('float64')).to(x.dtype);
  const deviation = x.sub(spread(meanValue));
  const meanShift = mean.sub(meanValue);
  const statistics = (scale: Tensor | null) => {
    const scaled = scale === null ? deviation : deviation.div(spread(scale));
    const shift = scale === null ? meanShift : meanShift.div(scale);
    const rounding = meanRounding ? (scale === null ? meanRounding : meanRounding.div(scale)) : sum(scaled).div(count).detach();
    const scaledVariance = sum(scaled.square()).div(count).sub(rounding.square()).sub(shift.square());
    return { scaled, shift, rounding, scaledVariance };
  };
  let scale: Tensor | null = null;
  let { scaled, shift, rounding, scaledVariance } = statistics(null);
  if (!withinSquareRange(scaledVariance)) {
    const tiny = x.dtype === 'float32' ? 2 ** -63 : 2 ** -511; // as meanAbsScale
    scale = x.size > 0 ? sum(deviation.abs()).div(count).detach().maximum(tiny) : ones(mean.shape, { dtype: x.dtype });
    ({ scaled, shift, rounding, scaledVariance } = statistics(scale));
  }
  const factor = spread(scale === null ? scaledVariance.add(eps).rsqrt() : scaledRsqrt(scaledVariance, scale, eps));
  // the mean's rounding and its zero shift, subtracted once per channel
  const meanCorrection = spread(shift.add(rounding));
  const affine = (affineScale: Tensor | null, offset: Tensor | null): Tensor => {
    const channelFactor = affineScale ? factor.mul(affineScale) : factor;
    const correction = meanCorrection.mul(channelFactor);
    return scaled.mul(channelFactor).add(offset ? offset.sub(correction) : correction.neg());
  };
  const variance = scale === null ? scaledVariance : scaledVariance.mul(scale).mul(scale);
  return { mean, variance, affine };
}

/** The layout of statistics over x's `axes`: one per index of the other axes (statistics of x's shape with 1 at the axes). */
export function statisticsOver(x: Tensor, axes: number[]): StatisticsLayout {
  const count = axes.reduce((values, axis) => values * x.shape[axis]!, 1);
  return { sum: (t, asFloat64) => (asFloat64 ? sumFloat64(t, axes, true) : t.sum(axes, true)), spread: (statistic) => statistic, count };
}

/** The layout of batch statistics over x (N, C, *): one per channel, over every axis but 1 (statistics (1, C, 1, …)). */
export function channelStatistics(x: Tensor): StatisticsLayout {
  return statisticsOver(x, [0, ...range(2, x.ndim)]);
}

/** A per-channel tensor of shape [C] (or null) reshaped to broadcast against x (N, C, *). */
export function channelBroadcast(x: Tensor, t: Tensor | null): Tensor | null {
  return t && t.reshape(x.shape.map((extent, axis) => (axis === 1 ? extent : 1)));
}

/** (x - mean) / sqrt(variance + eps) with given statistics (e.g. running ones), all ordinary differentiable ops. */
export function standardize(x: Tensor, mean: Tensor, variance: Tensor, eps: number): Tensor {
  return x.sub(mean).mul(variance.add(eps).rsqrt());
}

/**
 * y * weight + bias with weight/bias of shape [C] broadcast along `channelAxis` of y
 * (channelAxis 1 for (N, C, ...) inputs).
 */
export function channelAffine(y: Tensor, weight: Tensor | null | undefined, bias: Tensor | null | undefined, channelAxis = 1): Tensor {
  const broadcastShape = y.shape.map((extent, axis) => (axis === channelAxis ? extent : 1));
  let out = y;
  if (weight) out = out.mul(weight.reshape(broadcastShape));
  if (bias) out = out.add(bias.reshape(broadcastShape));
  return out;
}

/** Checks that an optional per-channel tensor (weight, bias, running statistic) has shape [channels]. */
export function checkChannelVector(op: string, name: string, t: Tensor | null | undefined, channels: number, input: Tensor): void {
  if (!t) return;
  if (t.ndim !== 1 || t.shape[0] !== channels) {
    throw new Error(`${op}: ${name} must have shape [${channels}] for input of shape ${formatShape(input.shape)}, got ${formatShape(t.shape)}`);
  }
}

/** The per-channel tensors of a norm over x (N, C, *); each may be null. */
export type ChannelTensors = {
  weight: Tensor | null;
  bias: Tensor | null;
  runningMean: Tensor | null;
  runningVar: Tensor | null;
};

/** Each of weight, bias, runningMean, runningVar is null or has shape [C]; the running statistics come as a pair. */
export function checkChannelTensors(op: string, x: Tensor, tensors: ChannelTensors): void {
  const channels = x.shape[1]!;
  for (const [name, t] of Object.entries(tensors)) checkChannelVector(op, name, t, channels, x);
  if ((tensors.runningMean === null) !== (tensors.runningVar === null)) {
    throw new Error(`${op}: runningMean and runningVar must both be given or both be null`);
  }
}

/** The arguments of a norm with running statistics: checkChannelTensors, the same dtype as x, eps and momentum. */
export function checkRunningNormArgs(op: string, x: Tensor, tensors: ChannelTensors, eps: number, momentum: number): void {
  checkChannelTensors(op, x, tensors);
  checkSameDtype(op, x, tensors);
  checkEps(op, eps);
  checkMomentum(op, momentum);
}

/** N · prod(spatial): how many values of x (N, C, *) each channel's batch statistics are taken over. */
export function valuesPerChannel(x: Tensor): number {
  return x.shape[0]! * product(x.shape.slice(2));
}

/** PyTorch's check before batch statistics: one value per channel has no variance. */
export function checkMoreThanOneValuePerChannel(op: string, x: Tensor): void {
  if (valuesPerChannel(x) === 1) {
    throw new Error(`${op}: Expected more than 1 value per channel when training, got input size ${formatShape(x.shape)}`);
  }
}

/**
 * normalizedShape as a list, checked to be non-empty positive integers that x's shape ends with
 * (the normalized axes of layerNorm and rmsNorm).
 */
export function trailingNormalizedShape(op: string, x: Tensor, normalizedShape: number | readonly number[]): number[] {
  const shape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  if (shape.length === 0 || shape.some((extent) => !Number.isInteger(extent) || extent < 1)) {
    throw new Error(`${op}: normalizedShape must be a non-empty list of positive integers, got ${formatShape(shape)}`);
  }
  const trailing = x.shape.slice(x.ndim - shape.length);
  if (x.ndim < shape.length || trailing.some((extent, i) => extent !== shape[i])) {
    throw new Error(
      `${op}: input of shape ${formatShape(x.shape)} does not end with normalizedShape ${formatShape(shape)} ` +
        `(expected input of shape [*, ${shape.join(', ')}])`,
    );
  }
  return shape;
}

/** An optional elementwise weight or bias has shape normalizedShape. */
export function checkElementwiseTensor(op: string, name: string, t: Tensor | null, normalizedShape: readonly number[]): void {
  if (t && (t.ndim !== normalizedShape.length || t.shape.some((extent, i) => extent !== normalizedShape[i]))) {
    throw new Error(`${op}: ${name} must have shape ${formatShape(normalizedShape)} (normalizedShape), got ${formatShape(t.shape)}`);
  }
}

export function checkEps(op: string, eps: number): void {
  if (!Number.isFinite(eps) || eps < 0) throw new Error(`${op}: eps must be a finite number >= 0, got ${eps}`);
}

/** A norm layer's momentum: in [0, 1], or null for a cumulative average. */
export function checkLayerMomentum(op: string, momentum: number | null): void {
  if (momentum !== null && !(momentum >= 0 && momentum <= 1)) throw new Error(`${op}: momentum must be in [0, 1] or null, got ${momentum}`);
}

export function checkMomentum(op: string, momentum: number): void {
  if (!Number.isFinite(momentum) || momentum < 0 || momentum > 1) {
    throw new Error(`${op}: momentum must be a number in [0, 1], got ${momentum}`);
  }
}

/**
 * Batch statistics under vmap. An input batched by a vmap at which none of the norm's state
 * (running statistics, weight, bias) is batched means that vmap splits one batch into examples:
 * statistics over the batch would mix the examples, which vmap keeps apart, so this is an Error.
 * A vmap over stacked state (an ensemble of models, each with its own batch: stackModuleState)
 * keeps every batch whole, and each member's statistics and running buffers are its own.
 */
export function checkBatchStatisticsUnderVmap(op: string, x: Tensor, state: readonly (Tensor | null | undefined)[]): void {
  const stateLevels = new Set(state.flatMap((tensor) => (tensor ? vmapLevels(tensor) : [])));
  if (!vmapLevels(x).some((level) => !stateLevels.has(level))) return;
  throw new Error(
    `${op}: training-mode batch statistics inside vmap over the examples of a batch: the input (${formatShape(x.shape)} per example) is batched by a vmap ` +
      'that the running statistics and affine parameters are not, and batch statistics mix the examples that vmap keeps apart. ' +
      'For per-example gradients call eval() to normalize with the running statistics, or use a norm without batch statistics (LayerNorm, GroupNorm, InstanceNorm, RMSNorm); ' +
      'to train an ensemble, vmap over the stacked parameters and buffers of stackModuleState, each member with its own batch',
  );
}

/**
 * Running statistics of a per-instance norm under vmap (InstanceNorm with trackRunningStats, in
 * training). The normalization is each example's own, but the running statistics are updated
 * with the statistics averaged over the batch: an input batched by a vmap at which the running
 * statistics are not means that vmap splits one batch into examples, each of which would write
 * its own average into the one shared buffer, so this is an Error. Over stacked buffers (an
 * ensemble: stackModuleState) every member updates its own.
 */
export function checkRunningStatisticsUnderVmap(op: string, x: Tensor, running: readonly Tensor[]): void {
  const runningLevels = new Set(running.flatMap((tensor) => vmapLevels(tensor)));
  if (!vmapLevels(x).some((level) => !runningLevels.has(level))) return;
  throw new Error(
    `${op}: running statistics (trackRunningStats) updated in training inside vmap over the examples of a batch: the input (${formatShape(x.shape)} per example) ` +
      'is batched by a vmap that runningMean and runningVar are not, and their update averages the statistics over the batch, mixing the examples that vmap keeps apart. ' +
      'The normalization itself is per instance: for per-example outputs or gradients, construct the layer with trackRunningStats false, or call eval() to normalize with the running statistics; ' +
      'to train an ensemble, vmap over the stacked parameters and buffers of stackModuleState, each member with its own batch',
  );
}

/**
 * PyTorch's running-statistics update, in place and outside the graph:
 *   running = (1 - momentum) * running + momentum * batch
 * `batchMean` and `unbiasedBatchVar` are the (detached) statistics, shape [C].
 */
export function updateRunningStats(
  runningMean: Tensor,
  runningVar: Tensor,
  batchMean: Tensor,
  unbiasedBatchVar: Tensor,
  momentum: number,
): void {
  noGrad(() => {
    assignInPlace(runningMean, batchMean.detach().mul(momentum).add(runningMean.mul(1 - momentum)));
    assignInPlace(runningVar, unbiasedBatchVar.detach().mul(momentum).add(runningVar.mul(1 - momentum)));
  });
}

export { checkPositiveFinite };
