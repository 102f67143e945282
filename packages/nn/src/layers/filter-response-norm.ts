import { checkOptions, type DType, type Tensor } from '@normgrad/core';
import { filterResponseNorm } from '../functional/filter-response-norm.js';
import { checkEps } from '../functional/normalize.js';
import { Module } from '../module.js';
import { pythonBool, pythonFloat } from '../repr.js';
import { checkSameDtype, renameOp } from '../util.js';
import { affineParameters, checkChannelCount, checkInputRank, checkNumFeatures } from './channel-norm.js';
import { constantParameter } from './init.js';

export interface FilterResponseNormLayerOptions {
  /** Added to ν² (with learnableEps: the fixed lower bound). Default 1e-6. */
  eps?: number;
  /** Learn eps: the effective eps is eps + |epsLearned| with a parameter epsLearned (shape [1], 1e-4). Default false. */
  learnableEps?: boolean;
  dtype?: DType;
}

/**
 * Filter response normalization + TLU (Singh & Krishnan 2019, https://arxiv.org/abs/1911.09737)
 * over (N, C, H, W): z = max(weight · x / sqrt(mean_{H,W}(x²) + eps) + bias, tau), per sample and
 * channel. Parameters `weight` (ones), `bias` (zeros), `tau` (zeros), and with learnableEps the
 * paper's learned eps: eps + |epsLearned|, epsLearned initialized to 1e-4. Same in training and eval.
 */
export class FilterResponseNorm2d extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly learnableEps: boolean;
  weight: Tensor;
  bias: Tensor;
  tau: Tensor;
  epsLearned: Tensor | null;

  constructor(numFeatures: number, options: FilterResponseNormLayerOptions = {}) {
    super();
    checkOptions('FilterResponseNorm2d', options, ['eps', 'learnableEps', 'dtype']);
    checkNumFeatures('FilterResponseNorm2d', numFeatures);
    const { eps = 1e-6, learnableEps = false, dtype = 'float32' } = options;
    checkEps('FilterResponseNorm2d', eps);
    this.numFeatures = numFeatures;
    this.eps = eps;
    this.learnableEps = learnableEps;
    [this.weight, this.bias] = affineParameters(numFeatures, dtype);
    this.tau = constantParameter([numFeatures], 0, dtype);
    this.epsLearned = learnableEps ? constantParameter([1], 1e-4, dtype) : null;
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${pythonFloat(this.eps)}, learnable_eps=${pythonBool(this.learnableEps)}`;
  }

  forward(x: Tensor): Tensor {
    checkInputRank('FilterResponseNorm2d', x, [4], '4D (N, C, H, W)');
    checkChannelCount('FilterResponseNorm2d', x, this.numFeatures);
    checkSameDtype('FilterResponseNorm2d', x, { weight: this.weight });
    const eps = this.epsLearned ? this.epsLearned.abs().add(this.eps) : this.eps;
    try {
      return filterResponseNorm(x, { weight: this.weight, bias: this.bias, tau: this.tau, eps });
    } catch (error) {
      throw renameOp(error, 'filterResponseNorm', 'FilterResponseNorm2d');
    }
  }
}
