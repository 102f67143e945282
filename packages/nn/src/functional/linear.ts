import type { Tensor } from '@normgrad/core';
import { checkSameDtype, formatShape } from '../util.js';

/**
 * y = x W^T + b for x (*, inFeatures), weight (outFeatures, inFeatures), bias (outFeatures).
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  const op = 'linear';
  if (weight.ndim !== 2) throw new Error(`${op}: weight must have shape (outFeatures, inFeatures), got ${formatShape(weight.shape)}`);
  const [outFeatures, inFeatures] = [weight.shape[0]!, weight.shape[1]!];
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== inFeatures) {
    throw new Error(`${op}: input of shape ${formatShape(x.shape)} must end with inFeatures = ${inFeatures} (weight shape ${formatShape(weight.shape)})`);
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== outFeatures)) {
    throw new Error(`${op}: bias must have shape [${outFeatures}], got ${formatShape(bias.shape)}`);
  }
  checkSameDtype(op, x, { weight, bias });
  const y = x.matmul(weight.transpose(0, 1));
  return bias ? y.add(bias) : y;
}
