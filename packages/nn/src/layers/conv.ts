import type { DType, Tensor } from '@normgrad/core';
import { conv2d } from '../functional/conv.js';
import { Module } from '../module.js';
import { pair, renameOp } from '../util.js';
import { uniformParameter } from './init.js';

export interface Conv2dLayerOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  bias?: boolean;
  dtype?: DType;
}

/**
 * 2-D convolution over (N, Cin, H, W). PyTorch's default initialization: weight and bias
 * uniform in [-1/sqrt(fanIn), 1/sqrt(fanIn)) with fanIn = Cin * kh * kw.
 */
export class Conv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  weight: Tensor;
  bias: Tensor | null;

  constructor(inChannels: number, outChannels: number, kernelSize: number | [number, number], options: Conv2dLayerOptions = {}) {
    super();
    for (const [name, value] of [['inChannels', inChannels], ['outChannels', outChannels]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new Error(`Conv2d: ${name} must be a positive integer, got ${value}`);
    }
    const dtype = options.dtype ?? 'float32';
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = pair('Conv2d', 'kernelSize', kernelSize, 1);
    this.stride = pair('Conv2d', 'stride', options.stride ?? 1, 1);
    this.padding = pair('Conv2d', 'padding', options.padding ?? 0, 0);
    const bound = 1 / Math.sqrt(inChannels * this.kernelSize[0] * this.kernelSize[1]);
    this.weight = uniformParameter([outChannels, inChannels, ...this.kernelSize], bound, dtype);
    this.bias = options.bias ?? true ? uniformParameter([outChannels], bound, dtype) : null;
  }

  forward(x: Tensor): Tensor {
    try {
      return conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding });
    } catch (error) {
      throw renameOp(error, 'conv2d', 'Conv2d');
    }
  }
}
