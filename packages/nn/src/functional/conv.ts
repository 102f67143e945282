import { checkOptions, fold, pad, unfold, type Tensor } from '@normgrad/core';
import { checkSameDtype, formatShape, pair } from '../util.js';

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  /** Spacing between kernel elements. Default 1. */
  dilation?: number | [number, number];
  /** Input and output channels are split into this many groups, each convolved separately. Default 1. */
  groups?: number;
}

export interface Conv1dOptions {
  stride?: number;
  padding?: number;
  dilation?: number;
  groups?: number;
}

export interface ConvTranspose2dOptions extends Conv2dOptions {
  /** Extra rows/columns added to one side of the output (smaller than stride or dilation). Default 0. */
  outputPadding?: number | [number, number];
}

const conv2dOptionKeys = ['stride', 'padding', 'dilation', 'groups'];

export interface WindowGeometry {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
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
  dilation: number | readonly [number, number] = 1,
): WindowGeometry {
  const kernel = pair(op, 'kernelSize', kernelSize, 1);
  const strides = pair(op, 'stride', stride, 1);
  const paddings = pair(op, 'padding', padding, 0);
  const dilations = pair(op, 'dilation', dilation, 1);
  const [height, width] = [inputShape[inputShape.length - 2]!, inputShape[inputShape.length - 1]!];
  const span = (axis: 0 | 1): number => dilations[axis] * (kernel[axis] - 1) + 1;
  const outHeight = Math.floor((height + 2 * paddings[0] - span(0)) / strides[0]) + 1;
  const outWidth = Math.floor((width + 2 * paddings[1] - span(1)) / strides[1]) + 1;
  if (outHeight < 1 || outWidth < 1) {
    const dilated = dilations[0] === 1 && dilations[1] === 1 ? '' : ` and dilation ${formatShape(dilations)}`;
    throw new Error(
      `${op}: kernel ${formatShape(kernel)} with padding ${formatShape(paddings)}${dilated} is larger than the input plane ` +
        `${formatShape([height, width])} (input shape ${formatShape(inputShape)})`,
    );
  }
  return { kernel, stride: strides, padding: paddings, dilation: dilations, outHeight, outWidth };
}

/**
 * The kernel windows of x (N, C, H, W), already padded, as (N, C, kh * kw, outHeight, outWidth)
 * in row-major (i, j) kernel order: core's unfold (im2col, one pass) viewed per channel. unfold's
 * gradient is fold and fold's is unfold, so this is differentiable to any order.
 */
export function windows(paddedInput: Tensor, geometry: WindowGeometry): Tensor {
  const { kernel, stride, dilation, outHeight, outWidth } = geometry;
  const [batch, channels] = paddedInput.shape as [number, number];
  return unfold(paddedInput, kernel, { stride, dilation }).reshape([batch, channels, kernel[0] * kernel[1], outHeight, outWidth]);
}

/** Pads the last two axes (H, W) of x by `padding` on both sides with `value` (may be -Infinity). */
export function padPlane(x: Tensor, padding: [number, number], value = 0): Tensor {
  if (padding[0] === 0 && padding[1] === 0) return x;
  return pad(x, [[padding[0], padding[0]], [padding[1], padding[1]]], value);
}

/** groups must be a positive integer dividing both channel counts. */
function checkGroups(op: string, groups: number, inChannels: number, outChannels: number): void {
  if (!Number.isInteger(groups) || groups < 1) throw new Error(`${op}: groups must be a positive integer, got ${groups}`);
  if (inChannels % groups !== 0 || outChannels % groups !== 0) {
    throw new Error(`${op}: groups = ${groups} must divide both the input channels (${inChannels}) and the output channels (${outChannels})`);
  }
}

/**
 * Applies each group's weight rows (G, Cout/G, K) to its column block of cols (N, G·K, L), giving
 * (N, Cout, L): one batched matmul.
 */
function groupedProduct(weightRows: Tensor, columns: Tensor, groups: number): Tensor {
  const [batch, rows, positions] = columns.shape as [number, number, number];
  const outChannels = weightRows.shape[0]! * weightRows.shape[1]!;
  if (groups === 1) return weightRows.reshape([outChannels, rows]).matmul(columns);
  return weightRows.matmul(columns.reshape([batch, groups, rows / groups, positions])).reshape([batch, outChannels, positions]);
}

