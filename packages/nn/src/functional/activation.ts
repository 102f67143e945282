import { rand, type Tensor } from '@normgrad/core';
import { formatShape } from '../util.js';

export function relu(x: Tensor): Tensor {
  return x.relu();
}

function checkAxis(op: string, x: Tensor, axis: number): void {
  if (!Number.isInteger(axis) || axis < -x.ndim || axis >= Math.max(x.ndim, 1)) {
    throw new Error(`${op}: axis ${axis} is out of range for input of shape ${formatShape(x.shape)}`);
  }
}

/** exp(x) / sum(exp(x)) along axis (stable: core shifts by the max). */
export function softmax(x: Tensor, axis: number): Tensor {
  checkAxis('softmax', x, axis);
  return x.softmax(axis);
}

/** x - logsumexp(x) along axis. */
export function logSoftmax(x: Tensor, axis: number): Tensor {
  checkAxis('logSoftmax', x, axis);
  return x.logSoftmax(axis);
}

export interface DropoutOptions {
  /** Drop only in training; identity otherwise. Default true. */
  training?: boolean;
  /** Seed of the mask's random numbers (default: core's global generator, see manualSeed). */
  seed?: number;
}

/**
 * Zeroes each element with probability p and scales the rest by 1 / (1 - p)
 * (Srivastava et al. 2014, https://jmlr.org/papers/v15/srivastava14a.html).
 */
export function dropout(x: Tensor, p = 0.5, options: DropoutOptions = {}): Tensor {
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout: probability p must be in [0, 1], got ${p}`);
  const training = options.training ?? true;
  if (!training || p === 0) return x;
  if (p === 1) return x.mul(0);
  const uniform = rand(x.shape, { dtype: x.dtype, ...(options.seed === undefined ? {} : { seed: options.seed }) });
  const keep = uniform.ge(p); // 1 with probability 1 - p
  return x.mul(keep).mul(1 / (1 - p));
}
