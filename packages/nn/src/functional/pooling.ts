import type { Tensor } from '@normgrad/core';
import { formatShape } from '../util.js';
import { padPlane, windowGeometry, windows } from './conv.js';

export interface Pool2dOptions {
  /** Default: kernelSize. */
  stride?: number | [number, number] | null;
  /** Implicit padding on both sides of H and W, at most half the kernel. Default 0. */
  padding?: number | [number, number];
}

function pool2d(op: string, x: Tensor, kernelSize: number | [number, number], options: Pool2dOptions, padValue: number, reduce: (w: Tensor) => Tensor): Tensor {
  if (x.ndim === 3) return pool2d(op, x.unsqueeze(0), kernelSize, options, padValue, reduce).squeeze(0);
  if (x.ndim !== 4) throw new Error(`${op}: expected input of shape (N, C, H, W) or (C, H, W), got ${formatShape(x.shape)}`);
  const geometry = windowGeometry(op, x.shape, kernelSize, options.stride ?? kernelSize, options.padding ?? 0);
  if (geometry.padding.some((p, axis) => p > geometry.kernel[axis]! / 2)) {
    throw new Error(`${op}: padding ${formatShape(geometry.padding)} must be at most half the kernel ${formatShape(geometry.kernel)}`);
  }
  return reduce(windows(padPlane(x, geometry.padding, padValue), geometry));
}

/** Max over each kernel window of x (N, C, H, W); padding counts as -Infinity. */
export function maxPool2d(x: Tensor, kernelSize: number | [number, number], options: Pool2dOptions = {}): Tensor {
  return pool2d('maxPool2d', x, kernelSize, options, -Infinity, (w) => w.max(2));
}

/** Mean over each kernel window of x (N, C, H, W); padding counts as zeros (PyTorch's countIncludePad). */
export function avgPool2d(x: Tensor, kernelSize: number | [number, number], options: Pool2dOptions = {}): Tensor {
  return pool2d('avgPool2d', x, kernelSize, options, 0, (w) => w.mean(2));
}
