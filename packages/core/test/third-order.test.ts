/**
 * Third derivatives of a few chains against analytic values, computed two ways: by composing
 * grad three times, and by backward with createGraph three times. Every VJP is written in tensor
 * ops, so every order is exact (up to rounding) — the property PyTorch's fused norms lose.
 */
import { describe, expect, it } from 'vitest';
import { Tensor, grad, gradgradcheck, logsumexp, softmax, tensor, type NestedArray } from '@normgrad/core';
import { installMatchers } from '@normgrad/testing/vitest';

installMatchers();

const f64 = (data: NestedArray, requiresGrad = false): Tensor => tensor(data, { dtype: 'float64', requiresGrad });
const tight = { rtol: 1e-10, atol: 1e-12 };

type Fn = (x: Tensor) => Tensor;

/** Elementwise n-th derivative of an elementwise fn: differentiate the sum n times. */
function nthElementwise(fn: Fn, order: number): Fn {
  let current: Fn = fn;
  for (let k = 0; k < order; k++) {
    const previous = current;
    current = (x) => grad((v: Tensor) => previous(v).sum())(x);
  }
  return current;
}

/** The same by backward: x.grad after backward with createGraph, three times. */
function thirdByBackward(fn: Fn, values: NestedArray): Tensor {
  const x = f64(values, true);
  fn(x).sum().backward(undefined, { createGraph: true });
  const first = x.grad!;
  expect(first.requiresGrad).toBe(true);
  x.grad = null;
  first.sum().backward(undefined, { createGraph: true });
  const second = x.grad!;
  expect(second.requiresGrad).toBe(true);
  x.grad = null;
  second.sum().backward();
  const third = x.grad!;
  expect(third.requiresGrad).toBe(false);
  return third;
}

const sigma = (x: number): number => 1 / (1 + Math.exp(-x));

/** d³/dx³ [tanh(x) eˣ] = eˣ (t + 3t′ + 3t″ + t‴) with t′ = 1 − t², t″ = −2t t′, t‴ = −2t′² + 4t² t′. */
function tanhExpThird(x: number): number {
  const t = Math.tanh(x);
  const s = 1 - t * t;
  return Math.exp(x) * (t + 3 * s + 3 * (-2 * t * s) + (-2 * s * s + 4 * t * t * s));
}

/** d^k/dx^k [tanh(x) eˣ] for k = 1, 2 (to check the intermediate orders too). */
function tanhExpFirst(x: number): number {
  const t = Math.tanh(x);
  return Math.exp(x) * (t + (1 - t * t));
}
function tanhExpSecond(x: number): number {
  const t = Math.tanh(x);
  const s = 1 - t * t;
  return Math.exp(x) * (t + 2 * s - 2 * t * s);
}

