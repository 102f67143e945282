import { assignInPlace, checkOptions, eye, moments, noGrad, type Tensor } from '@normgrad/core';
import { checkSameDtype, formatShape, range } from '../util.js';
import { channelAffine, checkChannelVector, checkEps, checkMomentum, checkBatchStatisticsUnderVmap } from './normalize.js';

export interface IterNormOptions {
  /** Channel groups whitened separately; must divide C. Default 1 (all channels together). */
  numGroups?: number;
  /** Newton iterations T. Default 5. */
  iterations?: number;
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** Whiten with the batch's own statistics (and update the running ones). Default false (eval). */
  training?: boolean;
  /** Weight of the new batch in the running mean and whitening matrix. Default 0.1. */
  momentum?: number;
  /** Added to the diagonal of each group's covariance. Default 1e-5. */
  eps?: number;
}

/**
 * Iterative normalization, IterNorm (Huang, Zhou, Zhu, Liu & Shao 2019,
 * https://arxiv.org/abs/1904.03441) of x (N, C, *): the channels are split into numGroups groups
 * of d = C / numGroups, and each group, as a d × m matrix X (m = N · spatial values), is
 * whitened by Newton's iterations for the inverse square root of its covariance:
 *
 *   μ = mean over m,  X_c = X − μ,  Σ = X_c X_cᵀ / m + eps · I,  Σ_N = Σ / tr(Σ)
 *   P_0 = I,  P_k = (3 P_{k−1} − P_{k−1}³ Σ_N) / 2   (k = 1..T),  W = P_T / sqrt(tr(Σ))
 *   y = W X_c · weight + bias                         (weight, bias per channel)
 *
 * W ≈ Σ^{-1/2}, so the output covariance ≈ I. The iteration runs in its coupled form (Higham,
 * Functions of Matrices, 2008, eq. 6.35): Y_0 = Σ_N, Z_0 = I, S = (3I − Z Y) / 2, Y ← Y S, Z ← S Z,
 * so Z_k = P_k in exact arithmetic; unlike the one-matrix form it is numerically stable (that one
 * drifts away from Σ^{-1/2} in float32 once converged, for condition numbers above about 9).
 * All groups run as batched matmuls; the gradient
 * through the T unrolled iterations comes from autodiff. In training the running statistics,
 * when given, are updated in place (as the authors' code):
 *   runningMean = (1 − momentum) · runningMean + momentum · μ           shape [C]
 *   runningWhitening = (1 − momentum) · runningWhitening + momentum · W    shape [numGroups, d, d]
 * In eval y = runningWhitening (X − runningMean) · weight + bias.
 */
export function iterNorm(x: Tensor, runningMean: Tensor | null, runningWhitening: Tensor | null, options: IterNormOptions = {}): Tensor {
  const op = 'iterNorm';
  checkOptions(op, options, ['numGroups', 'iterations', 'weight', 'bias', 'training', 'momentum', 'eps']);
  const { numGroups = 1, iterations = 5, weight = null, bias = null, training = false, momentum = 0.1, eps = 1e-5 } = options;
  if (training) checkBatchStatisticsUnderVmap(op, x, [runningMean, runningWhitening, weight, bias]);
  if (x.ndim < 2) throw new Error(`${op}: expected an input of shape (N, C, *) with at least 2 dimensions, got ${formatShape(x.shape)}`);
  const channels = x.shape[1]!;
  checkIterNormGroups(op, numGroups, channels);
  checkIterations(op, iterations);
  const d = channels / numGroups;
  checkChannelVector(op, 'weight', weight, channels, x);
  checkChannelVector(op, 'bias', bias, channels, x);
  checkChannelVector(op, 'runningMean', runningMean, channels, x);
  if (runningWhitening && formatShape(runningWhitening.shape) !== formatShape([numGroups, d, d])) {
    throw new Error(`${op}: runningWhitening must have shape ${formatShape([numGroups, d, d])} (numGroups, d, d) for ${channels} channels, got ${formatShape(runningWhitening.shape)}`);
  }
  if ((runningMean === null) !== (runningWhitening === null)) throw new Error(`${op}: runningMean and runningWhitening must both be given or both be null`);
  checkSameDtype(op, x, { weight, bias, runningMean, runningWhitening });
  checkEps(op, eps);
  checkMomentum(op, momentum);

  // (N, C, *) → (C, N, *) → (numGroups, d, m)
  const swap = [1, 0, ...range(2, x.ndim)];
  const groups = x.permute(swap).reshape([numGroups, d, -1]);
  const m = groups.shape[2]!;
  let whitened: Tensor;
  if (training) {
    if (m === 1) throw new Error(`${op}: Expected more than 1 value per channel when training, got input size ${formatShape(x.shape)}`);
    const { mean, deviation } = moments(groups, [2], { correction: 0 });
    const identity = eye(d, { dtype: x.dtype });
    const sigma = deviation.matmul(deviation.transpose(1, 2)).div(m).add(identity.mul(eps));
    const traceReciprocal = sigma.mul(identity).sum([1, 2], true).reciprocal();
    const sigmaN = sigma.mul(traceReciprocal);
    // Coupled form: Z_k = P_k and Y_k = Σ_N P_k (they commute in exact arithmetic).
    let y = sigmaN;
    let z = identity.broadcastTo([numGroups, d, d]);
    for (let k = 0; k < iterations; k++) {
      const step = identity.mul(1.5).sub(z.matmul(y).mul(0.5));
      [y, z] = [y.matmul(step), step.matmul(z)];
    }
    const whitening = z.mul(traceReciprocal.sqrt());
    whitened = whitening.matmul(deviation);
    if (runningMean && runningWhitening) {
      noGrad(() => {
        assignInPlace(runningMean, mean.detach().reshape([channels]).mul(momentum).add(runningMean.mul(1 - momentum)));
        assignInPlace(runningWhitening, whitening.detach().mul(momentum).add(runningWhitening.mul(1 - momentum)));
      });
    }
  } else {
    if (!runningMean || !runningWhitening) throw new Error(`${op}: runningMean and runningWhitening must be given when training is false`);
    whitened = runningWhitening.matmul(groups.sub(runningMean.reshape([numGroups, d, 1])));
  }
  const y = whitened.reshape([channels, x.shape[0]!, ...x.shape.slice(2)]).permute(swap);
  return channelAffine(y, weight, bias);
}

export function checkIterNormGroups(op: string, numGroups: number, channels: number): void {
  if (!Number.isInteger(numGroups) || numGroups < 1 || channels % numGroups !== 0) {
    throw new Error(`${op}: numGroups must be a positive integer dividing the ${channels} channels, got ${numGroups}`);
  }
}

export function checkIterations(op: string, iterations: number): void {
  if (!Number.isInteger(iterations) || iterations < 0) throw new Error(`${op}: iterations must be a non-negative integer, got ${iterations}`);
}
