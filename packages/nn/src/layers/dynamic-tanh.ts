import { checkOptions, type DType, type Tensor } from '@normgrad/core';
import { dynamicTanh } from '../functional/dynamic-tanh.js';
import { Module } from '../module.js';
import { pythonFloat, pythonTuple } from '../repr.js';
import { renameOp } from '../util.js';
import { constantParameter } from './init.js';
import { normalizedShapeOption } from './layer-norm.js';

export interface DynamicTanhLayerOptions {
  /** Initial value of the scalar α. Default 0.5 (the paper's default for non-LLM models). */
  alphaInit?: number;
  dtype?: DType;
}

/**
 * Dynamic Tanh, DyT (Zhu et al. 2025, https://arxiv.org/abs/2503.10622): y = weight · tanh(α · x) + bias
 * over the trailing normalizedShape axes, with a learnable scalar `alpha` (shape [1], alphaInit),
 * `weight` (ones) and `bias` (zeros) shaped like normalizedShape, as the paper's reference code.
 */
export class DynamicTanh extends Module {
  readonly normalizedShape: number[];
  readonly alphaInit: number;
  alpha: Tensor;
  weight: Tensor;
  bias: Tensor;

  constructor(normalizedShape: number | number[], options: DynamicTanhLayerOptions = {}) {
    super();
    checkOptions('DynamicTanh', options, ['alphaInit', 'dtype']);
    const shape = normalizedShapeOption('DynamicTanh', normalizedShape);
    const { alphaInit = 0.5, dtype = 'float32' } = options;
    if (!Number.isFinite(alphaInit)) throw new Error(`DynamicTanh: alphaInit must be a finite number, got ${alphaInit}`);
    this.normalizedShape = shape;
    this.alphaInit = alphaInit;
    this.alpha = constantParameter([1], alphaInit, dtype);
    this.weight = constantParameter(shape, 1, dtype);
    this.bias = constantParameter(shape, 0, dtype);
  }

  override extraRepr(): string {
    return `normalized_shape=${pythonTuple(this.normalizedShape)}, alpha_init_value=${pythonFloat(this.alphaInit)}`;
  }

  forward(x: Tensor): Tensor {
    try {
      return dynamicTanh(x, this.normalizedShape, this.alpha, { weight: this.weight, bias: this.bias });
    } catch (error) {
      throw renameOp(error, 'dynamicTanh', 'DynamicTanh');
    }
  }
}