describe('third derivatives against closed forms', () => {
  const tanhExp: Fn = (x) => x.tanh().mul(x.exp());

  it('tanh(x)·exp(x), scalar: grad(grad(grad(f)))', () => {
    for (const at of [-1.3, 0, 0.4, 2]) {
      const x = f64(at);
      const first = grad(tanhExp)(x);
      const second = grad(grad(tanhExp))(x);
      const third = grad(grad(grad(tanhExp)))(x);
      expect(first.item()).toBeCloseTo(tanhExpFirst(at), 12);
      expect(second.item()).toBeCloseTo(tanhExpSecond(at), 12);
      expect(third.shape).toEqual([]);
      expect(third.item()).toBeCloseTo(tanhExpThird(at), 11);
    }
  });

  it('tanh(x)·exp(x) summed over a vector: elementwise third derivative, by grad and by backward', () => {
    const values = [-2, -0.5, 0.1, 0.8, 1.7];
    const expected = values.map(tanhExpThird);
    expect(nthElementwise(tanhExp, 3)(f64(values))).toBeAllclose(expected, tight);
    expect(thirdByBackward(tanhExp, values)).toBeAllclose(expected, tight);
  });

  it('x.pow(3).sum(): third derivative 6 everywhere (and the fourth 0)', () => {
    const values = [-3, -1, 0, 0.5, 2];
    const cube: Fn = (x) => x.pow(3);
    expect(nthElementwise(cube, 1)(f64(values))).toBeAllclose(values.map((v) => 3 * v * v), tight);
    expect(nthElementwise(cube, 2)(f64(values))).toBeAllclose(values.map((v) => 6 * v), tight);
    expect(nthElementwise(cube, 3)(f64(values))).toBeAllclose([6, 6, 6, 6, 6], tight);
    expect(thirdByBackward(cube, values)).toBeAllclose([6, 6, 6, 6, 6], tight);
    expect(nthElementwise(cube, 4)(f64([1.5, -2]))).toBeAllclose([0, 0], tight);
    // x·x·x through mul, too
    expect(nthElementwise((x) => x.mul(x).mul(x), 3)(f64(values))).toBeAllclose([6, 6, 6, 6, 6], tight);
  });

  it('sigmoid: σ‴ = σ(1−σ)(1−6σ+6σ²)', () => {
    const values = [-4, -1, 0, 0.5, 3];
    const expected = values.map((v) => {
      const s = sigma(v);
      return s * (1 - s) * (1 - 6 * s + 6 * s * s);
    });
    expect(nthElementwise((x) => x.sigmoid(), 3)(f64(values))).toBeAllclose(expected, tight);
    expect(thirdByBackward((x) => x.sigmoid(), values)).toBeAllclose(expected, tight);
    // as a composite of exp and div, the same
    expect(nthElementwise((x) => x.neg().exp().add(1).reciprocal(), 3)(f64(values))).toBeAllclose(expected, tight);
  });

  it('log: d³/dx³ log x = 2/x³', () => {
    const values = [0.5, 1, 2, 7];
    const expected = values.map((v) => 2 / v ** 3);
    expect(nthElementwise((x) => x.log(), 3)(f64(values))).toBeAllclose(expected, tight);
    expect(thirdByBackward((x) => x.log(), values)).toBeAllclose(expected, tight);
  });

  it('sin, exp, sqrt: −cos x, eˣ, (3/8) x^(−5/2)', () => {
    const values = [0.3, 1.1, 2.5];
    expect(nthElementwise((x) => x.sin(), 3)(f64(values))).toBeAllclose(values.map((v) => -Math.cos(v)), tight);
    expect(nthElementwise((x) => x.exp(), 3)(f64(values))).toBeAllclose(values.map(Math.exp), tight);
    expect(nthElementwise((x) => x.sqrt(), 3)(f64(values))).toBeAllclose(values.map((v) => (3 / 8) * v ** -2.5), tight);
  });

  describe('softmax', () => {
    const x0 = [0.3, -1.2, 0.8, 2];
    const s0 = Math.exp(0.3) / x0.reduce((total, v) => total + Math.exp(v), 0);

    /** ∂/∂x₀ of a scalar function of the vector x, as a scalar function of x. */
    const partial0 = (fn: Fn): Fn => (x) => grad(fn)(x).slice(0);

    it('∂³ softmax(x)₀ / ∂x₀³ = s(1−s)(1−6s+6s²), with the lower orders', () => {
      const first = (x: Tensor): Tensor => softmax(x).slice(0);
      const x = f64(x0);
      expect(partial0(first)(x).item()).toBeCloseTo(s0 * (1 - s0), 13);
      expect(partial0(partial0(first))(x).item()).toBeCloseTo(s0 * (1 - s0) * (1 - 2 * s0), 13);
      expect(partial0(partial0(partial0(first)))(x).item()).toBeCloseTo(s0 * (1 - s0) * (1 - 6 * s0 + 6 * s0 * s0), 12);
    });

    it('the same third derivative by backward with createGraph', () => {
      const x = f64(x0, true);
      softmax(x).slice(0).backward(undefined, { createGraph: true });
      const first = x.grad!.slice(0);
      x.grad = null;
      first.backward(undefined, { createGraph: true });
      const second = x.grad!.slice(0);
      x.grad = null;
      second.backward();
      expect(x.grad!.slice(0).item()).toBeCloseTo(s0 * (1 - s0) * (1 - 6 * s0 + 6 * s0 * s0), 12);
    });

    it('a mixed third derivative: ∂³ softmax(x)₀ / ∂x₀² ∂x₁ = −s₀s₁(1 − 6s₀ + 6s₀²)', () => {
      // ∂s₀/∂x₀ = s₀(1−s₀); differentiating k times in x₀ multiplies by polynomials in s₀, and ∂s₀/∂x₁ = −s₀s₁.
      // ∂²s₀/∂x₀² = s₀ − 3s₀² + 2s₀³; ∂/∂x₁ of that = (1 − 6s₀ + 6s₀²)·(−s₀s₁).
      const total = x0.reduce((sum, v) => sum + Math.exp(v), 0);
      const s1 = Math.exp(-1.2) / total;
      const partial = (fn: Fn, index: number): Fn => (x) => grad(fn)(x).slice(index);
      const value = partial(partial(partial((x) => softmax(x).slice(0), 0), 0), 1)(f64(x0)).item();
      expect(value).toBeCloseTo(-s0 * s1 * (1 - 6 * s0 + 6 * s0 * s0), 12);
    });

    it('∂³ logsumexp / ∂x₀³ = s(1−s)(1−2s), and softmax along axis 0 of a matrix', () => {
      const third = partial0(partial0(partial0((x) => logsumexp(x))))(f64(x0)).item();
      expect(third).toBeCloseTo(s0 * (1 - s0) * (1 - 2 * s0), 12);
      // columns of a matrix are independent softmaxes: the third derivative of Σ softmax(m, 0)[0, :] w.r.t. m[0, j]
      const m = f64([
        [0.5, -1],
        [1.5, 2],
      ]);
      const top = [Math.exp(0.5) / (Math.exp(0.5) + Math.exp(1.5)), Math.exp(-1) / (Math.exp(-1) + Math.exp(2))];
      const firstRow: Fn = (v) => softmax(v, 0).slice(0).sum();
      const derivativeInTopRow = (fn: Fn): Fn => (v) => grad(fn)(v).slice(0).sum();
      const value = grad(derivativeInTopRow(derivativeInTopRow(firstRow)))(m);
      expect(value.slice(0)).toBeAllclose(
        top.map((s) => s * (1 - s) * (1 - 6 * s + 6 * s * s)),
        tight,
      );
    });
  });

  it('var(x)², the statistic under every norm: ∂³/∂x₀³ = 6ab with a = ∂var/∂x₀ = 2(x₀−x̄)/(n−1), b = 2(1−1/n)/(n−1)', () => {
    const values = [0.4, -1.1, 2.3, 0.9, -0.2];
    const n = values.length;
    const mean = values.reduce((total, v) => total + v, 0) / n;
    const a = (2 * (values[0]! - mean)) / (n - 1);
    const b = (2 * (1 - 1 / n)) / (n - 1);
    const partial0 = (fn: Fn): Fn => (x) => grad(fn, { allowUnused: true })(x).slice(0);
    const squaredVariance: Fn = (x) => x.var().square();
    expect(partial0(partial0(partial0(squaredVariance)))(f64(values)).item()).toBeCloseTo(6 * a * b, 12);
    // var itself is quadratic: its third derivative vanishes
    expect(partial0(partial0(partial0((x) => x.var())))(f64(values)).item()).toBeCloseTo(0, 12);
  });

  it('gradgradcheck of the first derivative checks the second and third numerically', () => {
    const x = f64([-0.7, 0.2, 1.1]);
    expect(gradgradcheck((v) => grad((u: Tensor) => u.tanh().mul(u.exp()).sum())(v), [x]).ok).toBe(true);
    expect(gradgradcheck((v) => grad((u: Tensor) => softmax(u).slice(0))(v), [x]).ok).toBe(true);
  });
});
