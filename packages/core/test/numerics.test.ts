/**
 * Float32 numerics: statistics of data with a large mean and a small spread (the case where
 * E[x²] − E[x]² cancels to garbage), long sums, and exp-based ops at huge inputs. References
 * are computed in plain JS float64 from the very float32 values the tensors hold.
 */
import { describe, expect, it } from 'vitest';
import { Tensor, grad, logSoftmax, logsumexp, randn, sigmoid, softmax, tensor } from '@normgrad/core';
import { installMatchers } from '@normgrad/testing/vitest';

installMatchers();

/** float32 samples mean + spread·z (z standard normal, seeded), and their values as float64. */
function sample(count: number, mean: number, spread: number, seed: number): { x: Tensor; values: Float64Array } {
  const z = randn([count], { dtype: 'float64', seed }).toFloat64Array();
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = mean + spread * z[i]!;
  return { x: tensor(data), values: Float64Array.from(data) };
}

/** Two-pass float64 statistics of plain numbers. */
function statistics(values: ArrayLike<number>): { mean: number; m2: number } {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i]!;
  const mean = total / values.length;
  let m2 = 0;
  for (let i = 0; i < values.length; i++) m2 += (values[i]! - mean) ** 2;
  return { mean, m2 };
}

const relativeError = (actual: number, expected: number): number => Math.abs(actual - expected) / Math.abs(expected);

/** The spacing of float32 numbers around |value|. */
function float32Ulp(value: number): number {
  const exponent = Math.floor(Math.log2(Math.abs(value)));
  return 2 ** (exponent - 23);
}

describe('float32 statistics of data with a large mean and a small spread', () => {
  // means placed a third of a float32 spacing off the grid, so the rounded mean is off by a lot
  // compared with the spread: the case that defeats a single-pass or naive two-pass variance
  const cases = [
    { label: 'mean 1e4, std 1e-2, 10⁶ elements', mean: 1e4 + float32Ulp(1e4) / 3, spread: 1e-2, count: 1_000_000, seed: 11 },
    { label: 'mean 1e3, std 1e-3, 10⁵ elements', mean: 1e3 + float32Ulp(1e3) / 3, spread: 1e-3, count: 100_000, seed: 12 },
    { label: 'mean 1e3, std 1e-3, 10⁴ elements', mean: 1e3 - float32Ulp(1e3) * 0.4, spread: 1e-3, count: 10_000, seed: 13 },
    { label: 'mean -1e4, std 1e-2, 10⁴ elements', mean: -1e4 + float32Ulp(1e4) * 0.45, spread: 1e-2, count: 10_000, seed: 14 },
  ];

  for (const { label, mean, spread, count, seed } of cases) {
    describe(label, () => {
      const { x, values } = sample(count, mean, spread, seed);
      const reference = statistics(values);

      it('mean is within one float32 spacing of the exact mean', () => {
        const computed = x.mean();
        expect(computed.dtype).toBe('float32');
        expect(relativeError(computed.item(), reference.mean)).toBeLessThan(1.2e-7);
        expect(Math.abs(computed.item() - reference.mean)).toBeLessThanOrEqual(float32Ulp(mean));
      });

      it('var (correction 0 and 1) and std to a relative 1e-5', () => {
        const biased = x.var(null, { correction: 0 });
        expect(biased.dtype).toBe('float32');
        expect(relativeError(biased.item(), reference.m2 / count)).toBeLessThan(1e-5);
        expect(relativeError(x.var().item(), reference.m2 / (count - 1))).toBeLessThan(1e-5);
        expect(relativeError(x.std().item(), Math.sqrt(reference.m2 / (count - 1)))).toBeLessThan(1e-5);
        // for contrast: the one-pass formula E[x²] − E[x]² in float32 is useless here
        const onePass = x.square().mean().sub(x.mean().square()).item();
        expect(relativeError(onePass, reference.m2 / count)).toBeGreaterThan(0.1);
      });

      it('normalization (x − mean)/std is exact up to the float32 rounding of the mean', () => {
        const m = x.mean();
        const y = x.sub(m).div(x.std(null, { correction: 0 }));
        const sigma = Math.sqrt(reference.m2 / count);
        const shift = (m.item() - reference.mean) / sigma; // the only error float32 can not avoid
        const expected = new Float64Array(count);
        for (let i = 0; i < count; i++) expected[i] = (values[i]! - reference.mean) / sigma - shift;
        expect(y).toBeAllclose(expected, { rtol: 1e-5, atol: 1e-5 });
        expect(relativeError(y.var(null, { correction: 0 }).item(), 1)).toBeLessThan(1e-5);
        expect(Math.abs(y.mean().item() + shift)).toBeLessThan(1e-5);
      });
    });
  }

  it('var and mean along an axis with keepdims (per-feature statistics, different means per column)', () => {
    const rows = 2000;
    const columns = 8;
    const z = randn([rows, columns], { dtype: 'float64', seed: 21 }).toFloat64Array();
    const data = new Float32Array(rows * columns);
    const means = Array.from({ length: columns }, (_, j) => (j % 2 === 0 ? 1 : -1) * 10 ** (3 + (j % 3)) * (1 + j / 7));
    for (let i = 0; i < rows; i++) for (let j = 0; j < columns; j++) data[i * columns + j] = means[j]! + 1e-2 * z[i * columns + j]!;
    const x = tensor(data, { shape: [rows, columns] });
    const variances = x.var(0, { correction: 0, keepdims: true });
    expect(variances.shape).toEqual([1, columns]);
    const computed = variances.toFloat64Array();
    for (let j = 0; j < columns; j++) {
      const column = Array.from({ length: rows }, (_, i) => data[i * columns + j]!);
      const reference = statistics(column);
      expect(relativeError(computed[j]!, reference.m2 / rows)).toBeLessThan(1e-5);
    }
    // along the last axis of the transpose (a strided view): the same numbers
    expect(x.transpose().var(1, { correction: 0 })).toBeAllclose(variances.reshape([columns]), { rtol: 1e-6, atol: 0 });
  });

  it('the gradient of var at a large mean is 2(x − mean)/(n − 1) to float32 accuracy', () => {
    const { x, values } = sample(10_000, 1e4 + float32Ulp(1e4) / 3, 1e-2, 31);
    const reference = statistics(values);
    const g = grad((v: Tensor) => v.var())(x);
    const expected = Array.from(values, (value) => (2 * (value - reference.mean)) / (values.length - 1));
    // each entry is ~2e-6; the float32 rounding of the mean shifts it by up to ulp(1e4)/2 · 2/(n−1) ≈ 1e-7
    expect(g).toBeAllclose(expected, { rtol: 0, atol: (float32Ulp(1e4) / 2) * (2 / (values.length - 1)) * 1.01 });
  });
});

