import { checkOptions, moments, type Tensor } from '@normgrad/core';
import { checkSameDtype, formatShape, product, range } from '../util.js';
import { checkEps } from './normalize.js';

export interface AdaptiveInstanceNormOptions {
  eps?: number;
}

/**
 * Adaptive instance normalization, AdaIN (Huang & Belongie 2017, https://arxiv.org/abs/1703.06868):
 * the content features x (N, C, *spatial) take the per-sample, per-channel statistics of the
 * style features s (N, C, *spatial'; the spatial extents may differ),
 *
 *   AdaIN(x, s) = σ(s) · (x − μ(x)) / σ(x) + μ(s),     σ(·) = sqrt(Var(·) + eps)
 *
 * with μ and the biased Var over the spatial axes (the paper's eq. 5, 6). Differentiable in both
 * inputs. (The authors' PyTorch port uses the unbiased variance; this follows the paper.)
 */
export function adaptiveInstanceNorm(content: Tensor, style: Tensor, options: AdaptiveInstanceNormOptions = {}): Tensor {
  const op = 'adaptiveInstanceNorm';
  checkOptions(op, options, ['eps']);
  const { eps = 1e-5 } = options;
  for (const [name, t] of [['content', content], ['style', style]] as const) {
    if (t.ndim < 3) throw new Error(`${op}: expected ${name} of shape (N, C, *spatial) with at least 3 dimensions, got ${formatShape(t.shape)}`);
    if (product(t.shape.slice(2)) === 1) throw new Error(`${op}: Expected more than 1 spatial element in ${name} (instance statistics), got ${name} of shape ${formatShape(t.shape)}`);
  }
  if (content.ndim !== style.ndim || content.shape[0] !== style.shape[0] || content.shape[1] !== style.shape[1]) {
    throw new Error(`${op}: content and style must have the same rank, batch size and channels, got ${formatShape(content.shape)} and ${formatShape(style.shape)}`);
  }
  checkSameDtype(op, content, { style });
  checkEps(op, eps);
  const contentStats = moments(content, range(2, content.ndim), { correction: 0 });
  const styleStats = moments(style, range(2, style.ndim), { correction: 0 });
  const scale = styleStats.variance.add(eps).sqrt().div(contentStats.variance.add(eps).sqrt());
  return contentStats.deviation.mul(scale).add(styleStats.mean);
}
