import { checkOptions, type Tensor } from '@normgrad/core';
import { checkEps } from '../functional/normalize.js';
import { weightStandardizedConv2d } from '../functional/weight-standardization.js';
import { pythonFloat } from '../repr.js';
import { renameOp } from '../util.js';
import { Conv2d, type Conv2dLayerOptions } from './conv.js';

export interface WSConv2dLayerOptions extends Conv2dLayerOptions {
  /** Added to each filter's variance. Default 1e-5. */
  eps?: number;
}

/**
 * Conv2d with weight standardization (Qiao et al. 2019, https://arxiv.org/abs/1903.10520): each
 * output filter of `weight` is standardized over (Cin, kh, kw) in every forward pass,
 * Ŵ = (W - E[W]) / sqrt(Var[W] + eps), then convolved as Conv2d does. The stored `weight` stays
 * the raw parameter (same initialization, stateDict keys and optimizer handling as Conv2d).
 */
export class WSConv2d extends Conv2d {
  readonly eps: number;

  constructor(inChannels: number, outChannels: number, kernelSize: number | [number, number], options: WSConv2dLayerOptions = {}) {
    checkOptions('WSConv2d', options, ['stride', 'padding', 'dilation', 'groups', 'bias', 'dtype', 'eps']);
    const { eps = 1e-5, ...convOptions } = options;
    super(inChannels, outChannels, kernelSize, convOptions);
    checkEps('WSConv2d', eps);
    this.eps = eps;
  }

  override extraRepr(): string {
    return `${super.extraRepr()}, eps=${pythonFloat(this.eps)}`;
  }

  override forward(x: Tensor): Tensor {
    try {
      return weightStandardizedConv2d(x, this.weight, this.bias, { ...this.convOptions(), eps: this.eps });
    } catch (error) {
      throw renameOp(renameOp(error, 'conv2d', 'WSConv2d'), 'weightStandardizedConv2d', 'WSConv2d');
    }
  }
}
