import { checkOptions, meanAbsScale, scaledRsqrt, withinSquareRange, type DType, type Tensor } from '@normgrad/core';
import { checkSameDtype, range } from '../util.js';
import { checkElementwiseTensor, checkEps, trailingNormalizedShape } from './normalize.js';

export interface RMSNormOptions {
  weight?: Tensor | null;
  /** Added to the mean square; null or undefined: the dtype's machine epsilon (PyTorch's default). */
  eps?: number | null;
}

/** Machine epsilon of a dtype, as torch.finfo(dtype).eps: 2^-23 for float32, 2^-52 for float64. */
export function machineEpsilon(dtype: DType): number {
  return dtype === 'float32' ? 2 ** -23 : 2 ** -52;
}

/**
 * Root mean square layer normalization (Zhang & Sennrich 2019, https://arxiv.org/abs/1910.07467)
 * with PyTorch's `nn.RMSNorm` semantics: x (*, ...normalizedShape) is rescaled over its trailing
 * normalizedShape.length axes, without centring,
 *
 *   y = x / sqrt(mean(x²) + eps) · weight
 *
 * with weight elementwise, shaped like normalizedShape, and eps by default the machine epsilon of
 * x's dtype. A plain composite of core ops.
 */
export function rmsNorm(x: Tensor, normalizedShape: number | readonly number[], options: RMSNormOptions = {}): Tensor {
  const op = 'rmsNorm';
  checkOptions(op, options, ['weight', 'eps']);
  const weight = options.weight ?? null;
  const eps = options.eps ?? machineEpsilon(x.dtype);
  const shape = trailingNormalizedShape(op, x, normalizedShape);
  checkElementwiseTensor(op, 'weight', weight, shape);
  checkSameDtype(op, x, { weight });
  checkEps(op, eps);
  const axes = range(x.ndim - shape.length, x.ndim);
  // x / sqrt(mean(x²) + eps); where x² would leave float range, on x / s with s = mean |x| (a
  // constant of the graph), so x² neither overflows nor underflows.
  const meanSquare = x.square().mean(axes, true);
  let y: Tensor;
  if (withinSquareRange(meanSquare)) {
    y = x.mul(meanSquare.add(eps).rsqrt());
  } else {
    const scale = meanAbsScale(x, axes);
    y = x.mul(scaledRsqrt(x.div(scale).square().mean(axes, true), scale, eps).div(scale));
  }
  return weight ? y.mul(weight) : y;
}
