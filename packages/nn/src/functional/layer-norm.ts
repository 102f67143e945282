import type { Tensor } from '@normgrad/core';
import { checkSameDtype, formatShape, range } from '../util.js';
import { checkEps, standardize } from './normalize.js';

export interface LayerNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  eps?: number;
}

/**
 * Layer normalization (Ba, Kiros & Hinton 2016, https://arxiv.org/abs/1607.06450): x (*, ...normalizedShape)
 * is normalized over its trailing normalizedShape.length axes,
 *
 *   y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias        (biased Var)
 *
 * with weight and bias elementwise, shaped like normalizedShape. A plain composite of core ops.
 */
export function layerNorm(x: Tensor, normalizedShape: number | readonly number[], options: LayerNormOptions = {}): Tensor {
  const op = 'layerNorm';
  const shape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  const { weight = null, bias = null, eps = 1e-5 } = options;
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
  for (const [name, t] of [['weight', weight], ['bias', bias]] as const) {
    if (t && (t.ndim !== shape.length || t.shape.some((extent, i) => extent !== shape[i]))) {
      throw new Error(`${op}: ${name} must have shape ${formatShape(shape)} (normalizedShape), got ${formatShape(t.shape)}`);
    }
  }
  checkSameDtype(op, x, { weight, bias });
  checkEps(op, eps);
  const axes = range(x.ndim - shape.length, x.ndim);
  const mean = x.mean(axes, true);
  const variance = x.var(axes, { correction: 0, keepdims: true });
  let y = standardize(x, mean, variance, eps);
  if (weight) y = y.mul(weight);
  if (bias) y = y.add(bias);
  return y;
}
