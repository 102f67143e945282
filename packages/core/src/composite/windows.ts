import type { WindowGeometry } from '../kernels/windows.js';
import { primitives } from '../ops/index.js';
import type { Tensor } from '../tensor.js';
import { formatShape } from './validate.js';

export interface WindowOptions {
  stride?: number | readonly [number, number];
  padding?: number | readonly [number, number];
  /** Spacing between kernel elements (PyTorch's dilation). Default 1. */
  dilation?: number | readonly [number, number];
}

function pairOf(operation: string, name: string, value: number | readonly [number, number], minimum: number): [number, number] {
  const pair: [number, number] = typeof value === 'number' ? [value, value] : [value[0], value[1]];
  if (!pair.every((item) => Number.isInteger(item) && item >= minimum)) {
    throw new Error(`${operation}: ${name} must be an integer ≥ ${minimum} or a pair of them, got ${JSON.stringify(value)}`);
  }
  return pair;
}

function geometryOf(
  operation: string,
  plane: readonly [number, number],
  kernelSize: number | readonly [number, number],
  options: WindowOptions,
): WindowGeometry {
  const kernel = pairOf(operation, 'kernelSize', kernelSize, 1);
  const stride = pairOf(operation, 'stride', options.stride ?? 1, 1);
  const padding = pairOf(operation, 'padding', options.padding ?? 0, 0);
  const dilation = pairOf(operation, 'dilation', options.dilation ?? 1, 1);
  const span = [0, 1].map((axis) => dilation[axis]! * (kernel[axis]! - 1) + 1);
  const output: [number, number] = [0, 1].map((axis) => Math.floor((plane[axis]! + 2 * padding[axis]! - span[axis]!) / stride[axis]!) + 1) as [number, number];
  if (output[0] < 1 || output[1] < 1) {
    const dilated = dilation[0] === 1 && dilation[1] === 1 ? '' : ` and dilation ${formatShape(dilation)}`;
    throw new Error(`${operation}: kernel ${formatShape(kernel)} with padding ${formatShape(padding)}${dilated} does not fit the plane ${formatShape(plane)}`);
  }
  return { kernel, stride, padding, dilation, input: [plane[0], plane[1]], output };
}

/**
 * Sliding windows of an (N, C, H, W) tensor as columns (PyTorch's F.unfold, im2col):
 * (N, C·kh·kw, outH·outW), zero padding. conv2d is unfold + matmul. Its adjoint is fold.
 */
export function unfold(x: Tensor, kernelSize: number | readonly [number, number], options: WindowOptions = {}): Tensor {
  if (x.ndim !== 4) throw new Error(`unfold: expected an (N, C, H, W) input, got shape ${formatShape(x.shape)}`);
  const geometry = geometryOf('unfold', [x.shape[2]!, x.shape[3]!], kernelSize, options);
  return primitives.unfold([x], geometry);
}

/**
 * Sums columns (N, C·kh·kw, L) back into an (N, C, H, W) image of the given outputSize (H, W)
 * (PyTorch's F.fold, col2im); overlapping window elements add up. The adjoint of unfold.
 */
export function fold(
  columns: Tensor,
  outputSize: readonly [number, number],
  kernelSize: number | readonly [number, number],
  options: WindowOptions = {},
): Tensor {
  if (columns.ndim !== 3) throw new Error(`fold: expected (N, C·kh·kw, L) columns, got shape ${formatShape(columns.shape)}`);
  const plane = pairOf('fold', 'outputSize', outputSize, 1);
  const geometry = geometryOf('fold', plane, kernelSize, options);
  const windowSize = geometry.kernel[0] * geometry.kernel[1];
  const positions = geometry.output[0] * geometry.output[1];
  const rows = columns.shape[1]!;
  if (rows % windowSize !== 0 || columns.shape[2] !== positions) {
    throw new Error(
      `fold: columns of shape ${formatShape(columns.shape)} do not match kernel ${formatShape(geometry.kernel)} ` +
        `(${windowSize} elements) with ${positions} window positions over ${formatShape(plane)}`,
    );
  }
  return primitives.fold([columns], { ...geometry, channels: rows / windowSize });
}