/**
 * 2-D cross-correlation (PyTorch's conv2d) of x (N, Cin, H, W) or (Cin, H, W) with weight
 * (Cout, Cin / groups, kh, kw), as im2col + matmul:
 *   cols = unfold(x, kernel, stride, padding, dilation)   (N, Cin * kh * kw, outH * outW)
 *   y_g  = weight_g.reshape(Cout / G, -1) @ cols_g + bias   for each group g of channels
 * All ops are differentiable core ops, so gradients w.r.t. input and weight have derivatives too.
 */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  checkOptions(op, options, conv2dOptionKeys);
  if (x.ndim === 3) return conv2d(x.unsqueeze(0), weight, bias, options).squeeze(0);
  if (weight.ndim !== 4) throw new Error(`${op}: weight must have shape (Cout, Cin / groups, kh, kw), got ${formatShape(weight.shape)}`);
  const [outChannels, groupChannels, kh, kw] = weight.shape as [number, number, number, number];
  const groups = options.groups ?? 1;
  const inChannels = groupChannels * (Number.isInteger(groups) && groups > 0 ? groups : 1);
  checkGroups(op, groups, inChannels, outChannels);
  if (x.ndim !== 4 || x.shape[1] !== inChannels) {
    const perGroup = groups === 1 ? '' : ` (${groups} groups of ${groupChannels})`;
    throw new Error(
      `${op}: expected input of shape (N, ${inChannels}, H, W) or (${inChannels}, H, W)${perGroup} for weight of shape ` +
        `${formatShape(weight.shape)}, got ${formatShape(x.shape)}`,
    );
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== outChannels)) {
    throw new Error(`${op}: bias must have shape [${outChannels}], got ${formatShape(bias.shape)}`);
  }
  checkSameDtype(op, x, { weight, bias });
  const geometry = windowGeometry(op, x.shape, [kh, kw], options.stride ?? 1, options.padding ?? 0, options.dilation ?? 1);
  const batch = x.shape[0]!;
  const { outHeight, outWidth } = geometry;
  const columns = unfold(x, [kh, kw], { stride: geometry.stride, padding: geometry.padding, dilation: geometry.dilation });
  const rows = groupChannels * kh * kw;
  const product = groups === 1 ? weight.reshape([outChannels, rows]).matmul(columns) : groupedProduct(weight.reshape([groups, outChannels / groups, rows]), columns, groups);
  const y = product.reshape([batch, outChannels, outHeight, outWidth]);
  return bias ? y.add(bias.reshape([1, outChannels, 1, 1])) : y;
}

