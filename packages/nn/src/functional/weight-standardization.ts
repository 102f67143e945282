import { checkOptions, type Tensor } from '@normgrad/core';
import { formatShape, range } from '../util.js';
import { conv2d, type Conv2dOptions } from './conv.js';
import { checkEps, standardizeOver } from './normalize.js';

/**
 * Weight standardization (Qiao, Wang, Liu, Shen & Yuille 2019, https://arxiv.org/abs/1903.10520):
 * each output filter of a convolution weight (Cout, Cin, kh, kw) is standardized over its
 * (Cin, kh, kw) values,
 *
 *   Ŵ = (W - E[W]) / sqrt(Var[W] + eps)        (biased Var, per output channel)
 *
 * in the forward pass, so gradients flow through the standardization to W. (The paper's
 * reference code divides by the unbiased std plus 1e-5 instead; timm's StdConv2d uses this form.)
 */
export function standardizeWeight(weight: Tensor, eps = 1e-5): Tensor {
  const op = 'standardizeWeight';
  if (weight.ndim < 2) throw new Error(`${op}: expected a weight of shape (Cout, Cin, *kernel), got ${formatShape(weight.shape)}`);
  checkEps(op, eps);
  const axes = range(1, weight.ndim);
  return standardizeOver(weight, axes, eps).normalized;
}

export interface WeightStandardizedConv2dOptions extends Conv2dOptions {
  eps?: number;
}

/** conv2d with the weight standardized per output filter first (see standardizeWeight). */
export function weightStandardizedConv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: WeightStandardizedConv2dOptions = {}): Tensor {
  checkOptions('weightStandardizedConv2d', options, ['stride', 'padding', 'dilation', 'groups', 'eps']);
  const { eps = 1e-5, ...convOptions } = options;
  if (weight.ndim !== 4) throw new Error(`weightStandardizedConv2d: weight must have shape (Cout, Cin, kh, kw), got ${formatShape(weight.shape)}`);
  return conv2d(x, standardizeWeight(weight, eps), bias, convOptions);
}
