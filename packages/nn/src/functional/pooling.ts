import { arange, checkOptions, concat, noGrad, pad, tensor, where, type Tensor } from '@normgrad/core';
import { formatShape, pair } from '../util.js';
import { windows, type WindowGeometry } from './conv.js';

export interface Pool2dOptions {
  /** Default: kernelSize. */
  stride?: number | [number, number] | null;
  /** Implicit padding on both sides of H and W, at most half the kernel. Default 0. */
  padding?: number | [number, number];
}

export interface MaxPool2dOptions extends Pool2dOptions {
  /** Spacing between kernel elements. Default 1. */
  dilation?: number | [number, number];
  /** Round the output size up (a last window may start in the input or left padding and overhang). Default false. */
  ceilMode?: boolean;
}

export interface AvgPool2dOptions extends Pool2dOptions {
  /** Round the output size up, as MaxPool2d's ceilMode; the overhang past the padding is never counted. Default false. */
  ceilMode?: boolean;
  /** Divide by the window's size within the padded input (true) or by its number of input elements (false). Default true. */
  countIncludePad?: boolean;
  /** Divide every window's sum by this nonzero integer instead. Default null. */
  divisorOverride?: number | null;
}

/** The checked geometry of one pooling call: per axis (H, W) the kernel, stride, padding and input and output extents. */
interface PoolGeometry {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  plane: [number, number];
  out: [number, number];
}

/**
 * PyTorch's pooling output size along one axis: floor (or ceil) of (size + 2p − span) / s, plus
 * one; in ceil mode a last window that would start in the right padding is dropped.
 */
function pooledSize(size: number, span: number, stride: number, padding: number, ceilMode: boolean): number {
  const room = size + 2 * padding - span;
  let out = (ceilMode ? Math.ceil(room / stride) : Math.floor(room / stride)) + 1;
  if (ceilMode && (out - 1) * stride >= size + padding) out -= 1;
  return out;
}

function pool2d(
  op: string,
  x: Tensor,
  kernelSize: number | [number, number],
  options: MaxPool2dOptions,
  padValue: number,
  reduce: (w: Tensor, geometry: PoolGeometry) => Tensor,
): Tensor {
  if (x.ndim === 3) return pool2d(op, x.unsqueeze(0), kernelSize, options, padValue, reduce).squeeze(0);
  if (x.ndim !== 4) throw new Error(`${op}: expected input of shape (N, C, H, W) or (C, H, W), got ${formatShape(x.shape)}`);
  const kernel = pair(op, 'kernelSize', kernelSize, 1);
  const stride = pair(op, 'stride', options.stride ?? kernel, 1);
  const padding = pair(op, 'padding', options.padding ?? 0, 0);
  const dilation = pair(op, 'dilation', options.dilation ?? 1, 1);
  const ceilMode = options.ceilMode ?? false;
  if (typeof ceilMode !== 'boolean') throw new Error(`${op}: ceilMode must be a boolean, got ${JSON.stringify(ceilMode)}`);
  if (padding.some((p, axis) => p > kernel[axis]! / 2)) {
    throw new Error(`${op}: padding ${formatShape(padding)} must be at most half the kernel ${formatShape(kernel)}`);
  }
  const plane: [number, number] = [x.shape[2]!, x.shape[3]!];
  const span = [0, 1].map((axis) => dilation[axis]! * (kernel[axis]! - 1) + 1);
  const [outHeight, outWidth] = [0, 1].map((axis) => pooledSize(plane[axis]!, span[axis]!, stride[axis]!, padding[axis]!, ceilMode)) as [number, number];
  if (outHeight < 1 || outWidth < 1) {
    throw new Error(
      `${op}: kernel ${formatShape(kernel)} with padding ${formatShape(padding)} is larger than the input plane ` +
        `${formatShape(plane)} (input shape ${formatShape(x.shape)})`,
    );
  }
  // ceil mode: the last window may reach past the right padding; it sees padValue there
  const overhang = [0, 1].map((axis) => Math.max(0, ([outHeight, outWidth][axis]! - 1) * stride[axis]! + span[axis]! - plane[axis]! - 2 * padding[axis]!));
  const padded =
    padding[0] + overhang[0]! + padding[1] + overhang[1]! === 0
      ? x
      : pad(x, [[padding[0], padding[0] + overhang[0]!], [padding[1], padding[1] + overhang[1]!]], padValue);
  const geometry: WindowGeometry = { kernel, stride, padding: [0, 0], dilation, outHeight, outWidth };
  return reduce(windows(padded, geometry), { kernel, stride, padding, plane, out: [outHeight, outWidth] });
}

/**
 * The largest element of each window (axis 2 of (N, C, K, outH, outW)). The gradient goes
 * entirely to the first maximal element in row-major kernel order, as PyTorch's max_pool2d
 * (unlike Tensor.max, which splits it between ties). A window holding NaN gives NaN.
 */
function firstMaximum(windowValues: Tensor): Tensor {
  const size = windowValues.shape[2]!;
  const first = noGrad(() => {
    const isMaximal = windowValues.eq(windowValues.max(2, true));
    // K, K-1, ..., 1 on the maximal elements: the largest marks the first of them
    const priority = isMaximal.mul(arange(size, 0, -1, { dtype: windowValues.dtype }).reshape([1, 1, size, 1, 1]));
    return priority.eq(priority.max(2, true)).mul(isMaximal);
  });
  const selected = where(first, windowValues, 0).sum(2);
  const largest = noGrad(() => windowValues.max(2));
  return where(largest.ne(largest), largest, selected);
}