function single(op: string, name: string, value: number | undefined, fallback: number, min: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new Error(`${op}: ${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * 1-D cross-correlation (PyTorch's conv1d) of x (N, Cin, L) or (Cin, L) with weight
 * (Cout, Cin / groups, k): conv2d over a plane of height 1.
 */
export function conv1d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv1dOptions = {}): Tensor {
  const op = 'conv1d';
  checkOptions(op, options, conv2dOptionKeys);
  if (x.ndim === 2) return conv1d(x.unsqueeze(0), weight, bias, options).squeeze(0);
  if (weight.ndim !== 3) throw new Error(`${op}: weight must have shape (Cout, Cin / groups, k), got ${formatShape(weight.shape)}`);
  if (x.ndim !== 3) throw new Error(`${op}: expected input of shape (N, Cin, L) or (Cin, L), got ${formatShape(x.shape)}`);
  const stride = single(op, 'stride', options.stride, 1, 1);
  const padding = single(op, 'padding', options.padding, 0, 0);
  const dilation = single(op, 'dilation', options.dilation, 1, 1);
  const kernel = weight.shape[2]!;
  const length = x.shape[2]!;
  if (length + 2 * padding < dilation * (kernel - 1) + 1) {
    throw new Error(`${op}: kernel ${kernel} with padding ${padding} and dilation ${dilation} is larger than the input length ${length} (input shape ${formatShape(x.shape)})`);
  }
  try {
    const y = conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, {
      stride: [1, stride],
      padding: [0, padding],
      dilation: [1, dilation],
      groups: options.groups ?? 1,
    });
    return y.squeeze(2);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('conv2d:')) {
      throw new Error(`${op}: ${error.message.slice('conv2d:'.length).trimStart()} (input ${formatShape(x.shape)}, weight ${formatShape(weight.shape)})`);
    }
    throw error;
  }
}

/**
 * 2-D transposed convolution (PyTorch's conv_transpose2d, the adjoint of conv2d w.r.t. its input)
 * of x (N, Cin, H, W) or (Cin, H, W) with weight (Cin, Cout / groups, kh, kw):
 *   cols = weight_gᵀ @ x_g                 (N, Cout · kh · kw, H · W)
 *   y    = fold(cols, (outH, outW), kernel, stride, padding, dilation) + bias
 *   outH = (H − 1) · stride − 2 · padding + dilation · (kh − 1) + outputPadding + 1
 */
export function convTranspose2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: ConvTranspose2dOptions = {}): Tensor {
  const op = 'convTranspose2d';
  checkOptions(op, options, [...conv2dOptionKeys, 'outputPadding']);
  if (x.ndim === 3) return convTranspose2d(x.unsqueeze(0), weight, bias, options).squeeze(0);
  if (weight.ndim !== 4) throw new Error(`${op}: weight must have shape (Cin, Cout / groups, kh, kw), got ${formatShape(weight.shape)}`);
  const [inChannels, groupOutChannels, kh, kw] = weight.shape as [number, number, number, number];
  const groups = options.groups ?? 1;
  const outChannels = groupOutChannels * (Number.isInteger(groups) && groups > 0 ? groups : 1);
  checkGroups(op, groups, inChannels, outChannels);
  if (x.ndim !== 4 || x.shape[1] !== inChannels) {
    throw new Error(`${op}: expected input of shape (N, ${inChannels}, H, W) or (${inChannels}, H, W) for weight of shape ${formatShape(weight.shape)}, got ${formatShape(x.shape)}`);
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== outChannels)) {
    throw new Error(`${op}: bias must have shape [${outChannels}], got ${formatShape(bias.shape)}`);
  }
  checkSameDtype(op, x, { weight, bias });
  const stride = pair(op, 'stride', options.stride ?? 1, 1);
  const padding = pair(op, 'padding', options.padding ?? 0, 0);
  const dilation = pair(op, 'dilation', options.dilation ?? 1, 1);
  const outputPadding = pair(op, 'outputPadding', options.outputPadding ?? 0, 0);
  for (const axis of [0, 1] as const) {
    if (outputPadding[axis] >= Math.max(stride[axis], dilation[axis])) {
      throw new Error(`${op}: outputPadding ${formatShape(outputPadding)} must be smaller than either stride ${formatShape(stride)} or dilation ${formatShape(dilation)}`);
    }
  }
  const [batch, , height, width] = x.shape as [number, number, number, number];
  const kernel: [number, number] = [kh, kw];
  const outSize = [0, 1].map(
    (axis) => ([height, width][axis]! - 1) * stride[axis]! - 2 * padding[axis]! + dilation[axis]! * (kernel[axis]! - 1) + outputPadding[axis]! + 1,
  ) as [number, number];
  if (outSize[0] < 1 || outSize[1] < 1) {
    throw new Error(`${op}: padding ${formatShape(padding)} leaves an empty output ${formatShape(outSize)} for input ${formatShape(x.shape)} and kernel ${formatShape(kernel)}`);
  }
  // fold slides (H + extra) windows where outputPadding ≥ stride (allowed when dilation is larger): zero rows
  const extra = [0, 1].map((axis) => Math.floor(outputPadding[axis]! / stride[axis]!)) as [number, number];
  const input = extra[0] === 0 && extra[1] === 0 ? x : pad(x, [[0, extra[0]], [0, extra[1]]]);
  const positions = (height + extra[0]) * (width + extra[1]);
  const weightColumns = weight.reshape([groups, inChannels / groups, groupOutChannels * kh * kw]).transpose(1, 2);
  const columns = groupedProduct(weightColumns, input.reshape([batch, inChannels, positions]), groups);
  const y = fold(columns, outSize, kernel, { stride, padding, dilation });
  return bias ? y.add(bias.reshape([1, outChannels, 1, 1])) : y;
}