describe('long float32 sums', () => {
  it('sum of 10⁶ float32 values 0.1 is the float32 of the exact sum', () => {
    const x = tensor(new Float32Array(1_000_000).fill(0.1));
    const exact = 1_000_000 * Math.fround(0.1);
    expect(x.sum().item()).toBe(Math.fround(exact));
    expect(x.mean().item()).toBe(Math.fround(0.1));
    // a naive float32 running sum would be off by about 1%
    let naive = Math.fround(0);
    for (let i = 0; i < 1_000_000; i++) naive = Math.fround(naive + Math.fround(0.1));
    expect(relativeError(naive, exact)).toBeGreaterThan(1e-3);
  });

  it('sum of 10⁶ random float32 values of both signs, over all axes and along one', () => {
    const z = randn([1000, 1000], { seed: 41 });
    const values = z.toFloat64Array();
    let total = 0;
    for (const value of values) total += value;
    const computed = z.sum().item();
    expect(Math.abs(computed - total)).toBeLessThanOrEqual(float32Ulp(total) / 2 + 1e-9);
    const rows = z.sum(1).toFloat64Array();
    for (const row of [0, 499, 999]) {
      let rowTotal = 0;
      for (let j = 0; j < 1000; j++) rowTotal += values[row * 1000 + j]!;
      expect(Math.abs(rows[row]! - rowTotal)).toBeLessThanOrEqual(float32Ulp(rowTotal) / 2 + 1e-9);
    }
  });
});

