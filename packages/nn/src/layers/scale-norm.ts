import { checkOptions, type DType, type Tensor } from '@normgrad/core';
import { checkEps } from '../functional/normalize.js';
import { scaleNorm } from '../functional/scale-norm.js';
import { Module } from '../module.js';
import { pythonFloat } from '../repr.js';
import { renameOp } from '../util.js';
import { constantParameter } from './init.js';

export interface ScaleNormLayerOptions {
  /** Lower bound of the norm. Default 1e-5. */
  eps?: number;
  dtype?: DType;
}

/**
 * ScaleNorm (Nguyen & Salazar 2019, https://arxiv.org/abs/1910.05895): y = g · x / max(‖x‖₂, eps)
 * over the last axis, with one learnable scalar `scale` = g (shape [1]). The paper initializes
 * g to sqrt(d) for d features: pass `new ScaleNorm(Math.sqrt(d))`. Default scale 1.
 */
export class ScaleNorm extends Module {
  readonly eps: number;
  scale: Tensor;

  constructor(scale = 1, options: ScaleNormLayerOptions = {}) {
    super();
    checkOptions('ScaleNorm', options, ['eps', 'dtype']);
    const { eps = 1e-5, dtype = 'float32' } = options;
    if (!Number.isFinite(scale)) throw new Error(`ScaleNorm: scale must be a finite number, got ${scale}`);
    checkEps('ScaleNorm', eps);
    this.eps = eps;
    this.scale = constantParameter([1], scale, dtype);
  }

  override extraRepr(): string {
    return `eps=${pythonFloat(this.eps)}`;
  }

  forward(x: Tensor): Tensor {
    try {
      return scaleNorm(x, this.scale, { eps: this.eps });
    } catch (error) {
      throw renameOp(error, 'scaleNorm', 'ScaleNorm');
    }
  }
}
