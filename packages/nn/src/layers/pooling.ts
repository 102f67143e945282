import type { Tensor } from '@normgrad/core';
import { avgPool2d, maxPool2d, type Pool2dOptions } from '../functional/pooling.js';
import { Module } from '../module.js';
import { renameOp } from '../util.js';

/** Max over kernel windows of (N, C, H, W); stride defaults to the kernel size. */
export class MaxPool2d extends Module {
  constructor(readonly kernelSize: number | [number, number], readonly options: Pool2dOptions = {}) {
    super();
  }

  forward(x: Tensor): Tensor {
    try {
      return maxPool2d(x, this.kernelSize, this.options);
    } catch (error) {
      throw renameOp(error, 'maxPool2d', 'MaxPool2d');
    }
  }
}

/** Mean over kernel windows of (N, C, H, W); stride defaults to the kernel size. */
export class AvgPool2d extends Module {
  constructor(readonly kernelSize: number | [number, number], readonly options: Pool2dOptions = {}) {
    super();
  }

  forward(x: Tensor): Tensor {
    try {
      return avgPool2d(x, this.kernelSize, this.options);
    } catch (error) {
      throw renameOp(error, 'avgPool2d', 'AvgPool2d');
    }
  }
}
