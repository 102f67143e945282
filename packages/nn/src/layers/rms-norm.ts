import { checkOptions, type DType, type Tensor } from '@normgrad/core';
import { checkEps } from '../functional/normalize.js';
import { rmsNorm } from '../functional/rms-norm.js';
import { Module } from '../module.js';
import { renameOp } from '../util.js';
import { constantParameter } from './init.js';
import { normalizedShapeOption } from './layer-norm.js';

export interface RMSNormLayerOptions {
  /** Added to the mean square; null (default): the input dtype's machine epsilon, as PyTorch. */
  eps?: number | null;
  /** Learn an elementwise weight shaped like normalizedShape (ones). Default true. */
  elementwiseAffine?: boolean;
  dtype?: DType;
}

/**
 * RMS normalization over the trailing normalizedShape axes (Zhang & Sennrich 2019,
 * https://arxiv.org/abs/1910.07467), PyTorch's nn.RMSNorm: y = x / sqrt(mean(x²) + eps) · weight.
 */
export class RMSNorm extends Module {
  readonly normalizedShape: number[];
  readonly eps: number | null;
  readonly elementwiseAffine: boolean;
  weight: Tensor | null;

  constructor(normalizedShape: number | number[], options: RMSNormLayerOptions = {}) {
    super();
    const shape = normalizedShapeOption('RMSNorm', normalizedShape);
    checkOptions('RMSNorm', options, ['eps', 'elementwiseAffine', 'dtype']);
    const { eps = null, elementwiseAffine = true, dtype = 'float32' } = options;
    if (eps !== null) checkEps('RMSNorm', eps);
    this.normalizedShape = shape;
    this.eps = eps;
    this.elementwiseAffine = elementwiseAffine;
    this.weight = elementwiseAffine ? constantParameter(shape, 1, dtype) : null;
  }

  forward(x: Tensor): Tensor {
    try {
      return rmsNorm(x, this.normalizedShape, { weight: this.weight, eps: this.eps });
    } catch (error) {
      throw renameOp(error, 'rmsNorm', 'RMSNorm');
    }
  }
}
