import { checkOptions, type DType, type Tensor } from '@normgrad/core';
import { linear } from '../functional/linear.js';
import { Module } from '../module.js';
import { pythonBool } from '../repr.js';
import { renameOp } from '../util.js';
import { uniformParameter } from './init.js';

export interface LinearOptions {
  bias?: boolean;
  dtype?: DType;
}

/**
 * y = x W^T + b. PyTorch's default initialization: weight and bias uniform in
 * [-1/sqrt(inFeatures), 1/sqrt(inFeatures)) (kaiming_uniform with a = sqrt(5)).
 */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  weight: Tensor;
  bias: Tensor | null;

  constructor(inFeatures: number, outFeatures: number, options: LinearOptions = {}) {
    super();
    for (const [name, value] of [['inFeatures', inFeatures], ['outFeatures', outFeatures]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new Error(`Linear: ${name} must be a positive integer, got ${value}`);
    }
    checkOptions('Linear', options, ['bias', 'dtype']);
    const dtype = options.dtype ?? 'float32';
    const bound = 1 / Math.sqrt(inFeatures);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.weight = uniformParameter([outFeatures, inFeatures], bound, dtype);
    this.bias = options.bias ?? true ? uniformParameter([outFeatures], bound, dtype) : null;
  }

  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${pythonBool(this.bias !== null)}`;
  }

  forward(x: Tensor): Tensor {
    try {
      return linear(x, this.weight, this.bias);
    } catch (error) {
      throw renameOp(error, 'linear', 'Linear');
    }
  }
}
