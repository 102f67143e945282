import { checkOptions, type DType, type Tensor } from '@normgrad/core';
import { layerNorm } from '../functional/layer-norm.js';
import { checkEps } from '../functional/normalize.js';
import { Module } from '../module.js';
import { pythonBool, pythonFloat, pythonTuple } from '../repr.js';
import { renameOp } from '../util.js';
import { constantParameter } from './init.js';

export interface LayerNormLayerOptions {
  eps?: number;
  elementwiseAffine?: boolean;
  /** Learn a bias (only with elementwiseAffine). Default true. */
  bias?: boolean;
  dtype?: DType;
}

/** A layer's normalizedShape argument as a list, checked (LayerNorm and RMSNorm). */
export function normalizedShapeOption(layer: string, normalizedShape: number | number[]): number[] {
  const shape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  if (shape.length === 0 || shape.some((extent) => !Number.isInteger(extent) || extent < 1)) {
    throw new Error(`${layer}: normalizedShape must be a positive integer or a non-empty list of them, got ${JSON.stringify(normalizedShape)}`);
  }
  return shape;
}

/** Layer normalization over the trailing normalizedShape axes (https://arxiv.org/abs/1607.06450). */
export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  readonly eps: number;
  readonly elementwiseAffine: boolean;
  weight: Tensor | null;
  bias: Tensor | null;

  constructor(normalizedShape: number | number[], options: LayerNormLayerOptions = {}) {
    super();
    const shape = normalizedShapeOption('LayerNorm', normalizedShape);
    checkOptions('LayerNorm', options, ['eps', 'elementwiseAffine', 'bias', 'dtype']);
    const { eps = 1e-5, elementwiseAffine = true, bias = true, dtype = 'float32' } = options;
    checkEps('LayerNorm', eps);
    this.normalizedShape = shape;
    this.eps = eps;
    this.elementwiseAffine = elementwiseAffine;
    this.weight = elementwiseAffine ? constantParameter(shape, 1, dtype) : null;
    this.bias = elementwiseAffine && bias ? constantParameter(shape, 0, dtype) : null;
  }

  override extraRepr(): string {
    return `${pythonTuple(this.normalizedShape)}, eps=${pythonFloat(this.eps)}, elementwise_affine=${pythonBool(this.elementwiseAffine)}`;
  }

  forward(x: Tensor): Tensor {
    try {
      return layerNorm(x, this.normalizedShape, { weight: this.weight, bias: this.bias, eps: this.eps });
    } catch (error) {
      throw renameOp(error, 'layerNorm', 'LayerNorm');
    }
  }
}
