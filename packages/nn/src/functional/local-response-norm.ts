import { checkOptions, type Tensor } from '@normgrad/core';
import { formatShape } from '../util.js';
import { checkPositiveFinite } from './normalize.js';

export interface LocalResponseNormOptions {
  alpha?: number;
  beta?: number;
  k?: number;
}

/**
 * Local response normalization (Krizhevsky, Sutskever & Hinton 2012,
 * https://papers.nips.cc/paper/4824-imagenet-classification-with-deep-convolutional-neural-networks)
 * across channels of x (N, C, *), PyTorch's `nn.LocalResponseNorm`:
 *
 *   y_c = x_c / (k + alpha / size · Σ_{c' = c − ⌊size/2⌋}^{c + ⌊(size − 1)/2⌋} x_{c'}²)^beta
 *
 * channels outside [0, C) contributing zeros (the sum is always divided by size). A plain
 * composite: squares, zero padding along the channel axis, a sum of `size` shifted slices.
 */
export function localResponseNorm(x: Tensor, size: number, options: LocalResponseNormOptions = {}): Tensor {
  const op = 'localResponseNorm';
  checkOptions(op, options, ['alpha', 'beta', 'k']);
  const { alpha = 1e-4, beta = 0.75, k = 1 } = options;
  if (x.ndim < 3) throw new Error(`${op}: expected 3D or higher dimensionality input (N, C, *), got ${x.ndim}D input of shape ${formatShape(x.shape)}`);
  if (!Number.isInteger(size) || size < 1) throw new Error(`${op}: size must be a positive integer, got ${size}`);
  for (const [name, value] of [['alpha', alpha], ['beta', beta]] as const) {
    if (!Number.isFinite(value)) throw new Error(`${op}: ${name} must be a finite number, got ${value}`);
  }
  checkPositiveFinite(op, 'k', k);
  const channels = x.shape[1]!;
  const widths = x.shape.map((_, axis): [number, number] => (axis === 1 ? [size >> 1, (size - 1) >> 1] : [0, 0]));
  const padded = x.square().pad(widths);
  let windowSum = padded.narrow(1, 0, channels);
  for (let offset = 1; offset < size; offset++) windowSum = windowSum.add(padded.narrow(1, offset, channels));
  return x.div(windowSum.mul(alpha / size).add(k).pow(beta));
}
