import { checkOptions, type Tensor } from '@normgrad/core';
import { checkSameDtype, formatShape } from '../util.js';
import { batchNormWithAffine } from './batch-norm.js';

export interface ConditionalBatchNormOptions {
  /** Per-sample γ, shape (N, C): e.g. rows of a class embedding or a projection of a condition. */
  weight: Tensor;
  /** Per-sample β, shape (N, C). */
  bias: Tensor;
  training?: boolean;
  momentum?: number;
  eps?: number;
}

/**
 * Conditional batch normalization (de Vries, Strub, Mary, Larochelle, Pietquin & Courville 2017,
 * https://arxiv.org/abs/1707.00683; the class-conditional form of Dumoulin et al. 2017 and
 * Miyato & Koyama 2018) of x (N, C, *): batch normalization without its own affine, then a
 * per-sample affine given as a second differentiable input,
 *
 *   y[n, c] = weight[n, c] · (x[n, c] − E[x_c]) / sqrt(Var[x_c] + eps) + bias[n, c]
 *
 * with E, Var and the running statistics exactly as batchNorm's. A plain composite.
 */
export function conditionalBatchNorm(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, options: ConditionalBatchNormOptions): Tensor {
  const op = 'conditionalBatchNorm';
  checkOptions(op, options, ['weight', 'bias', 'training', 'momentum', 'eps']);
  const { weight, bias, training = false, momentum = 0.1, eps = 1e-5 } = options ?? ({} as ConditionalBatchNormOptions);
  if (x.ndim < 2) throw new Error(`${op}: expected an input of shape (N, C, *) with at least 2 dimensions, got ${formatShape(x.shape)}`);
  const [n, channels] = x.shape as [number, number];
  for (const [name, t] of [['weight', weight], ['bias', bias]] as const) {
    if (!t || t.ndim !== 2 || t.shape[0] !== n || t.shape[1] !== channels) {
      throw new Error(`${op}: ${name} must have shape [${n}, ${channels}] (one row per sample) for input of shape ${formatShape(x.shape)}, got ${t ? formatShape(t.shape) : String(t)}`);
    }
  }
  checkSameDtype(op, x, { weight, bias });
  const sampleShape = x.shape.map((extent, axis) => (axis < 2 ? extent : 1));
  try {
    return batchNormWithAffine(x, runningMean, runningVar, { training, momentum, eps }, { scale: weight.reshape(sampleShape), offset: bias.reshape(sampleShape) });
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('batchNorm:')) throw new Error(`${op}:${error.message.slice('batchNorm:'.length)}`);
    throw error;
  }
}
