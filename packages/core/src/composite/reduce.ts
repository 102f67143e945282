import { primitives } from '../ops/index.js';
import type { Axes, Tensor } from '../tensor.js';
import { div, exp, log, mul, neg, sqrt, sub, where, eq, add } from './elementwise.js';
import { reshape } from './shape.js';
import { checkFloat, formatShape, keptShape, normalizeAxes, normalizeAxis } from './validate.js';

function reduced(operation: string, x: Tensor, axes: Axes): number[] {
  return normalizeAxes(operation, axes, x.ndim, x.shape);
}

function finish(x: Tensor, result: Tensor, axes: readonly number[], keepdims: boolean): Tensor {
  return keepdims ? reshape(result, keptShape(x.shape, axes)) : result;
}

function countOf(x: Tensor, axes: readonly number[]): number {
  return axes.reduce((count, axis) => count * x.shape[axis]!, 1);
}

/** Σ over the axes (all by default). */
export function sum(x: Tensor, axis?: Axes, keepdims = false): Tensor {
  const axes = reduced('sum', x, axis);
  return finish(x, primitives.sum([x], { axes }), axes, keepdims);
}

export function mean(x: Tensor, axis?: Axes, keepdims = false): Tensor {
  checkFloat('mean', x);
  const axes = reduced('mean', x, axis);
  return div(sum(x, axes, keepdims), countOf(x, axes));
}

/**
 * Variance by the corrected two-pass algorithm (Chan, Golub & LeVeque 1983):
 *
 *   d = x − mean(x),   Var = (Σd² − (Σd)²/n) / (n − correction)
 *
 * The deviations are formed first, so float32 data with a large mean and a small spread does not
 * cancel (never E[x²] − E[x]²). The (Σd)²/n term removes what the float32 rounding of the mean
 * itself would add (mean 1e4, std 1e-2: a rounding of up to 5e-4, a 0.25% error in the
 * variance); mathematically Σd is zero, so every derivative is that of the plain formula.
 */
export function variance(x: Tensor, axis?: Axes, options: { correction?: number; keepdims?: boolean } = {}): Tensor {
  return varianceOf('var', x, axis, options);
}

function varianceOf(operation: string, x: Tensor, axis: Axes, options: { correction?: number; keepdims?: boolean }): Tensor {
  const result = momentsOf(operation, x, axis, options.correction).variance;
  return options.keepdims ? result : reshape(result, x.shape.filter((_, index) => !reduced(operation, x, axis).includes(index)));
}

export interface Moments {
  /** The mean over the axes, keepdims shape. */
  mean: Tensor;
  /** The variance over the axes (corrected two-pass, see var), keepdims shape. */
  variance: Tensor;
  /** x − mean, the shape of x. */
  deviation: Tensor;
}

/**
 * Mean, variance and deviations over the axes from one shared mean: what every normalization
 * needs, (x − mean) / sqrt(variance + eps), without computing the mean or the deviations twice.
 * correction as in var (default 1; normalization layers use 0).
 */
export function moments(x: Tensor, axis?: Axes, options: { correction?: number } = {}): Moments {
  return momentsOf('moments', x, axis, options.correction);
}

function momentsOf(operation: string, x: Tensor, axis: Axes, correction = 1): Moments {
  checkFloat(operation, x);
  const axes = reduced(operation, x, axis);
  if (!Number.isFinite(correction) || correction < 0) throw new Error(`${operation}: correction must be a non-negative number, got ${correction}`);
  const count = countOf(x, axes);
  const average = mean(x, axes, true);
  const deviation = sub(x, average);
  const deviationSum = sum(deviation, axes, true);
  const squaredSum = sum(mul(deviation, deviation), axes, true);
  const variance = div(sub(squaredSum, div(mul(deviationSum, deviationSum), count)), count - correction);
  return { mean: average, variance, deviation };
}

export function std(x: Tensor, axis?: Axes, options: { correction?: number; keepdims?: boolean } = {}): Tensor {
  return sqrt(varianceOf('std', x, axis, options));
}

function checkNonEmpty(operation: string, x: Tensor, axes: readonly number[]): void {
  if (axes.some((axis) => x.shape[axis] === 0)) {
    throw new Error(`${operation}: cannot reduce over an empty axis of a tensor of shape ${formatShape(x.shape)}`);
  }
}

/** Maximum over the axes; the gradient is split evenly between tied maxima. */
export function max(x: Tensor, axis?: Axes, keepdims = false): Tensor {
  const axes = reduced('max', x, axis);
  checkNonEmpty('max', x, axes);
  return finish(x, primitives.max([x], { axes }), axes, keepdims);
}

export function min(x: Tensor, axis?: Axes, keepdims = false): Tensor {
  const axes = reduced('min', x, axis);
  checkNonEmpty('min', x, axes);
  return neg(max(neg(x), axes, keepdims));
}

/** The constant shift used for stable exp-sums: the maximum, with ±∞ and NaN replaced by 0. */
function stableShift(x: Tensor, axes: readonly number[]): Tensor {
  const peak = max(x, axes, true).detach();
  const finite = eq(sub(peak, peak), 0);
  return where(finite, peak, 0);
}

/** log Σ exp(x) over the axes, shifted by the maximum so it neither overflows nor underflows. */
export function logsumexp(x: Tensor, axis?: Axes, keepdims = false): Tensor {
  checkFloat('logsumexp', x);
  const axes = reduced('logsumexp', x, axis);
  checkNonEmpty('logsumexp', x, axes);
  const shift = stableShift(x, axes);
  const result = add(log(sum(exp(sub(x, shift)), axes, true)), shift);
  return keepdims ? result : reshape(result, x.shape.filter((_, index) => !axes.includes(index)));
}

/** exp(x) / Σ exp(x) along one axis, computed from x − max(x). */
export function softmax(x: Tensor, axis = -1): Tensor {
  checkFloat('softmax', x);
  const normalized = normalizeAxis('softmax', axis, x.ndim, x.shape);
  const exponentials = exp(sub(x, stableShift(x, [normalized])));
  return div(exponentials, sum(exponentials, normalized, true));
}

/** x − logsumexp(x) along one axis. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  checkFloat('logSoftmax', x);
  const normalized = normalizeAxis('logSoftmax', axis, x.ndim, x.shape);
  const shifted = sub(x, stableShift(x, [normalized]));
  return sub(shifted, log(sum(exp(shifted), normalized, true)));
}

/** Sums a broadcast gradient back to `shape` (the adjoint of broadcastTo). */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  const leading = g.ndim - shape.length;
  const axes: number[] = [];
  g.shape.forEach((extent, axis) => {
    if (axis < leading || (shape[axis - leading] === 1 && extent !== 1)) axes.push(axis);
  });
  return axes.length === 0 ? g : reshape(sum(g, axes), shape);
}
