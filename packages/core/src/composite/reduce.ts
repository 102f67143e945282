import { primitives } from '../ops/index.js';
import type { Axes, Tensor } from '../tensor.js';
import { abs, add, checkTensor, div, eq, exp, log, maximum, mul, neg, rsqrt, sqrt, sub, where } from './elementwise.js';
import { full } from '../creation.js';
import { reshape } from './shape.js';
import { branchOnValues } from '../compile/hooks.js';
import { contiguousData } from '../kernels/layout.js';
import { allExamples } from '../transforms/vmap.js';
import { checkFloat, checkOptions, formatShape, keptShape, normalizeAxes, normalizeAxis } from './validate.js';

/**
 * The reduced axes: every axis for null/undefined. An empty list for a tensor with axes is an
 * Error: PyTorch 1.13 reduces over every axis (x.sum(dim=[])), NumPy and JAX over none, so either
 * reading would surprise someone. (For a 0-d tensor both readings agree.)
 */
function reduced(operation: string, x: Tensor, axes: Axes): number[] {
  checkTensor(operation, x, 'input');
  if (Array.isArray(axes) && axes.length === 0 && x.ndim > 0) {
    throw new Error(
      `${operation}: axis [] is ambiguous (PyTorch reduces over every axis, NumPy over none); ` +
        `pass null or nothing to reduce over every axis of the tensor of shape ${formatShape(x.shape)}, or skip the reduction`,
    );
  }
  return normalizeAxes(operation, axes, x.ndim, x.shape);
}

function finish(x: Tensor, result: Tensor, axes: readonly number[], keepdims: boolean): Tensor {
  return keepdims ? reshape(result, keptShape(x.shape, axes)) : result;
}

function countOf(x: Tensor, axes: readonly number[]): number {
  return axes.reduce((count, axis) => count * x.shape[axis]!, 1);
}

/** Σ over the axes (all by default; an empty list of axes is an Error, see reduced). */
export function sum(x: Tensor, axis?: Axes, keepdims = false): Tensor {
  const axes = reduced('sum', x, axis);
  return finish(x, primitives.sum([x], { axes }), axes, keepdims);
}

/**
 * Σ over the axes as float64 whatever x's dtype: the float64 running totals every sum keeps (see
 * kernels/reduce.ts), not rounded to x's dtype, e.g. so that a float32 mean's rounding,
 * Σx/n − float32(Σx/n), is known without another pass. The gradient is in x's dtype.
 */
export function sumFloat64(x: Tensor, axis?: Axes, keepdims = false): Tensor {
  const axes = reduced('sumFloat64', x, axis);
  checkFloat('sumFloat64', x);
  return finish(x, primitives.sum([x], { axes, dtype: 'float64' }), axes, keepdims);
}

export function mean(x: Tensor, axis?: Axes, keepdims = false): Tensor {
  checkFloat('mean', x);
  const axes = reduced('mean', x, axis);
  return div(sum(x, axes, keepdims), countOf(x, axes));
}

/**
 * Variance by the corrected two-pass algorithm (Chan, Golub & LeVeque 1983) on scaled deviations:
 *
 *   d = x − mean(x),   s = mean |d|,   e = d / s − mean(d / s),   Var = s² · Σe² / (n − correction)
 *
 * The deviations are formed first, so float32 data with a large mean and a small spread does not
 * cancel (never E[x²] − E[x]²). Subtracting mean(d / s) removes what the float32 rounding of the
 * mean itself would add (mean 1e4, std 1e-2: a rounding of up to 5e-4, a 0.25% error in the
 * variance). Dividing by s (a constant of the graph) keeps the squares in range, so float32 data
 * at 1e19 or 1e-19 has a variance wherever the true one is representable; s is 1 (and the pass
 * that computes it is left out) wherever the plain squares are in range. Mathematically
 * mean(d / s) is zero and s cancels, so every derivative is that of the plain formula.
 */
export function variance(x: Tensor, axis?: Axes, options: { correction?: number; keepdims?: boolean } = {}): Tensor {
  checkOptions('var', options, ['correction', 'keepdims']);
  return reducedResult('var', x, axis, options.keepdims, momentsOf('var', x, axis, options.correction).variance);
}

/** Standard deviation, sqrt(var), formed as s · sqrt(Σe² / (n − correction)) so it overflows only where it must. */
export function std(x: Tensor, axis?: Axes, options: { correction?: number; keepdims?: boolean } = {}): Tensor {
  checkOptions('std', options, ['correction', 'keepdims']);
  const { scale, scaledVariance } = momentsOf('std', x, axis, options.correction);
  return reducedResult('std', x, axis, options.keepdims, mul(scale, sqrt(scaledVariance)));
}

function reducedResult(operation: string, x: Tensor, axis: Axes, keepdims: boolean | undefined, result: Tensor): Tensor {
  return keepdims ? result : reshape(result, x.shape.filter((_, index) => !reduced(operation, x, axis).includes(index)));
}

