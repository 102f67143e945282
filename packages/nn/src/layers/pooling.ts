import { checkOptions, type Tensor } from '@normgrad/core';
import { adaptiveAvgPool2d, avgPool2d, maxPool2d, type AdaptiveOutputSize, type AvgPool2dOptions, type MaxPool2dOptions } from '../functional/pooling.js';
import { Module } from '../module.js';
import { pythonBool, pythonIntOrTuple } from '../repr.js';
import { renameOp } from '../util.js';

/**
 * Max over kernel windows of (N, C, H, W); stride defaults to the kernel size. The gradient at
 * tied maxima goes to the first maximal element of the window, as in PyTorch.
 */
export class MaxPool2d extends Module {
  constructor(readonly kernelSize: number | [number, number], readonly options: MaxPool2dOptions = {}) {
    super();
    checkOptions('MaxPool2d', options, ['stride', 'padding', 'dilation', 'ceilMode']);
  }

  forward(x: Tensor): Tensor {
    try {
      return maxPool2d(x, this.kernelSize, this.options);
    } catch (error) {
      throw renameOp(error, 'maxPool2d', 'MaxPool2d');
    }
  }

  override extraRepr(): string {
    const { stride, padding = 0, dilation = 1, ceilMode = false } = this.options;
    return (
      `kernel_size=${pythonIntOrTuple(this.kernelSize)}, stride=${pythonIntOrTuple(stride ?? this.kernelSize)}, ` +
      `padding=${pythonIntOrTuple(padding)}, dilation=${pythonIntOrTuple(dilation)}, ceil_mode=${pythonBool(ceilMode)}`
    );
  }
}

/**
 * Mean over kernel windows of (N, C, H, W); stride defaults to the kernel size. Options as
 * PyTorch's AvgPool2d: ceilMode, countIncludePad (default true), divisorOverride (see avgPool2d).
 * Prints as PyTorch does, with kernel_size, stride and padding only.
 */
export class AvgPool2d extends Module {
  constructor(readonly kernelSize: number | [number, number], readonly options: AvgPool2dOptions = {}) {
    super();
    checkOptions('AvgPool2d', options, ['stride', 'padding', 'ceilMode', 'countIncludePad', 'divisorOverride']);
  }

  forward(x: Tensor): Tensor {
    try {
      return avgPool2d(x, this.kernelSize, this.options);
    } catch (error) {
      throw renameOp(error, 'avgPool2d', 'AvgPool2d');
    }
  }

  override extraRepr(): string {
    const { stride, padding = 0 } = this.options;
    return `kernel_size=${pythonIntOrTuple(this.kernelSize)}, stride=${pythonIntOrTuple(stride ?? this.kernelSize)}, padding=${pythonIntOrTuple(padding)}`;
  }
}

/**
 * Average pooling of (N, C, H, W) or (C, H, W) to a fixed output plane (PyTorch's
 * AdaptiveAvgPool2d; see adaptiveAvgPool2d for the bins). null keeps that axis's input extent.
 */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: AdaptiveOutputSize) {
    super();
    const valid = (v: unknown): boolean => v === null || (typeof v === 'number' && Number.isInteger(v) && v >= 1);
    if (!(typeof outputSize === 'number' ? valid(outputSize) : Array.isArray(outputSize) && outputSize.length === 2 && outputSize.every(valid))) {
      throw new Error(`AdaptiveAvgPool2d: outputSize must be a positive integer or a pair of positive integers (or null), got ${JSON.stringify(outputSize)}`);
    }
  }

  forward(x: Tensor): Tensor {
    try {
      return adaptiveAvgPool2d(x, this.outputSize);
    } catch (error) {
      throw renameOp(error, 'adaptiveAvgPool2d', 'AdaptiveAvgPool2d');
    }
  }

  override extraRepr(): string {
    return `output_size=${pythonIntOrTuple(this.outputSize)}`;
  }
}