/** Max over each kernel window of x (N, C, H, W); padding counts as -Infinity (never the maximum). */
export function maxPool2d(x: Tensor, kernelSize: number | [number, number], options: MaxPool2dOptions = {}): Tensor {
  checkOptions('maxPool2d', options, ['stride', 'padding', 'dilation', 'ceilMode']);
  return pool2d('maxPool2d', x, kernelSize, options, -Infinity, firstMaximum);
}

/**
 * PyTorch's avg_pool2d divisors along one axis: window o covers [o·s − p, o·s − p + k) clipped to
 * the padded input [−p, size + p) (countIncludePad) or to the input [0, size) (otherwise).
 */
function windowCounts(size: number, kernel: number, stride: number, padding: number, out: number, countIncludePad: boolean): number[] {
  return Array.from({ length: out }, (_, o) => {
    const start = o * stride - padding;
    const end = Math.min(start + kernel, size + padding);
    return countIncludePad ? end - start : Math.min(end, size) - Math.max(start, 0);
  });
}

/**
 * Mean over each kernel window of x (N, C, H, W), as PyTorch's avg_pool2d: the window's sum
 * divided by its size counting the zero padding (countIncludePad, the default) or counting only
 * input elements, or by divisorOverride. In ceilMode the part of a last window past the padding
 * counts in neither divisor.
 */
export function avgPool2d(x: Tensor, kernelSize: number | [number, number], options: AvgPool2dOptions = {}): Tensor {
  const op = 'avgPool2d';
  checkOptions(op, options, ['stride', 'padding', 'ceilMode', 'countIncludePad', 'divisorOverride']);
  const { ceilMode, countIncludePad = true, divisorOverride = null, ...windowOptions } = options;
  if (typeof countIncludePad !== 'boolean') throw new Error(`${op}: countIncludePad must be a boolean, got ${JSON.stringify(countIncludePad)}`);
  if (divisorOverride !== null && !(Number.isInteger(divisorOverride) && divisorOverride !== 0)) {
    throw new Error(`${op}: divisorOverride must be a nonzero integer or null, got ${JSON.stringify(divisorOverride)}`);
  }
  const poolOptions: MaxPool2dOptions = ceilMode === undefined ? windowOptions : { ...windowOptions, ceilMode };
  return pool2d(op, x, kernelSize, poolOptions, 0, (w, { kernel, stride, padding, plane, out }) => {
    const sums = w.sum(2);
    if (divisorOverride !== null) return sums.div(divisorOverride);
    const [rows, columns] = [0, 1].map((axis) => windowCounts(plane[axis]!, kernel[axis]!, stride[axis]!, padding[axis]!, out[axis]!, countIncludePad)) as [number[], number[]];
    if (rows.every((r) => r === kernel[0]) && columns.every((c) => c === kernel[1])) return w.mean(2);
    const divisors = Float64Array.from(rows.flatMap((r) => columns.map((c) => r * c)));
    return sums.div(tensor(divisors, { shape: out, dtype: x.dtype }));
  });
}

/** An output extent per axis; null keeps the input's extent. */
export type AdaptiveOutputSize = number | [number | null, number | null];

/** Means over bins [floor(i·n/out), ceil((i+1)·n/out)) of one axis (PyTorch's adaptive bins). */
function adaptiveMean(x: Tensor, axis: number, out: number): Tensor {
  const size = x.shape[axis]!;
  if (out === size) return x;
  if (size % out === 0) {
    const shape = [...x.shape];
    shape.splice(axis, 1, out, size / out);
    return x.reshape(shape).mean(axis + 1);
  }
  const bins: Tensor[] = [];
  for (let i = 0; i < out; i++) {
    const start = Math.floor((i * size) / out);
    const end = Math.ceil(((i + 1) * size) / out);
    bins.push(x.narrow(axis, start, end - start).mean(axis, true));
  }
  return concat(bins, axis);
}

/**
 * Average pooling to a fixed output plane (PyTorch's adaptive_avg_pool2d): output cell (i, j) is
 * the mean of rows floor(i·H/outH) .. ceil((i+1)·H/outH) − 1 and the matching columns, so any
 * output size works, including sizes that do not divide the input.
 */
export function adaptiveAvgPool2d(x: Tensor, outputSize: AdaptiveOutputSize): Tensor {
  const op = 'adaptiveAvgPool2d';
  if (x.ndim === 3) return adaptiveAvgPool2d(x.unsqueeze(0), outputSize).squeeze(0);
  if (x.ndim !== 4) throw new Error(`${op}: expected input of shape (N, C, H, W) or (C, H, W), got ${formatShape(x.shape)}`);
  const requested = typeof outputSize === 'number' ? [outputSize, outputSize] : Array.isArray(outputSize) && outputSize.length === 2 ? outputSize : null;
  if (!requested || !requested.every((v) => v === null || (Number.isInteger(v) && v >= 1))) {
    throw new Error(`${op}: outputSize must be a positive integer or a pair of positive integers (or null), got ${JSON.stringify(outputSize)}`);
  }
  const [outHeight, outWidth] = [requested[0] ?? x.shape[2]!, requested[1] ?? x.shape[3]!];
  if (x.shape[2] === 0 || x.shape[3] === 0) throw new Error(`${op}: the input plane must not be empty, got shape ${formatShape(x.shape)}`);
  return adaptiveMean(adaptiveMean(x, 2, outHeight), 3, outWidth);
}