export interface Moments {
  /** The mean over the axes, keepdims shape. */
  mean: Tensor;
  /** The variance over the axes (corrected two-pass, see var), keepdims shape: scale² · scaledVariance. */
  variance: Tensor;
  /** x − mean, the shape of x. */
  deviation: Tensor;
  /**
   * The scale of the deviations, keepdims shape, without history (a constant of the graph): 1 where
   * the plain squares are in range, else mean |x − mean| over the axes (see meanAbsScale).
   */
  scale: Tensor;
  /** (x − mean) / scale, corrected for the rounding of mean (its mean is zero to rounding), the shape of x. */
  scaledDeviation: Tensor;
  /** variance / scale², keepdims shape. */
  scaledVariance: Tensor;
  /**
   * (x − mean) / sqrt(variance + eps) (the biased or corrected variance, as asked), computed from the
   * scaled statistics as scaledDeviation · scaledRsqrt(scaledVariance, scale, eps): right wherever
   * the result is representable, even where the variance itself is not.
   */
  normalized(eps: number): Tensor;
}

/**
 * Mean, variance and deviations over the axes from one shared mean: what every normalization
 * needs, (x − mean) / sqrt(variance + eps), without computing the mean or the deviations twice.
 * correction as in var (default 1; normalization layers use 0).
 */
export function moments(x: Tensor, axis?: Axes, options: { correction?: number } = {}): Moments {
  checkOptions('moments', options, ['correction']);
  return momentsOf('moments', x, axis, options.correction);
}

/**
 * mean |t| over the axes (keepdims), without history: a scale for t, so that t / scale keeps t's
 * squares in range without changing its relative precision. It is at least the square root of the
 * dtype's smallest normal number (2^-63 for float32, 2^-511 for float64), so scale² and 1 / scale²
 * are finite (data below that has no normal variance anyway), and 1 where the axes are empty.
 */
export function meanAbsScale(t: Tensor, axes: readonly number[]): Tensor {
  if (axes.some((axis) => t.shape[axis] === 0)) return full(keptShape(t.shape, axes), 1, { dtype: t.dtype });
  return maximum(mean(abs(t), axes, true).detach(), t.dtype === 'float32' ? 2 ** -63 : 2 ** -511);
}

/**
 * scale · rsqrt(scale² · scaledVariance + eps), i.e. 1 / sqrt(variance + eps) · scale for
 * variance = scale² · scaledVariance, formed as rsqrt(scaledVariance + eps / scale / scale) so that
 * scale² never appears. For a scale from meanAbsScale (at least the square root of the dtype's
 * smallest normal number) and eps below 4, eps / scale² is finite, and so is every derivative.
 * scale is a constant of the graph.
 */
export function scaledRsqrt(scaledVariance: Tensor, scale: Tensor, eps: number): Tensor {
  if (!Number.isFinite(eps) || eps < 0) throw new Error(`scaledRsqrt: eps must be a finite number >= 0, got ${eps}`);
  return eps === 0 ? rsqrt(scaledVariance) : rsqrt(add(scaledVariance, div(div(eps, scale), scale)));
}

function momentsOf(operation: string, x: Tensor, axis: Axes, correction = 1): Moments {
  checkFloat(operation, x);
  const axes = reduced(operation, x, axis);
  if (typeof correction !== 'number' || !Number.isFinite(correction) || correction < 0) {
    throw new Error(`${operation}: correction must be a non-negative number, got ${correction}`);
  }
  const count = countOf(x, axes);
  const average = mean(x, axes, true);
  const deviation = sub(x, average);
  // Scaling costs a pass over x: it is taken only where the plain squares leave the range in
  // which they are exact to rounding (a variance that overflowed, underflowed or is not finite).
  const plain = momentsFrom(axes, count, correction, average, deviation, null);
  if (withinSquareRange(plain.scaledVariance)) return plain;
  return momentsFrom(axes, count, correction, average, deviation, meanAbsScale(deviation, axes));
}

/**
 * Whether every value (a variance or mean square) is finite and far enough from the dtype's limits
 * that the squares behind it neither overflowed nor lost precision to underflow: where it is, the
 * norms need no scaling of their inputs (see meanAbsScale). Under vmap it looks at every example's
 * values, so all examples take the same formula.
 */
export function withinSquareRange(variance: Tensor): boolean {
  const [low, high] = variance.dtype === 'float32' ? [2 ** -100, 2 ** 100] : [2 ** -900, 2 ** 900];
  return branchOnValues(allExamples(variance), (values) => {
    for (const value of contiguousData(values)) if (!(value >= low && value <= high)) return false;
    return true;
  });
}

/**
 * The moments from the deviations over `scale` (a graph constant, see meanAbsScale; null for 1,
 * where the ops by it are left out).
 */
function momentsFrom(axes: readonly number[], count: number, correction: number, average: Tensor, deviation: Tensor, scale: Tensor | null): Moments {
  const scaled = scale === null ? deviation : div(deviation, scale);
  // mean(x − mean) / scale: the rounding of the mean. It is zero in exact arithmetic for every x, so
  // its derivatives of every order are zero too: a constant of the graph, which saves passes in backward.
  const rounding = mean(scaled, axes, true).detach();
  const scaledDeviation = sub(scaled, rounding);
  const scaledVariance = div(sum(mul(scaledDeviation, scaledDeviation), axes, true), count - correction);
  const unit = scale ?? full(scaledVariance.shape, 1, { dtype: scaledVariance.dtype });
  const normalized = (eps: number): Tensor => {
    const factor = scale === null ? (eps === 0 ? rsqrt(scaledVariance) : rsqrt(add(scaledVariance, eps))) : scaledRsqrt(scaledVariance, scale, eps);
    return mul(scaledDeviation, factor);
  };
  const variance = scale === null ? scaledVariance : mul(scale, mul(scale, scaledVariance));
  return { mean: average, variance, deviation, scale: unit, scaledDeviation, scaledVariance, normalized };
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
