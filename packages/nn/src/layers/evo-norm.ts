import { checkOptions, type DType, type Tensor } from '@normgrad/core';
import { evoNormB0, evoNormS0 } from '../functional/evo-norm.js';
import { checkEps, checkMomentum, checkMoreThanOneValuePerChannel } from '../functional/normalize.js';
import { Module } from '../module.js';
import { pythonFloat } from '../repr.js';
import { checkSameDtype, renameOp } from '../util.js';
import { affineParameters, checkChannelCount, checkInputRank, checkNumFeatures } from './channel-norm.js';
import { constantBuffer, constantParameter } from './init.js';

export interface EvoNorm2dB0Options {
  /** Default 1e-3 (timm's). */
  eps?: number;
  /** Weight of each batch in runningVar. Default 0.1. */
  momentum?: number;
  dtype?: DType;
}

/**
 * EvoNorm-B0 (Liu et al. 2020, https://arxiv.org/abs/2004.02967) over (N, C, H, W), timm's
 * `EvoNorm2dB0`: y = x / max(sqrt(s²_batch + eps), v · x + sqrt(s²_instance + eps)) · weight + bias.
 * Parameters `weight` (ones), `bias` (zeros), `v` (ones); buffer `runningVar` (ones), the batch
 * variance's running average used in eval (timm's `running_var`). See evoNormB0.
 */
export class EvoNorm2dB0 extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number;
  weight: Tensor;
  bias: Tensor;
  v: Tensor;
  runningVar: Tensor;

  constructor(numFeatures: number, options: EvoNorm2dB0Options = {}) {
    super();
    checkOptions('EvoNorm2dB0', options, ['eps', 'momentum', 'dtype']);
    checkNumFeatures('EvoNorm2dB0', numFeatures);
    const { eps = 1e-3, momentum = 0.1, dtype = 'float32' } = options;
    checkEps('EvoNorm2dB0', eps);
    checkMomentum('EvoNorm2dB0', momentum);
    this.numFeatures = numFeatures;
    this.eps = eps;
    this.momentum = momentum;
    [this.weight, this.bias] = affineParameters(numFeatures, dtype);
    this.v = constantParameter([numFeatures], 1, dtype);
    this.runningVar = constantBuffer([numFeatures], 1, dtype);
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${pythonFloat(this.eps)}, momentum=${pythonFloat(this.momentum)}`;
  }

  forward(x: Tensor): Tensor {
    checkInputRank('EvoNorm2dB0', x, [4], '4D (N, C, H, W)');
    checkChannelCount('EvoNorm2dB0', x, this.numFeatures);
    checkSameDtype('EvoNorm2dB0', x, { weight: this.weight, runningVar: this.runningVar });
    if (this.training) checkMoreThanOneValuePerChannel('EvoNorm2dB0', x);
    try {
      return evoNormB0(x, this.runningVar, { v: this.v, weight: this.weight, bias: this.bias, training: this.training, momentum: this.momentum, eps: this.eps });
    } catch (error) {
      throw renameOp(error, 'evoNormB0', 'EvoNorm2dB0');
    }
  }
}

export interface EvoNorm2dS0Options {
  /** Channel groups of the group std; must divide numFeatures. Default 32 (timm's). */
  groups?: number;
  /** Default 1e-5 (timm's). */
  eps?: number;
  dtype?: DType;
}

/**
 * EvoNorm-S0 (Liu et al. 2020, https://arxiv.org/abs/2004.02967) over (N, C, H, W), timm's
 * `EvoNorm2dS0`: y = x · sigmoid(v · x) / sqrt(s²_group + eps) · weight + bias, no batch
 * statistics. Parameters `weight` (ones), `bias` (zeros), `v` (ones). See evoNormS0.
 */
export class EvoNorm2dS0 extends Module {
  readonly numFeatures: number;
  readonly groups: number;
  readonly eps: number;
  weight: Tensor;
  bias: Tensor;
  v: Tensor;

  constructor(numFeatures: number, options: EvoNorm2dS0Options = {}) {
    super();
    checkOptions('EvoNorm2dS0', options, ['groups', 'eps', 'dtype']);
    checkNumFeatures('EvoNorm2dS0', numFeatures);
    const { groups = 32, eps = 1e-5, dtype = 'float32' } = options;
    if (!Number.isInteger(groups) || groups < 1 || numFeatures % groups !== 0) {
      throw new Error(`EvoNorm2dS0: groups must be a positive integer dividing numFeatures ${numFeatures}, got ${groups}`);
    }
    checkEps('EvoNorm2dS0', eps);
    this.numFeatures = numFeatures;
    this.groups = groups;
    this.eps = eps;
    [this.weight, this.bias] = affineParameters(numFeatures, dtype);
    this.v = constantParameter([numFeatures], 1, dtype);
  }

  override extraRepr(): string {
    return `${this.numFeatures}, groups=${this.groups}, eps=${pythonFloat(this.eps)}`;
  }

  forward(x: Tensor): Tensor {
    checkInputRank('EvoNorm2dS0', x, [4], '4D (N, C, H, W)');
    checkChannelCount('EvoNorm2dS0', x, this.numFeatures);
    checkSameDtype('EvoNorm2dS0', x, { weight: this.weight });
    try {
      return evoNormS0(x, { v: this.v, weight: this.weight, bias: this.bias, groups: this.groups, eps: this.eps });
    } catch (error) {
      throw renameOp(error, 'evoNormS0', 'EvoNorm2dS0');
    }
  }
}