describe('exp-based ops at huge inputs', () => {
  it('softmax, logSoftmax, logsumexp of ±1e4 (float32) are finite and correct', () => {
    const x = tensor([1e4, 1e4 - 1, -1e4]);
    const tail = Math.log1p(Math.exp(-1));
    expect(softmax(x)).toBeAllclose([1 / (1 + Math.exp(-1)), Math.exp(-1) / (1 + Math.exp(-1)), 0], { rtol: 1e-6, atol: 1e-30 });
    expect(logSoftmax(x)).toBeAllclose([-tail, -1 - tail, -2e4 - tail], { rtol: 1e-6, atol: 1e-6 });
    expect(logsumexp(x).item()).toBeCloseTo(Math.fround(1e4 + tail), 2);
    const negative = tensor([-1e4, -1e4, -1e4 - 2]);
    expect(negative.softmax()).toBeAllclose([1, 1, Math.exp(-2)].map((v) => v / (2 + Math.exp(-2))), { rtol: 1e-6 });
    expect(negative.logsumexp().item()).toBeCloseTo(-1e4 + Math.log(2 + Math.exp(-2)), 2);
    for (const output of [softmax(x), logSoftmax(x), logsumexp(x), negative.softmax(), negative.logSoftmax()]) {
      expect(Array.from(output.toFloat64Array()).every(Number.isFinite)).toBe(true);
    }
  });

  it('their gradients at ±1e4 are finite and correct', () => {
    const x = tensor([1e4, 1e4 - 1, -1e4]);
    const s = [1 / (1 + Math.exp(-1)), Math.exp(-1) / (1 + Math.exp(-1)), 0];
    expect(grad((v: Tensor) => v.logsumexp())(x)).toBeAllclose(s, { rtol: 1e-6, atol: 1e-30 });
    // ∂ logSoftmax(x)_0 / ∂x = e_0 − s
    expect(grad((v: Tensor) => v.logSoftmax().slice(0))(x)).toBeAllclose([1 - s[0]!, -s[1]!, 0], { rtol: 1e-5, atol: 1e-7 });
    // ∂ softmax(x)_1 / ∂x = s_1 (e_1 − s)
    expect(grad((v: Tensor) => v.softmax().slice(1))(x)).toBeAllclose([-s[1]! * s[0]!, s[1]! * (1 - s[1]!), 0], { rtol: 1e-5, atol: 1e-7 });
  });

  it('along an axis of a batch, with rows of very different scales, float64 up to 1e300', () => {
    const x = tensor(
      [
        [1e4, 0, -1e4],
        [-1e4, -1e4, -1e4],
        [0.5, 0.25, 0],
      ],
      { dtype: 'float64' },
    );
    const e = [Math.exp(0.5), Math.exp(0.25), 1];
    const total = e[0]! + e[1]! + e[2]!;
    expect(x.softmax(1)).toBeAllclose([[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], e.map((v) => v / total)], { rtol: 1e-12, atol: 1e-300 });
    expect(x.logsumexp(1)).toBeAllclose([1e4, -1e4 + Math.log(3), Math.log(total)], { rtol: 1e-14 });
    const huge = tensor([1e300, 1e300, -1e300], { dtype: 'float64' });
    expect(huge.logsumexp().item()).toBe(1e300);
    expect(huge.softmax()).toBeAllclose([0.5, 0.5, 0], { rtol: 1e-14 });
  });

  it('softmax with −Infinity entries (masking) gives exact zeros and finite gradients', () => {
    const x = tensor([0, -Infinity, 1], { dtype: 'float64' });
    const s = [1 / (1 + Math.E), 0, Math.E / (1 + Math.E)];
    expect(x.softmax()).toBeAllclose(s, { rtol: 1e-14 });
    expect(x.logSoftmax().slice(1).item()).toBe(-Infinity);
    const g = grad((v: Tensor) => v.softmax().mul(tensor([1, 2, 3], { dtype: 'float64' })).sum())(x);
    expect(Array.from(g.toFloat64Array()).every(Number.isFinite)).toBe(true);
    expect(Math.abs(g.slice(1).item())).toBe(0);
  });

  it('sigmoid of ±1000 and its gradient are finite (float32 and float64)', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const x = tensor([-1000, -100, 0, 100, 1000], { dtype });
      const y = sigmoid(x);
      const values = Array.from(y.toFloat64Array());
      expect(values.every(Number.isFinite)).toBe(true);
      expect(values[0]).toBe(0);
      expect(values[2]).toBe(0.5);
      expect(values[3]).toBe(1);
      expect(values[4]).toBe(1);
      if (dtype === 'float64') expect(relativeError(values[1]!, Math.exp(-100))).toBeLessThan(1e-14);
      const g = grad((v: Tensor) => v.sigmoid().sum())(x);
      const slopes = Array.from(g.toFloat64Array());
      expect(slopes.every(Number.isFinite)).toBe(true);
      expect(slopes[0]).toBe(0);
      expect(slopes[2]).toBe(0.25);
      expect(slopes[4]).toBe(0);
      // second derivative too
      const second = grad((v: Tensor) => grad((u: Tensor) => u.sigmoid().sum())(v).sum())(x);
      expect(Array.from(second.toFloat64Array()).every(Number.isFinite)).toBe(true);
    }
    // tanh saturates the same way
    const t = tensor([-1000, 1000]);
    expect(t.tanh().toArray()).toEqual([-1, 1]);
    expect(grad((v: Tensor) => v.tanh().sum())(t).toArray()).toEqual([0, 0]);
  });
});
