import { checkOptions, type Tensor } from '@normgrad/core';
import { checkSameDtype, range } from '../util.js';
import { checkElementwiseTensor, checkEps, normalizeOver, statisticsOver, trailingNormalizedShape } from './normalize.js';

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
 * with weight and bias elementwise, shaped like normalizedShape. A plain composite of core ops:
 * normalizeOver with one statistic per row (the leading axes), then the elementwise affine, which
 * does not fold into the per-row terms (weight varies along the normalized axes).
 */
export function layerNorm(x: Tensor, normalizedShape: number | readonly number[], options: LayerNormOptions = {}): Tensor {
  const op = 'layerNorm';
  checkOptions(op, options, ['weight', 'bias', 'eps']);
  const { weight = null, bias = null, eps = 1e-5 } = options;
  const shape = trailingNormalizedShape(op, x, normalizedShape);
  checkElementwiseTensor(op, 'weight', weight, shape);
  checkElementwiseTensor(op, 'bias', bias, shape);
  checkSameDtype(op, x, { weight, bias });
  checkEps(op, eps);
  const axes = range(x.ndim - shape.length, x.ndim);
  let y = normalizeOver(x, statisticsOver(x, axes), eps).affine(null, null);
  if (weight) y = y.mul(weight);
  if (bias) y = y.add(bias);
  return y;
}
