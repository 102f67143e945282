import { checkOptions, type DType, type Tensor } from '@normgrad/core';
import { globalResponseNorm } from '../functional/global-response-norm.js';
import { checkEps } from '../functional/normalize.js';
import { Module } from '../module.js';
import { pythonFloat } from '../repr.js';
import { checkSameDtype, formatShape, renameOp } from '../util.js';
import { checkChannelCount, checkNumFeatures } from './channel-norm.js';
import { constantParameter } from './init.js';

export interface GlobalResponseNormLayerOptions {
  eps?: number;
  dtype?: DType;
}

/**
 * Global response normalization of ConvNeXt V2 (Woo et al. 2023, https://arxiv.org/abs/2301.00808),
 * timm's `GlobalResponseNorm(dim, eps = 1e-6, channels_last = False)` on (N, C, *spatial) inputs:
 * y = x + weight · (x · N) + bias with N_c = ‖x_c‖₂ / (mean over channels of ‖x_c'‖₂ + eps)
 * (norms over the spatial axes). `weight` and `bias` are per channel, zeros (the identity).
 */
export class GlobalResponseNorm extends Module {
  readonly numChannels: number;
  readonly eps: number;
  weight: Tensor;
  bias: Tensor;

  constructor(numChannels: number, options: GlobalResponseNormLayerOptions = {}) {
    super();
    checkOptions('GlobalResponseNorm', options, ['eps', 'dtype']);
    checkNumFeatures('GlobalResponseNorm', numChannels);
    const { eps = 1e-6, dtype = 'float32' } = options;
    checkEps('GlobalResponseNorm', eps);
    this.numChannels = numChannels;
    this.eps = eps;
    this.weight = constantParameter([numChannels], 0, dtype);
    this.bias = constantParameter([numChannels], 0, dtype);
  }

  override extraRepr(): string {
    return `${this.numChannels}, eps=${pythonFloat(this.eps)}`;
  }

  forward(x: Tensor): Tensor {
    if (x.ndim < 3) throw new Error(`GlobalResponseNorm: expected (N, C, *spatial) input with at least 3 dimensions (got ${x.ndim}D input of shape ${formatShape(x.shape)})`);
    checkChannelCount('GlobalResponseNorm', x, this.numChannels);
    checkSameDtype('GlobalResponseNorm', x, { weight: this.weight });
    try {
      return globalResponseNorm(x, { weight: this.weight, bias: this.bias, eps: this.eps });
    } catch (error) {
      throw renameOp(error, 'globalResponseNorm', 'GlobalResponseNorm');
    }
  }
}
