import { checkOptions, type DType, type Tensor } from '@normgrad/core';
import { groupNorm } from '../functional/group-norm.js';
import { checkEps } from '../functional/normalize.js';
import { Module } from '../module.js';
import { pythonBool, pythonFloat } from '../repr.js';
import { formatShape, renameOp } from '../util.js';
import { constantParameter } from './init.js';

export interface GroupNormLayerOptions {
  eps?: number;
  affine?: boolean;
  dtype?: DType;
}

/** Group normalization of (N, C, *) inputs with per-channel affine (https://arxiv.org/abs/1803.08494). */
export class GroupNorm extends Module {
  readonly numGroups: number;
  readonly numChannels: number;
  readonly eps: number;
  readonly affine: boolean;
  weight: Tensor | null;
  bias: Tensor | null;

  constructor(numGroups: number, numChannels: number, options: GroupNormLayerOptions = {}) {
    super();
    if (!Number.isInteger(numGroups) || numGroups < 1 || !Number.isInteger(numChannels) || numChannels < 1) {
      throw new Error(`GroupNorm: numGroups and numChannels must be positive integers, got ${numGroups} and ${numChannels}`);
    }
    if (numChannels % numGroups !== 0) {
      throw new Error(`GroupNorm: numChannels must be divisible by numGroups, got numChannels = ${numChannels}, numGroups = ${numGroups}`);
    }
    checkOptions('GroupNorm', options, ['eps', 'affine', 'dtype']);
    const { eps = 1e-5, affine = true, dtype = 'float32' } = options;
    checkEps('GroupNorm', eps);
    this.numGroups = numGroups;
    this.numChannels = numChannels;
    this.eps = eps;
    this.affine = affine;
    this.weight = affine ? constantParameter([numChannels], 1, dtype) : null;
    this.bias = affine ? constantParameter([numChannels], 0, dtype) : null;
  }

  override extraRepr(): string {
    return `${this.numGroups}, ${this.numChannels}, eps=${pythonFloat(this.eps)}, affine=${pythonBool(this.affine)}`;
  }

  forward(x: Tensor): Tensor {
    if (x.ndim < 2 || x.shape[1] !== this.numChannels) {
      throw new Error(`GroupNorm: expected input of shape (N, ${this.numChannels}, *), got ${formatShape(x.shape)}`);
    }
    try {
      return groupNorm(x, this.numGroups, { weight: this.weight, bias: this.bias, eps: this.eps });
    } catch (error) {
      throw renameOp(error, 'groupNorm', 'GroupNorm');
    }
  }
}
