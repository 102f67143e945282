import { assignInPlace, checkOptions, moments, noGrad, type Tensor } from '@normgrad/core';
import { checkSameDtype, formatShape, range } from '../util.js';
import { channelAffine, checkChannelVector, checkEps, checkMomentum, checkMoreThanOneValuePerChannel, valuesPerChannel, checkBatchStatisticsUnderVmap } from './normalize.js';

export interface EvoNormB0Options {
  /** Per-channel v of the instance branch (v · x + instance std). Required. */
  v: Tensor;
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** Use the batch variance (and update runningVar). Default false (eval: runningVar). */
  training?: boolean;
  /** Weight of the new batch in runningVar. Default 0.1. */
  momentum?: number;
  eps?: number;
}

/**
 * EvoNorm-B0 (Liu, Brock, Simonyan & Le 2020, https://arxiv.org/abs/2004.02967) of x (N, C, H, W),
 * as timm's `EvoNorm2dB0`:
 *
 *   y = x / max(sqrt(s²_b + eps), v · x + sqrt(s²_i + eps)) · weight + bias
 *
 * s²_b the batch variance per channel (over N, H, W; runningVar in eval), s²_i the instance
 * variance per sample and channel (over H, W), both biased; the maximum is elementwise. In
 * training runningVar, when given, is updated in place: (1 − momentum) · runningVar + momentum ·
 * s²_b · n / (n − 1). A plain composite of core ops (the max has a kink where its sides are equal).
 */
export function evoNormB0(x: Tensor, runningVar: Tensor | null, options: EvoNormB0Options): Tensor {
  const op = 'evoNormB0';
  checkOptions(op, options, ['v', 'weight', 'bias', 'training', 'momentum', 'eps']);
  const { v, weight = null, bias = null, training = false, momentum = 0.1, eps = 1e-3 } = options ?? ({} as EvoNormB0Options);
  if (training) checkBatchStatisticsUnderVmap(op, x, [runningVar, v, weight, bias]);
  checkEvoInput(op, x);
  if (!v) throw new Error(`${op}: options.v (per-channel, shape [${x.shape[1]}]) is required`);
  for (const [name, t] of [['v', v], ['weight', weight], ['bias', bias], ['runningVar', runningVar]] as const) checkChannelVector(op, name, t, x.shape[1]!, x);
  checkSameDtype(op, x, { v, weight, bias, runningVar });
  checkEps(op, eps);
  checkMomentum(op, momentum);
  if (!training && !runningVar) throw new Error(`${op}: runningVar must be given when training is false`);
  const channelShape = [1, x.shape[1]!, 1, 1];
  let batchVar: Tensor;
  if (training) {
    checkMoreThanOneValuePerChannel(op, x);
    batchVar = moments(x, [0, 2, 3], { correction: 0 }).variance;
    if (runningVar) {
      const n = valuesPerChannel(x);
      const update = batchVar.detach().reshape([x.shape[1]!]).mul(momentum * (n / (n - 1)));
      noGrad(() => assignInPlace(runningVar, runningVar.mul(1 - momentum).add(update)));
    }
  } else batchVar = runningVar!.reshape(channelShape);
  const instanceStd = moments(x, [2, 3], { correction: 0 }).variance.add(eps).sqrt();
  const denominator = batchVar.add(eps).sqrt().maximum(x.mul(v.reshape(channelShape)).add(instanceStd));
  return channelAffine(x.div(denominator), weight, bias);
}

export interface EvoNormS0Options {
  /** Per-channel v of the swish-like numerator x · sigmoid(v · x). Required. */
  v: Tensor;
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** Number of channel groups of the group std; must divide C. Default 32. */
  groups?: number;
  eps?: number;
}

/**
 * EvoNorm-S0 (Liu et al. 2020, https://arxiv.org/abs/2004.02967) of x (N, C, H, W), as timm's
 * `EvoNorm2dS0`:
 *
 *   y = x · sigmoid(v · x) / sqrt(s²_g + eps) · weight + bias
 *
 * s²_g the biased variance per sample over each group of C / groups channels and H, W. No batch
 * statistics: the same in training and eval. A plain composite of core ops.
 */
export function evoNormS0(x: Tensor, options: EvoNormS0Options): Tensor {
  const op = 'evoNormS0';
  checkOptions(op, options, ['v', 'weight', 'bias', 'groups', 'eps']);
  const { v, weight = null, bias = null, groups = 32, eps = 1e-5 } = options ?? ({} as EvoNormS0Options);
  checkEvoInput(op, x);
  const [n, channels, height, width] = x.shape as [number, number, number, number];
  if (!v) throw new Error(`${op}: options.v (per-channel, shape [${channels}]) is required`);
  if (!Number.isInteger(groups) || groups < 1 || channels % groups !== 0) {
    throw new Error(`${op}: groups must be a positive integer dividing the ${channels} channels, got ${groups}`);
  }
  for (const [name, t] of [['v', v], ['weight', weight], ['bias', bias]] as const) checkChannelVector(op, name, t, channels, x);
  checkSameDtype(op, x, { v, weight, bias });
  checkEps(op, eps);
  const grouped = x.reshape([n, groups, channels / groups, height, width]);
  const groupStd = moments(grouped, range(2, 5), { correction: 0 }).variance.add(eps).sqrt();
  const numerator = x.mul(x.mul(v.reshape([1, channels, 1, 1])).sigmoid()).reshape([n, groups, channels / groups, height, width]);
  return channelAffine(numerator.div(groupStd).reshape(x.shape), weight, bias);
}

function checkEvoInput(op: string, x: Tensor): void {
  if (x.ndim !== 4) throw new Error(`${op}: expected a 4D input (N, C, H, W), got ${x.ndim}D input of shape ${formatShape(x.shape)}`);
}
