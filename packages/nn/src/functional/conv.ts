import { pad, unfold, type Tensor } from '@normgrad/core';
import { checkSameDtype, formatShape, pair } from '../util.js';

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
}

export interface WindowGeometry {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  outHeight: number;
  outWidth: number;
}

/** Output size and checked options of a 2-D sliding window over an (H, W) plane. */
export function windowGeometry(
  op: string,
  inputShape: readonly number[],
  kernelSize: number | readonly [number, number],
  stride: number | readonly [number, number],
  padding: number | readonly [number, number],
): WindowGeometry {
  const kernel = pair(op, 'kernelSize', kernelSize, 1);
  const strides = pair(op, 'stride', stride, 1);
  const paddings = pair(op, 'padding', padding, 0);
  const [height, width] = [inputShape[inputShape.length - 2]!, inputShape[inputShape.length - 1]!];
  const outHeight = Math.floor((height + 2 * paddings[0] - kernel[0]) / strides[0]) + 1;
  const outWidth = Math.floor((width + 2 * paddings[1] - kernel[1]) / strides[1]) + 1;
  if (outHeight < 1 || outWidth < 1) {
    throw new Error(
      `${op}: kernel ${formatShape(kernel)} with padding ${formatShape(paddings)} is larger than the input plane ` +
        `${formatShape([height, width])} (input shape ${formatShape(inputShape)})`,
    );
  }
  return { kernel, stride: strides, padding: paddings, outHeight, outWidth };
}

/**
 * The kernel windows of x (N, C, H, W), already padded, as (N, C, kh * kw, outHeight, outWidth)
 * in row-major (i, j) kernel order: core's unfold (im2col, one pass) viewed per channel. unfold's
 * gradient is fold and fold's is unfold, so this is differentiable to any order.
 */
export function windows(paddedInput: Tensor, geometry: WindowGeometry): Tensor {
  const { kernel, stride, outHeight, outWidth } = geometry;
  const [batch, channels] = paddedInput.shape as [number, number];
  return unfold(paddedInput, kernel, { stride }).reshape([batch, channels, kernel[0] * kernel[1], outHeight, outWidth]);
}

/** Pads the last two axes (H, W) of x by `padding` on both sides with `value` (may be -Infinity). */
export function padPlane(x: Tensor, padding: [number, number], value = 0): Tensor {
  if (padding[0] === 0 && padding[1] === 0) return x;
  return pad(x, [[padding[0], padding[0]], [padding[1], padding[1]]], value);
}

/**
 * 2-D cross-correlation (PyTorch's conv2d) of x (N, Cin, H, W) or (Cin, H, W) with weight
 * (Cout, Cin, kh, kw), as im2col + matmul:
 *   cols = unfold(x, kernel, stride, padding)   (N, Cin * kh * kw, outH * outW)
 *   y    = weight.reshape(Cout, -1) @ cols + bias
 * All ops are differentiable core ops, so gradients w.r.t. input and weight have derivatives too.
 */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  if (x.ndim === 3) return conv2d(x.unsqueeze(0), weight, bias, options).squeeze(0);
  if (weight.ndim !== 4) throw new Error(`${op}: weight must have shape (Cout, Cin, kh, kw), got ${formatShape(weight.shape)}`);
  const [outChannels, inChannels, kh, kw] = weight.shape as [number, number, number, number];
  if (x.ndim !== 4 || x.shape[1] !== inChannels) {
    throw new Error(
      `${op}: expected input of shape (N, ${inChannels}, H, W) or (${inChannels}, H, W) for weight of shape ` +
        `${formatShape(weight.shape)}, got ${formatShape(x.shape)}`,
    );
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== outChannels)) {
    throw new Error(`${op}: bias must have shape [${outChannels}], got ${formatShape(bias.shape)}`);
  }
  checkSameDtype(op, x, { weight, bias });
  const geometry = windowGeometry(op, x.shape, [kh, kw], options.stride ?? 1, options.padding ?? 0);
  const batch = x.shape[0]!;
  const { outHeight, outWidth } = geometry;
  const columns = unfold(x, [kh, kw], { stride: geometry.stride, padding: geometry.padding });
  const y = weight.reshape([outChannels, inChannels * kh * kw]).matmul(columns).reshape([batch, outChannels, outHeight, outWidth]);
  return bias ? y.add(bias.reshape([1, outChannels, 1, 1])) : y;
}
