/**
 * Closed-form values for every public op: forward values against hand numbers, and for the
 * differentiable ops gradients against analytic derivatives (d/dx sin(5) = cos(5), …). Then the
 * behaviour of the autodiff API itself: accumulation, retainGraph/createGraph, noGrad, detach,
 * grad/valueAndGrad, nested grad without perturbation confusion, customOp with gradcheck.
 */
import { describe, expect, it } from 'vitest';
import ndarray, { type NdArray } from 'ndarray';
import {
  Tensor,
  abs,
  add,
  arange,
  broadcastTo,
  cast,
  clamp,
  clone,
  concat,
  cos,
  customOp,
  div,
  enableGrad,
  eq,
  exp,
  eye,
  flatten,
  full,
  fullLike,
  ge,
  grad,
  gradcheck,
  gradgradcheck,
  gt,
  isGradEnabled,
  le,
  log,
  logSoftmax,
  logsumexp,
  lt,
  manualSeed,
  matmul,
  max,
  maximum,
  mean,
  min,
  minimum,
  mul,
  narrow,
  ne,
  neg,
  noGrad,
  ones,
  onesLike,
  pad,
  permute,
  pow,
  rand,
  randn,
  reciprocal,
  relu,
  reshape,
  rsqrt,
  sigmoid,
  sign,
  sin,
  slice,
  softmax,
  sqrt,
  square,
  squeeze,
  stack,
  std,
  stopGradient,
  sub,
  sum,
  sumTo,
  tanh,
  tensor,
  transpose,
  unsqueeze,
  valueAndGrad,
  var as variance,
  where,
  zeros,
  zerosLike,
  type NestedArray,
} from '@normgrad/core';
import { installMatchers } from '@normgrad/testing/vitest';

installMatchers();

const f64 = (data: NestedArray, requiresGrad = false): Tensor => tensor(data, { dtype: 'float64', requiresGrad });
const exact = { rtol: 1e-12, atol: 1e-12 };
const close = { rtol: 1e-10, atol: 1e-12 };

/** d/dx of the scalar f at the scalar x, as a number. */
function derivative(fn: (x: Tensor) => Tensor, x: number): number {
  return grad(fn)(f64(x)).item();
}

/** The gradient of sum(f(x) · w): the VJP of f with cotangent w. */
function vjp(fn: (x: Tensor) => Tensor, x: Tensor, w: Tensor): Tensor {
  return grad((input: Tensor) => fn(input).mul(w).sum())(x);
}

/** Row-major values 0, 1, 2, … as a float64 tensor of the given shape. */
function iota(shape: number[]): Tensor {
  const size = shape.reduce((product, extent) => product * extent, 1);
  return arange(size, undefined, { dtype: 'float64' }).reshape(shape);
}

describe('elementwise unary ops: values and derivatives', () => {
  const cases: { name: string; fn: (x: Tensor) => Tensor; at: number; value: number; slope: number }[] = [
    { name: 'sin', fn: sin, at: 5, value: Math.sin(5), slope: Math.cos(5) },
    { name: 'cos', fn: cos, at: 5, value: Math.cos(5), slope: -Math.sin(5) },
    { name: 'exp', fn: exp, at: 1.5, value: Math.exp(1.5), slope: Math.exp(1.5) },
    { name: 'log', fn: log, at: 2.5, value: Math.log(2.5), slope: 1 / 2.5 },
    { name: 'sqrt', fn: sqrt, at: 9, value: 3, slope: 1 / 6 },
    { name: 'rsqrt', fn: rsqrt, at: 4, value: 0.5, slope: -0.5 * 4 ** -1.5 },
    { name: 'reciprocal', fn: reciprocal, at: 4, value: 0.25, slope: -1 / 16 },
    { name: 'neg', fn: neg, at: 3, value: -3, slope: -1 },
    { name: 'abs (negative)', fn: abs, at: -3, value: 3, slope: -1 },
    { name: 'abs (positive)', fn: abs, at: 2, value: 2, slope: 1 },
    { name: 'abs (zero)', fn: abs, at: 0, value: 0, slope: 0 },
    { name: 'sign', fn: sign, at: -2, value: -1, slope: 0 },
    { name: 'square', fn: square, at: -3, value: 9, slope: -6 },
    { name: 'tanh', fn: tanh, at: 0.7, value: Math.tanh(0.7), slope: 1 - Math.tanh(0.7) ** 2 },
    {
      name: 'sigmoid',
      fn: sigmoid,
      at: 0.3,
      value: 1 / (1 + Math.exp(-0.3)),
      slope: (1 / (1 + Math.exp(-0.3))) * (1 - 1 / (1 + Math.exp(-0.3))),
    },
    { name: 'pow 3', fn: (x) => x.pow(3), at: 2, value: 8, slope: 12 },
    { name: 'pow -2', fn: (x) => pow(x, -2), at: 2, value: 0.25, slope: -2 / 8 },
    { name: 'pow 0.5', fn: (x) => x.pow(0.5), at: 16, value: 4, slope: 1 / 8 },
    { name: '2^x', fn: (x) => pow(2, x), at: 3, value: 8, slope: 8 * Math.LN2 },
    { name: 'relu (positive)', fn: relu, at: 2, value: 2, slope: 1 },
    { name: 'relu (negative)', fn: relu, at: -2, value: 0, slope: 0 },
    { name: 'relu (zero: gradient 0)', fn: relu, at: 0, value: 0, slope: 0 },
    { name: 'clone', fn: clone, at: 1.25, value: 1.25, slope: 1 },
  ];
  for (const { name, fn, at, value, slope } of cases) {
    it(`${name}(${at}) = ${value.toPrecision(6)}, slope ${slope.toPrecision(6)}`, () => {
      expect(fn(f64(at)).item()).toBeCloseTo(value, 12);
      expect(derivative(fn, at)).toBeCloseTo(slope, 12);
    });
  }

  it('d/dx x³ = 3x² elementwise', () => {
    const x = f64([-2, -0.5, 0, 1, 3]);
    expect(grad((v: Tensor) => v.pow(3).sum())(x)).toBeAllclose([12, 0.75, 0, 3, 27], exact);
  });

  it('elementwise ops work on vectors, float32 included', () => {
    const x = tensor([0, Math.PI / 2, Math.PI]);
    expect(x.dtype).toBe('float32');
    expect(x.sin()).toBeAllclose([0, 1, 0], { atol: 1e-6 });
    expect(x.sin().dtype).toBe('float32');
    expect(grad((v: Tensor) => v.sin().sum())(x)).toBeAllclose([1, 0, -1], { atol: 1e-6 });
  });

  it('pow at 0: d/dx x⁰ = 0 at x = 0 (as PyTorch), also at higher orders; d/dx √x = ∞ at 0', () => {
    const x = f64([0, 2]);
    expect(x.pow(0)).toBeAllclose([1, 1], exact);
    expect(grad((v: Tensor) => v.pow(0).sum())(x)).toBeAllclose([0, 0], exact);
    expect(grad((v: Tensor) => grad((u: Tensor) => u.pow(0).sum())(v).sum())(x)).toBeAllclose([0, 0], exact);
    expect(grad((v: Tensor) => v.pow(f64([0, 1])).sum())(f64([0, 0]))).toBeAllclose([0, 1], exact);
    expect(grad((v: Tensor) => v.pow(2).sum())(f64([0]))).toBeAllclose([0], exact);
    expect(grad((v: Tensor) => grad((u: Tensor) => u.pow(2).sum())(v).sum())(f64([0]))).toBeAllclose([2], exact);
    expect(grad((v: Tensor) => v.pow(0.5).sum())(f64([0])).item()).toBe(Infinity);
  });

  it('pow: d/db aᵇ = aᵇ·log a, and 0 where a = 0 (as PyTorch)', () => {
    const a = f64([2, 0, 3]);
    const b = f64([3, 2, 0.5]);
    const [ga, gb] = grad((x: Tensor, y: Tensor) => x.pow(y).sum(), { argnums: [0, 1] })(a, b);
    expect(ga).toBeAllclose([3 * 4, 0, 0.5 / Math.sqrt(3)], close);
    expect(gb).toBeAllclose([8 * Math.LN2, 0, Math.sqrt(3) * Math.log(3)], close);
  });
});

describe('elementwise binary ops, comparisons, where', () => {
  it('add/sub/mul/div values and gradients', () => {
    const a = f64([1, 2, 3]);
    const b = f64([4, 5, 8]);
    expect(add(a, b)).toBeAllclose([5, 7, 11], exact);
    expect(sub(a, b)).toBeAllclose([-3, -3, -5], exact);
    expect(mul(a, b)).toBeAllclose([4, 10, 24], exact);
    expect(div(a, b)).toBeAllclose([0.25, 0.4, 0.375], exact);
    const both = { argnums: [0, 1] } as const;
    expect(grad((x: Tensor, y: Tensor) => x.add(y).sum(), both)(a, b)).toEqual([expect.toBeAllclose([1, 1, 1]), expect.toBeAllclose([1, 1, 1])]);
    const [subA, subB] = grad((x: Tensor, y: Tensor) => x.sub(y).sum(), both)(a, b);
    expect(subA).toBeAllclose([1, 1, 1], exact);
    expect(subB).toBeAllclose([-1, -1, -1], exact);
    const [mulA, mulB] = grad((x: Tensor, y: Tensor) => x.mul(y).sum(), both)(a, b);
    expect(mulA).toBeAllclose(b, exact);
    expect(mulB).toBeAllclose(a, exact);
    const [divA, divB] = grad((x: Tensor, y: Tensor) => x.div(y).sum(), both)(a, b);
    expect(divA).toBeAllclose([1 / 4, 1 / 5, 1 / 8], exact);
    expect(divB).toBeAllclose([-1 / 16, -2 / 25, -3 / 64], exact);
  });

  it('plain numbers as operands, on either side of the free functions', () => {
    const x = f64([1, 2]);
    expect(x.mul(0.5)).toBeAllclose([0.5, 1], exact);
    expect(x.add(1)).toBeAllclose([2, 3], exact);
    expect(sub(10, x)).toBeAllclose([9, 8], exact);
    expect(div(1, x)).toBeAllclose([1, 0.5], exact);
    expect(x.add(1).dtype).toBe('float64');
    expect(grad((v: Tensor) => div(1, v).sum())(x)).toBeAllclose([-1, -0.25], exact);
  });

  it('broadcasting: values and gradients summed over the broadcast axes', () => {
    const a = iota([2, 3]);
    const b = f64([10, 20, 30]);
    const c = f64([[100], [200]]);
    expect(a.add(b)).toBeAllclose([[10, 21, 32], [13, 24, 35]], exact);
    expect(a.add(c)).toBeAllclose([[100, 101, 102], [203, 204, 205]], exact);
    expect(b.add(c).shape).toEqual([2, 3]);
    const [ga, gb, gc] = grad((x: Tensor, y: Tensor, z: Tensor) => x.mul(y).add(z).sum(), { argnums: [0, 1, 2] })(a, b, c);
    expect(ga).toBeAllclose([[10, 20, 30], [10, 20, 30]], exact);
    expect(gb).toBeAllclose([3, 5, 7], exact); // column sums of a
    expect(gc).toBeAllclose([[3], [3]], exact);
    expect(gb!.shape).toEqual([3]);
    expect(gc!.shape).toEqual([2, 1]);
  });

  it('maximum/minimum: values, gradient to the larger/smaller, ties split 0.5/0.5', () => {
    const a = f64([1, 2, 3]);
    const b = f64([3, 2, 1]);
    expect(maximum(a, b)).toBeAllclose([3, 2, 3], exact);
    expect(minimum(a, b)).toBeAllclose([1, 2, 1], exact);
    const [maxA, maxB] = grad((x: Tensor, y: Tensor) => x.maximum(y).sum(), { argnums: [0, 1] })(a, b);
    expect(maxA).toBeAllclose([0, 0.5, 1], exact);
    expect(maxB).toBeAllclose([1, 0.5, 0], exact);
    const [minA, minB] = grad((x: Tensor, y: Tensor) => x.minimum(y).sum(), { argnums: [0, 1] })(a, b);
    expect(minA).toBeAllclose([1, 0.5, 0], exact);
    expect(minB).toBeAllclose([0, 0.5, 1], exact);
    expect(f64([-1, 0, 2]).maximum(0)).toBeAllclose([0, 0, 2], exact);
    expect(grad((x: Tensor) => x.maximum(0).sum())(f64([-1, 0, 2]))).toBeAllclose([0, 0.5, 1], exact);
  });

  it('comparisons give 1/0 in the operand dtype and no gradient', () => {
    const a = f64([1, 2, 3]);
    const b = f64([2, 2, 2]);
    expect(lt(a, b)).toBeAllclose([1, 0, 0], exact);
    expect(le(a, b)).toBeAllclose([1, 1, 0], exact);
    expect(gt(a, b)).toBeAllclose([0, 0, 1], exact);
    expect(ge(a, b)).toBeAllclose([0, 1, 1], exact);
    expect(eq(a, b)).toBeAllclose([0, 1, 0], exact);
    expect(ne(a, b)).toBeAllclose([1, 0, 1], exact);
    expect(a.gt(1.5)).toBeAllclose([0, 1, 1], exact);
    expect(a.lt(b).dtype).toBe('float64');
    expect(grad((x: Tensor) => x.gt(1.5).mul(x).sum())(a)).toBeAllclose([0, 1, 1], exact);
  });

  it('where: values with broadcasting, gradient to a where the condition holds and to b elsewhere', () => {
    const condition = f64([1, 0, 1]);
    const a = iota([2, 3]);
    const b = f64(-1);
    expect(where(condition, a, b)).toBeAllclose([[0, -1, 2], [3, -1, 5]], exact);
    expect(where(condition, a, 7)).toBeAllclose([[0, 7, 2], [3, 7, 5]], exact);
    expect(a.where(condition, 7)).toBeAllclose([[0, 7, 2], [3, 7, 5]], exact);
    const [ga, gb] = grad((x: Tensor, y: Tensor) => where(condition, x, y).sum(), { argnums: [0, 1] })(a, b);
    expect(ga).toBeAllclose([[1, 0, 1], [1, 0, 1]], exact);
    expect(gb!.shape).toEqual([]);
    expect(gb!.item()).toBe(2);
  });

  it('clamp: values, gradient 1 inside [min, max] (boundaries included) and 0 outside', () => {
    const x = f64([-2, -1, 0, 1, 2]);
    expect(clamp(x, -1, 1)).toBeAllclose([-1, -1, 0, 1, 1], exact);
    expect(grad((v: Tensor) => v.clamp(-1, 1).sum())(x)).toBeAllclose([0, 1, 1, 1, 0], exact);
    expect(x.clamp(0)).toBeAllclose([0, 0, 0, 1, 2], exact);
    expect(grad((v: Tensor) => v.clamp(0.5).sum())(x)).toBeAllclose([0, 0, 0, 1, 1], exact);
    expect(x.clamp(null, 0)).toBeAllclose([-2, -1, 0, 0, 0], exact);
    expect(grad((v: Tensor) => v.clamp(null, -0.5).sum())(x)).toBeAllclose([1, 1, 0, 0, 0], exact);
  });
});

describe('reductions', () => {
  it('sum over all, one, several and negative axes, with keepdims', () => {
    const x = iota([2, 3, 4]);
    expect(sum(x).item()).toBe(276);
    expect(x.sum(0)).toBeAllclose(
      [
        [12, 14, 16, 18],
        [20, 22, 24, 26],
        [28, 30, 32, 34],
      ],
      exact,
    );
    expect(x.sum([0, 2])).toBeAllclose([60, 92, 124], exact);
    expect(x.sum([-1, -3])).toBeAllclose([60, 92, 124], exact);
    expect(x.sum(-1, true).shape).toEqual([2, 3, 1]);
    expect(x.sum(-1, true)).toBeAllclose([[[6], [22], [38]], [[54], [70], [86]]], exact);
    expect(x.sum(null, true).shape).toEqual([1, 1, 1]);
    expect(() => x.sum([])).toThrow(/^sum: axis \[\] is ambiguous/);
    const w = iota([3]);
    expect(vjp((v) => v.sum([0, 2]), x, w)).toBeAllclose(w.reshape([1, 3, 1]).broadcastTo([2, 3, 4]), exact);
  });

  it('mean: values and gradient 1/n', () => {
    const x = iota([2, 3]);
    expect(mean(x).item()).toBe(2.5);
    expect(x.mean(1)).toBeAllclose([1, 4], exact);
    expect(x.mean(0, true)).toBeAllclose([[1.5, 2.5, 3.5]], exact);
    expect(grad((v: Tensor) => v.mean())(x)).toBeAllclose(full([2, 3], 1 / 6, { dtype: 'float64' }), exact);
    expect(grad((v: Tensor) => v.mean(1).mul(f64([1, 2])).sum())(x)).toBeAllclose([[1 / 3, 1 / 3, 1 / 3], [2 / 3, 2 / 3, 2 / 3]], exact);
  });

  it('var with correction 1 (default) and 0 against hand numbers; std', () => {
    const x = f64([1, 2, 3, 4]);
    expect(variance(x).item()).toBeCloseTo(5 / 3, 14);
    expect(x.var(null, { correction: 0 }).item()).toBeCloseTo(1.25, 14);
    expect(x.var(0, { correction: 1 }).item()).toBeCloseTo(5 / 3, 14);
    expect(std(x).item()).toBeCloseTo(Math.sqrt(5 / 3), 14);
    expect(x.std(null, { correction: 0 }).item()).toBeCloseTo(Math.sqrt(1.25), 14);
    const m = f64([
      [1, 2, 3],
      [4, 6, 8],
    ]);
    expect(m.var(1)).toBeAllclose([1, 4], exact);
    expect(m.var(0, { correction: 0 })).toBeAllclose([2.25, 4, 6.25], exact);
    expect(m.var(-1, { keepdims: true }).shape).toEqual([2, 1]);
    // d var / dx = 2 (x − mean) / (n − correction)
    expect(grad((v: Tensor) => v.var())(x)).toBeAllclose([-1, -1 / 3, 1 / 3, 1], exact);
    expect(grad((v: Tensor) => v.var(null, { correction: 0 }))(x)).toBeAllclose([-0.75, -0.25, 0.25, 0.75], exact);
  });

  it('max/min: values over axes; ties split the gradient evenly', () => {
    const x = f64([
      [1, 5, 5],
      [2, 2, 0],
    ]);
    expect(max(x).item()).toBe(5);
    expect(min(x).item()).toBe(0);
    expect(x.max(1)).toBeAllclose([5, 2], exact);
    expect(x.max(1, true).shape).toEqual([2, 1]);
    expect(x.min(0)).toBeAllclose([1, 2, 0], exact);
    expect(x.max(-2)).toBeAllclose([2, 5, 5], exact);
    expect(grad((v: Tensor) => v.max())(x)).toBeAllclose([[0, 0.5, 0.5], [0, 0, 0]], exact);
    expect(grad((v: Tensor) => v.max(1).sum())(x)).toBeAllclose([[0, 0.5, 0.5], [0.5, 0.5, 0]], exact);
    expect(grad((v: Tensor) => v.min(0).sum())(x)).toBeAllclose([[1, 0, 0], [0, 1, 1]], exact);
    expect(grad((v: Tensor) => v.min())(f64([3, 1, 1, 1]))).toBeAllclose([0, 1 / 3, 1 / 3, 1 / 3], exact);
  });

  it('logsumexp, softmax, logSoftmax: values and gradients', () => {
    const x = f64([1, 2, 3]);
    const total = Math.exp(1) + Math.exp(2) + Math.exp(3);
    const s = [Math.exp(1) / total, Math.exp(2) / total, Math.exp(3) / total];
    expect(logsumexp(x).item()).toBeCloseTo(Math.log(total), 13);
    expect(softmax(x)).toBeAllclose(s, close);
    expect(x.softmax().sum().item()).toBeCloseTo(1, 14);
    expect(logSoftmax(x)).toBeAllclose(s.map(Math.log), close);
    expect(grad((v: Tensor) => v.logsumexp())(x)).toBeAllclose(s, close);
    // ∂ softmax(x)_0 / ∂x_j = s_0 (δ_0j − s_j)
    expect(grad((v: Tensor) => v.softmax().slice(0))(x)).toBeAllclose([s[0]! * (1 - s[0]!), -s[0]! * s[1]!, -s[0]! * s[2]!], close);
    // ∂ logSoftmax(x)_2 / ∂x_j = δ_2j − s_j
    expect(grad((v: Tensor) => v.logSoftmax().slice(2))(x)).toBeAllclose([-s[0]!, -s[1]!, 1 - s[2]!], close);
    // along axis 0 of a matrix: columns are independent
    const m = f64([
      [0, 1],
      [0, 3],
    ]);
    const e2 = 1 / (1 + Math.exp(2));
    expect(m.softmax(0)).toBeAllclose([[0.5, e2], [0.5, 1 - e2]], close);
    expect(m.logSoftmax(0)).toBeAllclose([[Math.log(0.5), Math.log(e2)], [Math.log(0.5), Math.log(1 - e2)]], close);
    expect(m.logsumexp(1, true)).toBeAllclose([[Math.log(1 + Math.E)], [Math.log(1 + Math.exp(3))]], close);
  });
});

describe('matmul', () => {
  /** Plain-JS batched product of row-major (B, M, K) and (B, K, N). */
  function reference(a: number[], b: number[], batch: number, m: number, k: number, n: number): number[] {
    const out: number[] = [];
    for (let p = 0; p < batch; p++)
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let total = 0;
          for (let q = 0; q < k; q++) total += a[p * m * k + i * k + q]! * b[p * k * n + q * n + j]!;
          out.push(total);
        }
    return out;
  }

  it('2-D by 2-D: values and gradients ones·Bᵀ and Aᵀ·ones', () => {
    const a = f64([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const b = f64([
      [1, 0],
      [0, 1],
      [2, 3],
    ]);
    expect(a.matmul(b)).toBeAllclose([[7, 11], [16, 23]], exact);
    const [ga, gb] = grad((x: Tensor, y: Tensor) => matmul(x, y).sum(), { argnums: [0, 1] })(a, b);
    expect(ga).toBeAllclose([[1, 1, 5], [1, 1, 5]], exact); // row sums of b
    expect(gb).toBeAllclose([[5, 5], [7, 7], [9, 9]], exact); // column sums of a
    expect(eye(3, { dtype: 'float64' }).matmul(b)).toBeAllclose(b, exact);
  });

  it('1-D operands: dot product, vector·matrix, matrix·vector', () => {
    const u = f64([1, 2, 3]);
    const v = f64([4, 5, 6]);
    const dot = u.matmul(v);
    expect(dot.shape).toEqual([]);
    expect(dot.item()).toBe(32);
    const [gu, gv] = grad((x: Tensor, y: Tensor) => x.matmul(y), { argnums: [0, 1] })(u, v);
    expect(gu).toBeAllclose(v, exact);
    expect(gv).toBeAllclose(u, exact);
    const m = iota([3, 2]);
    expect(u.matmul(m).shape).toEqual([2]);
    expect(u.matmul(m)).toBeAllclose([16, 22], exact);
    expect(m.transpose().matmul(u)).toBeAllclose([16, 22], exact);
    expect(grad((x: Tensor) => x.matmul(m).sum())(u)).toBeAllclose([1, 5, 9], exact);
    expect(grad((x: Tensor) => m.transpose().matmul(x).sum())(u)).toBeAllclose([1, 5, 9], exact);
  });

  it('batched with broadcast batch axes: (2,1,2,3) @ (4,3,5) → (2,4,2,5), gradients summed over the broadcast', () => {
    const a = iota([2, 1, 2, 3]).mul(0.1);
    const b = iota([4, 3, 5]).sub(30).mul(0.05);
    const out = a.matmul(b);
    expect(out.shape).toEqual([2, 4, 2, 5]);
    const aData = Array.from(a.toFloat64Array());
    const bData = Array.from(b.toFloat64Array());
    const aBroadcast: number[] = [];
    const bBroadcast: number[] = [];
    for (let p = 0; p < 2; p++)
      for (let q = 0; q < 4; q++) {
        aBroadcast.push(...aData.slice(p * 6, p * 6 + 6));
        bBroadcast.push(...bData.slice(q * 15, q * 15 + 15));
      }
    expect(out).toBeAllclose(reference(aBroadcast, bBroadcast, 8, 2, 3, 5), close);
    const [ga, gb] = grad((x: Tensor, y: Tensor) => x.matmul(y).sum(), { argnums: [0, 1] })(a, b);
    expect(ga!.shape).toEqual([2, 1, 2, 3]);
    expect(gb!.shape).toEqual([4, 3, 5]);
    // dA[p,0,i,k] = Σ_q Σ_j B[q,k,j];  dB[q,k,j] = Σ_p Σ_i A[p,0,i,k]
    const bRowSums = b.sum([0, 2]);
    expect(ga).toBeAllclose(bRowSums.reshape([1, 1, 1, 3]).broadcastTo([2, 1, 2, 3]), close);
    const aColumnSums = a.sum([0, 1, 2]);
    expect(gb).toBeAllclose(aColumnSums.reshape([1, 3, 1]).broadcastTo([4, 3, 5]), close);
  });

  it('batched matrix times 1-D vector', () => {
    const a = iota([2, 2, 3]);
    const v = f64([1, 0, -1]);
    expect(a.matmul(v)).toBeAllclose([[-2, -2], [-2, -2]], exact);
    expect(v.matmul(iota([2, 3, 2])).shape).toEqual([2, 2]);
  });
});

describe('shape ops', () => {
  it('reshape, with -1 inferred; values keep row-major order, also from a transposed view', () => {
    const x = iota([2, 6]);
    expect(x.reshape([3, 4]).shape).toEqual([3, 4]);
    expect(x.reshape([-1, 4]).shape).toEqual([3, 4]);
    expect(x.reshape([2, -1, 2]).shape).toEqual([2, 3, 2]);
    expect(reshape(x, [-1]).shape).toEqual([12]);
    expect(x.reshape([4, 3]).toArray()).toEqual([[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]);
    expect(iota([2, 3]).transpose().reshape([-1])).toBeAllclose([0, 3, 1, 4, 2, 5], exact);
    const w = iota([3, 4]);
    expect(vjp((v) => v.reshape([3, 4]), x, w)).toBeAllclose(iota([2, 6]), exact);
  });

  it('permute and transpose: shapes, values and inverse-permuted gradients', () => {
    const x = iota([2, 3, 4]);
    const y = permute(x, [2, 0, 1]);
    expect(y.shape).toEqual([4, 2, 3]);
    expect(y.slice(3, 1, 2).item()).toBe(x.slice(1, 2, 3).item());
    expect(x.permute([-1, 0, 1]).shape).toEqual([4, 2, 3]);
    expect(x.transpose().shape).toEqual([4, 3, 2]);
    expect(transpose(x, 0, 2).shape).toEqual([4, 3, 2]);
    expect(x.transpose(-1, -2).shape).toEqual([2, 4, 3]);
    expect(x.transpose(1, 2, 0).shape).toEqual([3, 4, 2]);
    expect(iota([2, 3]).transpose().toArray()).toEqual([[0, 3], [1, 4], [2, 5]]);
    const w = iota([4, 2, 3]);
    expect(vjp((v) => v.permute([2, 0, 1]), x, w)).toBeAllclose(w.permute([1, 2, 0]), exact);
    const w2 = iota([2, 4, 3]);
    expect(vjp((v) => v.transpose(1, 2), x, w2)).toBeAllclose(w2.transpose(1, 2), exact);
  });

  it('unsqueeze, squeeze, flatten: shapes and gradients', () => {
    const x = iota([2, 3]);
    expect(unsqueeze(x, 0).shape).toEqual([1, 2, 3]);
    expect(x.unsqueeze(1).shape).toEqual([2, 1, 3]);
    expect(x.unsqueeze(-1).shape).toEqual([2, 3, 1]);
    expect(x.unsqueeze(2).shape).toEqual([2, 3, 1]);
    const y = iota([1, 2, 1, 3]);
    expect(squeeze(y).shape).toEqual([2, 3]);
    expect(y.squeeze(2).shape).toEqual([1, 2, 3]);
    expect(y.squeeze([0, -2]).shape).toEqual([2, 3]);
    expect(y.squeeze(1).shape).toEqual([1, 2, 1, 3]); // extent 2 is left alone, as PyTorch
    const z = iota([2, 3, 4]);
    expect(flatten(z).shape).toEqual([24]);
    expect(z.flatten(1).shape).toEqual([2, 12]);
    expect(z.flatten(0, 1).shape).toEqual([6, 4]);
    expect(z.flatten(-2, -1).shape).toEqual([2, 12]);
    expect(f64(3).flatten().shape).toEqual([1]);
    expect(vjp((v) => v.unsqueeze(1), x, iota([2, 1, 3]))).toBeAllclose(iota([2, 3]), exact);
    expect(vjp((v) => v.squeeze(), y, iota([2, 3]))).toBeAllclose(iota([1, 2, 1, 3]), exact);
    expect(vjp((v) => v.flatten(1), z, iota([2, 12]))).toBeAllclose(iota([2, 3, 4]), exact);
  });

  it('broadcastTo: values and a gradient summed over the broadcast axes; sumTo is its adjoint', () => {
    const x = f64([[1], [2], [3]]);
    const y = broadcastTo(x, [2, 3, 4]);
    expect(y.shape).toEqual([2, 3, 4]);
    expect(y.slice(1, 2, 3).item()).toBe(3);
    expect(grad((v: Tensor) => v.broadcastTo([2, 3, 4]).sum())(x)).toBeAllclose([[8], [8], [8]], exact);
    const w = iota([2, 3, 4]);
    // Σ over axis 0 and axis 2 of w
    expect(vjp((v) => v.broadcastTo([2, 3, 4]), x, w)).toBeAllclose([[6 + 54], [22 + 70], [38 + 86]], exact);
    expect(sumTo(w, [3, 1])).toBeAllclose([[60], [92], [124]], exact);
    expect(sumTo(w, [4])).toBeAllclose(w.sum([0, 1]), exact);
  });

  it('slice: indices (dropping the axis), ranges with steps, negative indices, clamped bounds', () => {
    const x = arange(10, undefined, { dtype: 'float64' });
    expect(x.slice([2, 5])).toBeAllclose([2, 3, 4], exact);
    expect(x.slice([-3])).toBeAllclose([7, 8, 9], exact);
    expect(x.slice([null, -7])).toBeAllclose([0, 1, 2], exact);
    expect(x.slice([1, -1, 3])).toBeAllclose([1, 4, 7], exact);
    expect(x.slice([undefined, undefined, 2])).toBeAllclose([0, 2, 4, 6, 8], exact);
    expect(x.slice([null, null, 3])).toBeAllclose([0, 3, 6, 9], exact);
    expect(x.slice([7, null, null])).toBeAllclose([7, 8, 9], exact);
    expect(x.slice([-100, 2])).toBeAllclose([0, 1], exact);
    expect(x.slice([8, 100])).toBeAllclose([8, 9], exact);
    expect(x.slice([5, 2]).shape).toEqual([0]);
    const last = x.slice(-1);
    expect(last.shape).toEqual([]);
    expect(last.item()).toBe(9);
    const m = iota([3, 4]);
    expect(slice(m, 1, [null, null, 2])).toBeAllclose([4, 6], exact);
    expect(m.slice(null, [1, 3])).toBeAllclose([[1, 2], [5, 6], [9, 10]], exact);
    expect(m.slice([-2], [-1])).toBeAllclose([[7], [11]], exact);
    expect(m.slice([0, 3, 2], [3, 0, 1]).shape).toEqual([2, 0]);
    // gradients land at the sliced positions
    expect(vjp((v) => v.slice([1, -1, 3]), x, f64([10, 20, 30]))).toBeAllclose([0, 10, 0, 0, 20, 0, 0, 30, 0, 0], exact);
    expect(vjp((v) => v.slice(-2, [1, null, 2]), m, f64([5, 7]))).toBeAllclose([[0, 0, 0, 0], [0, 5, 0, 7], [0, 0, 0, 0]], exact);
    expect(grad((v: Tensor) => v.slice(4))(x)).toBeAllclose([0, 0, 0, 0, 1, 0, 0, 0, 0, 0], exact);
  });

  it('narrow: values and gradient, negative start and axis', () => {
    const x = arange(10, undefined, { dtype: 'float64' });
    expect(narrow(x, 0, 2, 3)).toBeAllclose([2, 3, 4], exact);
    expect(x.narrow(0, -3, 2)).toBeAllclose([7, 8], exact);
    expect(x.narrow(0, 10, 0).shape).toEqual([0]);
    const m = iota([3, 4]);
    expect(m.narrow(-1, 1, 2)).toBeAllclose([[1, 2], [5, 6], [9, 10]], exact);
    expect(grad((v: Tensor) => v.narrow(1, 1, 2).sum())(m)).toBeAllclose([[0, 1, 1, 0], [0, 1, 1, 0], [0, 1, 1, 0]], exact);
  });

  it('pad with zeros and with a value; the gradient is the interior', () => {
    const x = f64([
      [1, 2],
      [3, 4],
    ]);
    expect(pad(x, [[1, 0], [0, 2]])).toBeAllclose([[0, 0, 0, 0], [1, 2, 0, 0], [3, 4, 0, 0]], exact);
    expect(x.pad([[1, 0], [0, 2]], 9)).toBeAllclose([[9, 9, 9, 9], [1, 2, 9, 9], [3, 4, 9, 9]], exact);
    expect(x.pad([[1, 1]], -1)).toBeAllclose([[-1, 1, 2, -1], [-1, 3, 4, -1]], exact); // trailing axis only
    expect(iota([2, 3, 4]).pad([[1, 1], [2, 0]]).shape).toEqual([2, 5, 6]);
    const w = iota([3, 4]);
    expect(vjp((v) => v.pad([[1, 0], [0, 2]], 9), x, w)).toBeAllclose([[4, 5], [8, 9]], exact);
    expect(grad((v: Tensor) => v.pad([[2, 2], [2, 2]], 3).sum())(x)).toBeAllclose([[1, 1], [1, 1]], exact);
    // ±Infinity (as max pooling pads) leaves the interior intact
    expect(x.pad([[1, 1]], -Infinity)).toBeAllclose([[-Infinity, 1, 2, -Infinity], [-Infinity, 3, 4, -Infinity]], exact);
    expect(x.pad([[0, 1], [1, 0]], Infinity).toArray()).toEqual([[Infinity, 1, 2], [Infinity, 3, 4], [Infinity, Infinity, Infinity]]);
    expect(grad((v: Tensor) => v.pad([[1, 1], [1, 1]], -Infinity).max(-1).sum())(x)).toBeAllclose([[0, 1], [0, 1]], exact);
  });

  it('concat and stack: values, shapes and the pieces of the gradient', () => {
    const a = f64([
      [1, 2],
      [3, 4],
    ]);
    const b = f64([[5, 6]]);
    expect(concat([a, b], 0)).toBeAllclose([[1, 2], [3, 4], [5, 6]], exact);
    expect(a.concat([b.transpose()], 1)).toBeAllclose([[1, 2, 5], [3, 4, 6]], exact);
    expect(concat([a, a], -1).shape).toEqual([2, 4]);
    const w = iota([3, 2]);
    const [ga, gb] = grad((x: Tensor, y: Tensor) => concat([x, y], 0).mul(w).sum(), { argnums: [0, 1] })(a, b);
    expect(ga).toBeAllclose([[0, 1], [2, 3]], exact);
    expect(gb).toBeAllclose([[4, 5]], exact);
    const u = f64([1, 2, 3]);
    const v = f64([4, 5, 6]);
    expect(stack([u, v])).toBeAllclose([[1, 2, 3], [4, 5, 6]], exact);
    expect(stack([u, v], 1)).toBeAllclose([[1, 4], [2, 5], [3, 6]], exact);
    expect(stack([u, v], -1).shape).toEqual([3, 2]);
    const w2 = iota([3, 2]);
    const [gu, gv] = grad((x: Tensor, y: Tensor) => stack([x, y], 1).mul(w2).sum(), { argnums: [0, 1] })(u, v);
    expect(gu).toBeAllclose([0, 2, 4], exact);
    expect(gv).toBeAllclose([1, 3, 5], exact);
    // one tensor used twice: its gradient pieces add up
    expect(grad((x: Tensor) => concat([x, x], 0).mul(f64([1, 2, 3, 4, 5, 6])).sum())(u)).toBeAllclose([5, 7, 9], exact);
  });
});

describe('creation and conversion', () => {
  it('zeros, ones, full, *Like, eye', () => {
    expect(zeros([2, 3]).toArray()).toEqual([[0, 0, 0], [0, 0, 0]]);
    expect(zeros([2]).dtype).toBe('float32');
    expect(ones([2], { dtype: 'float64' }).dtype).toBe('float64');
    expect(ones([2, 1]).toArray()).toEqual([[1], [1]]);
    expect(full([2, 2], 7).toArray()).toEqual([[7, 7], [7, 7]]);
    expect(full([], 2.5).item()).toBe(2.5);
    expect(zeros([0, 3]).size).toBe(0);
    const like = f64([[1, 2, 3]]);
    expect(zerosLike(like).shape).toEqual([1, 3]);
    expect(onesLike(like).dtype).toBe('float64');
    expect(fullLike(like, 4).toArray()).toEqual([[4, 4, 4]]);
    expect(eye(3).toArray()).toEqual([[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
    expect(eye(2, { dtype: 'float64' }).dtype).toBe('float64');
    expect(ones([2], { requiresGrad: true }).requiresGrad).toBe(true);
  });

  it('arange with stop, start/stop, fractional and negative steps', () => {
    expect(arange(5).toArray()).toEqual([0, 1, 2, 3, 4]);
    expect(arange(5).dtype).toBe('float32');
    expect(arange(2, 8, 2).toArray()).toEqual([2, 4, 6]);
    expect(arange(2, 7, 2).toArray()).toEqual([2, 4, 6]);
    expect(arange(0, 1, 0.25).toArray()).toEqual([0, 0.25, 0.5, 0.75]);
    expect(arange(5, 0, -2).toArray()).toEqual([5, 3, 1]);
    expect(arange(3, 3).shape).toEqual([0]);
    expect(arange(1, 4, { dtype: 'float64' }).dtype).toBe('float64');
    expect(arange(1, 4, { dtype: 'float64' }).toArray()).toEqual([1, 2, 3]);
  });

  it('tensor from numbers and nested arrays (float32 by default)', () => {
    const scalar = tensor(3.5);
    expect(scalar.shape).toEqual([]);
    expect(scalar.ndim).toBe(0);
    expect(scalar.size).toBe(1);
    expect(scalar.item()).toBe(3.5);
    const m = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(m.shape).toEqual([2, 3]);
    expect(m.ndim).toBe(2);
    expect(m.size).toBe(6);
    expect(m.dtype).toBe('float32');
    expect(m.requiresGrad).toBe(false);
    expect(m.grad).toBeNull();
    expect(m.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(tensor([[[1], [2]]]).shape).toEqual([1, 2, 1]);
    expect(tensor([]).shape).toEqual([0]);
    expect(tensor([1, 2, 3, 4], { shape: [2, 2] }).toArray()).toEqual([[1, 2], [3, 4]]);
    expect(tensor(0.1).item()).toBe(Math.fround(0.1));
    expect(tensor(0.1, { dtype: 'float64' }).item()).toBe(0.1);
    expect(tensor([1, 2], { requiresGrad: true }).requiresGrad).toBe(true);
  });

  it('tensor from typed arrays: dtype follows the array, data is copied', () => {
    const source = new Float64Array([1, 2, 3, 4, 5, 6]);
    const t = tensor(source, { shape: [2, 3] });
    expect(t.dtype).toBe('float64');
    expect(t.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    source[0] = 100;
    expect(t.slice(0, 0).item()).toBe(1);
    const single = tensor(new Float32Array([0.5, 1.5]));
    expect(single.dtype).toBe('float32');
    expect(single.shape).toEqual([2]);
    expect(tensor(new Float32Array([0.1]), { dtype: 'float64' }).item()).toBe(Math.fround(0.1));
  });

  it('tensor from a scijs ndarray, including a strided (transposed) view; .data is an ndarray', () => {
    const nd = ndarray(new Float64Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    const t = tensor(nd);
    expect(t.dtype).toBe('float64');
    expect(t.shape).toEqual([2, 3]);
    expect(t.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    const transposed = tensor(nd.transpose(1, 0));
    expect(transposed.shape).toEqual([3, 2]);
    expect(transposed.toArray()).toEqual([[1, 4], [2, 5], [3, 6]]);
    const stepped = tensor(ndarray(new Float32Array([0, 1, 2, 3, 4, 5, 6, 7]), [8]).step(3));
    expect(stepped.dtype).toBe('float32');
    expect(stepped.toArray()).toEqual([0, 3, 6]);
    nd.set(0, 0, 100);
    expect(t.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]); // copied
    const data: NdArray = t.data;
    expect(data.shape).toEqual([2, 3]);
    expect(data.get(1, 2)).toBe(6);
    expect(iota([2, 3]).transpose().data.get(2, 1)).toBe(5);
  });

  it('toArray, item, toTypedArray, toFloat64Array', () => {
    const t = tensor([
      [1.5, 2],
      [3, 4],
    ]);
    expect(t.toArray()).toEqual([[1.5, 2], [3, 4]]);
    const typed = t.toTypedArray();
    expect(typed).toBeInstanceOf(Float32Array);
    expect(Array.from(typed)).toEqual([1.5, 2, 3, 4]);
    typed[0] = 99;
    expect(t.toArray()).toEqual([[1.5, 2], [3, 4]]); // a fresh copy
    expect(f64([1, 2]).toTypedArray()).toBeInstanceOf(Float64Array);
    const wide = t.toFloat64Array();
    expect(wide).toBeInstanceOf(Float64Array);
    expect(Array.from(wide)).toEqual([1.5, 2, 3, 4]);
    expect(Array.from(t.transpose().toTypedArray())).toEqual([1.5, 3, 2, 4]);
    expect(tensor([[7]]).item()).toBe(7);
    expect(tensor(2).toArray()).toBe(2);
  });

  it('cast with .to(dtype): values, dtype, and a gradient in the source dtype', () => {
    const x = tensor([0.1, 2.5]);
    const y = x.to('float64');
    expect(y.dtype).toBe('float64');
    expect(Array.from(y.toFloat64Array())).toEqual([Math.fround(0.1), 2.5]);
    expect(x.to('float32')).toBe(x);
    expect(cast(f64([0.1]), 'float32').dtype).toBe('float32');
    const g = grad((v: Tensor) => v.to('float64').mul(f64([2, 3])).sum())(x);
    expect(g.dtype).toBe('float32');
    expect(g.toArray()).toEqual([2, 3]);
  });

  it('randn/rand: same seed, same numbers; different seeds, different numbers', () => {
    const a = randn([1000], { seed: 42 });
    const b = randn([1000], { seed: 42 });
    const c = randn([1000], { seed: 43 });
    expect(Array.from(a.toTypedArray())).toEqual(Array.from(b.toTypedArray()));
    expect(Array.from(a.toTypedArray())).not.toEqual(Array.from(c.toTypedArray()));
    expect(Array.from(rand([50], { seed: 7 }).toTypedArray())).toEqual(Array.from(rand([50], { seed: 7 }).toTypedArray()));
    expect(Array.from(rand([50], { seed: 7 }).toTypedArray())).not.toEqual(Array.from(rand([50], { seed: 8 }).toTypedArray()));
    const big = randn([20000], { seed: 1, dtype: 'float64' });
    expect(big.dtype).toBe('float64');
    expect(Math.abs(big.mean().item())).toBeLessThan(0.05);
    expect(Math.abs(big.std().item() - 1)).toBeLessThan(0.05);
    const uniform = rand([20000], { seed: 2 });
    expect(uniform.min().item()).toBeGreaterThanOrEqual(0);
    expect(uniform.max().item()).toBeLessThan(1);
    expect(Math.abs(uniform.mean().item() - 0.5)).toBeLessThan(0.02);
    expect(randn([2, 3], { seed: 1, requiresGrad: true }).requiresGrad).toBe(true);
    manualSeed(123);
    const first = randn([5]).toTypedArray();
    manualSeed(123);
    expect(Array.from(randn([5]).toTypedArray())).toEqual(Array.from(first));
  });
});

describe('autodiff behaviour', () => {
  it('backward accumulates into .grad across two calls', () => {
    const x = f64([1, 2, 3], true);
    x.mul(2).sum().backward();
    expect(x.grad).toBeAllclose([2, 2, 2], exact);
    x.mul(x).sum().backward();
    expect(x.grad).toBeAllclose([4, 6, 8], exact);
    expect(x.grad!.requiresGrad).toBe(false);
  });

  it('backward with an explicit gradient for a non-scalar output', () => {
    const x = f64([1, 2, 3], true);
    x.mul(x).backward(f64([1, 0, -1]));
    expect(x.grad).toBeAllclose([2, 0, -6], exact);
  });

  it('backward reaches every leaf that requires grad, and only those', () => {
    const a = f64([1, 2], true);
    const b = f64([3, 4], true);
    const c = f64([5, 6]);
    a.mul(b).mul(c).sum().backward();
    expect(a.grad).toBeAllclose([15, 24], exact);
    expect(b.grad).toBeAllclose([5, 12], exact);
    expect(c.grad).toBeNull();
  });

  it('retainGraph allows a second backward; without it the second backward throws naming retainGraph', () => {
    const x = f64([1, 2], true);
    const y = x.mul(x).sum();
    y.backward(undefined, { retainGraph: true });
    y.backward();
    expect(x.grad).toBeAllclose([4, 8], exact);
    expect(() => y.backward()).toThrow(/backward.*freed.*retainGraph/);
    const z = x.exp().sum();
    z.backward();
    expect(() => z.backward()).toThrow(/retainGraph/);
  });

  it('createGraph gives a .grad with history that can be differentiated again', () => {
    const x = f64([1, 2], true);
    x.pow(3).sum().backward(undefined, { createGraph: true });
    const first = x.grad!;
    expect(first).toBeAllclose([3, 12], exact);
    expect(first.requiresGrad).toBe(true);
    expect(first.isLeaf).toBe(false);
    x.grad = null;
    first.sum().backward();
    expect(x.grad).toBeAllclose([6, 12], exact);
  });

  it('noGrad: results do not require grad and have no history; enableGrad re-enables', () => {
    const x = f64([1, 2], true);
    const y = noGrad(() => x.mul(2).exp());
    expect(y.requiresGrad).toBe(false);
    expect(y.isLeaf).toBe(true);
    expect(isGradEnabled()).toBe(true);
    noGrad(() => {
      expect(isGradEnabled()).toBe(false);
      const z = enableGrad(() => x.mul(2));
      expect(z.requiresGrad).toBe(true);
    });
    expect(() => y.sum().backward()).toThrow(/backward/);
    expect(x.mul(2).requiresGrad).toBe(true);
  });

  it('detach and stopGradient block the gradient', () => {
    const x = f64([1, 2, 3]);
    expect(grad((v: Tensor) => v.detach().mul(v).sum())(x)).toBeAllclose([1, 2, 3], exact);
    expect(grad((v: Tensor) => stopGradient(v).mul(v).sum())(x)).toBeAllclose([1, 2, 3], exact);
    expect(grad((v: Tensor) => stopGradient(v.mul(v)).add(v).sum())(x)).toBeAllclose([1, 1, 1], exact);
    const leaf = f64([1], true);
    const detached = leaf.mul(3).detach();
    expect(detached.requiresGrad).toBe(false);
    expect(detached.isLeaf).toBe(true);
    expect(detached.item()).toBe(3);
  });

  it('grad and valueAndGrad with argnums as a number and as an array', () => {
    const a = f64([1, 2]);
    const b = f64([3, 5]);
    const fn = (x: Tensor, y: Tensor): Tensor => x.mul(x).mul(y).sum();
    expect(grad(fn)(a, b)).toBeAllclose([6, 20], exact);
    expect(grad(fn, { argnums: 0 })(a, b)).toBeAllclose([6, 20], exact);
    expect(grad(fn, { argnums: 1 })(a, b)).toBeAllclose([1, 4], exact);
    const both = grad(fn, { argnums: [0, 1] })(a, b);
    expect(both).toHaveLength(2);
    expect(both[0]).toBeAllclose([6, 20], exact);
    expect(both[1]).toBeAllclose([1, 4], exact);
    const reversed = grad(fn, { argnums: [1, 0] })(a, b);
    expect(reversed[0]).toBeAllclose([1, 4], exact);
    const [value, gradient] = valueAndGrad(fn)(a, b);
    expect(value.item()).toBe(23);
    expect(gradient).toBeAllclose([6, 20], exact);
    const [value2, gradients] = valueAndGrad(fn, { argnums: [0, 1] })(a, b);
    expect(value2.item()).toBe(23);
    expect(gradients[1]).toBeAllclose([1, 4], exact);
    // a float32 input gives a float32 gradient; grad does not touch .grad
    const marked = tensor([1, 2], { requiresGrad: true });
    const g32 = grad((v: Tensor) => v.square().sum())(marked);
    expect(g32.dtype).toBe('float32');
    expect(g32.toArray()).toEqual([2, 4]);
    expect(marked.grad).toBeNull();
    // extra non-Tensor arguments pass through
    expect(grad((v: Tensor, k: number) => v.mul(k).sum())(a, 4)).toBeAllclose([4, 4], exact);
  });

  it('grad with respect to the same tensor passed twice gives each partial derivative', () => {
    const x = f64([2, 3]);
    const [first, second] = grad((u: Tensor, v: Tensor) => u.mul(v.pow(2)).sum(), { argnums: [0, 1] })(x, x);
    expect(first).toBeAllclose([4, 9], exact);
    expect(second).toBeAllclose([8, 18], exact);
  });

  it('grad of a function whose output ignores an input gives zeros of its shape', () => {
    const a = f64([1, 2]);
    const b = f64([[1, 2, 3]]);
    expect(() => grad((x: Tensor, _y: Tensor) => x.sum(), { argnums: 1 })(a, b)).toThrow(/^grad: .*argument 1/);
    const gb = grad((x: Tensor, _y: Tensor) => x.sum(), { argnums: 1, allowUnused: true })(a, b);
    expect(gb.shape).toEqual([1, 3]);
    expect(gb.dtype).toBe('float64');
    expect(gb.toArray()).toEqual([[0, 0, 0]]);
    expect(grad((x: Tensor) => f64(3).add(x.mul(0).sum().detach()), { allowUnused: true })(a)).toBeAllclose([0, 0], exact);
    expect(grad((x: Tensor) => x.gt(0).sum())(a)).toBeAllclose([0, 0], exact);
  });

  it('second derivatives by composing grad', () => {
    const x = f64([0.5, 1, 2]);
    const second = grad((v: Tensor) => grad((u: Tensor) => u.pow(4).sum())(v).sum())(x);
    expect(second).toBeAllclose([3, 12, 48], exact);
    expect(grad((v: Tensor) => grad((u: Tensor) => u.sin().sum())(v).sum())(f64([5]))).toBeAllclose([-Math.sin(5)], close);
  });

  it('nested grad with a closure over the outer variable: no perturbation confusion', () => {
    const c = f64(1.5);
    const x = f64(3);
    // d/dx [x · d/dy (x·y)] = d/dx x² = 2x
    expect(grad((v: Tensor) => v.mul(grad((y: Tensor) => v.mul(y))(c)).sum())(x).item()).toBeCloseTo(6, 12);
    // Siskind & Pearlmutter: d/dx [x · d/dy (x + y)] = d/dx x = 1
    expect(grad((v: Tensor) => v.mul(grad((y: Tensor) => v.add(y))(c)))(x).item()).toBeCloseTo(1, 12);
    // the inner function differentiates at the outer variable itself: d/dx [d/dy (y·x) at y = x] = d/dx x = 1
    expect(grad((v: Tensor) => grad((y: Tensor) => y.mul(v))(v))(x).item()).toBeCloseTo(1, 12);
    // d/dx [d/dy (y²·x) at y = x] = d/dx 2x² = 4x
    expect(grad((v: Tensor) => grad((y: Tensor) => y.square().mul(v))(v))(x).item()).toBeCloseTo(12, 12);
    // the same through backward: an outer leaf that requires grad
    const leaf = f64(3, true);
    grad((y: Tensor) => y.mul(leaf))(leaf).backward();
    expect(leaf.grad!.item()).toBeCloseTo(1, 12);
  });

  it('customOp with a correct VJP passes gradcheck (and gradgradcheck)', () => {
    const cube = customOp({
      name: 'cube',
      forward: (x) => {
        const out = ndarray(new Float64Array(x.size), x.shape.slice());
        for (let i = 0; i < x.shape[0]!; i++) out.set(i, x.get(i) ** 3);
        return out;
      },
      vjp: (g, [x]) => [g.mul(x!.square().mul(3))],
    });
    const x = f64([-1.5, 0.5, 2]);
    const y = cube(x);
    expect(y).toBeAllclose([-3.375, 0.125, 8], exact);
    expect(y.dtype).toBe('float64');
    const result = gradcheck((v) => cube(v), [x]);
    expect(result.ok).toBe(true);
    expect(result.warnings).toEqual([]);
    expect(result.maxAbsError).toBeLessThan(1e-6);
    expect(gradgradcheck((v) => cube(v), [x]).ok).toBe(true);
    expect(grad((v: Tensor) => cube(v).sum())(x)).toBeAllclose([6.75, 0.75, 12], exact);
    expect(cube(tensor([2])).dtype).toBe('float32');
  });

  it('customOp with a deliberately wrong VJP: gradcheck says ok false and points at the element', () => {
    const product = customOp({
      name: 'product',
      forward: (a, b) => {
        const out = ndarray(new Float64Array(a.size), a.shape.slice());
        for (let i = 0; i < a.shape[0]!; i++) out.set(i, a.get(i) * b.get(i));
        return out;
      },
      // correct for a; for b, element 2 of the gradient is doubled
      vjp: (g, [a, b]) => [g.mul(b!), g.mul(a!).mul(f64([1, 1, 2, 1]))],
    });
    const a = f64([1, -2, 3, 0.5]);
    const b = f64([0.25, 4, -1, 2]);
    const result = gradcheck(product, [a, b]);
    expect(result.ok).toBe(false);
    expect(result.worst).not.toBeNull();
    expect(result.worst!.inputIndex).toBe(1);
    expect(result.worst!.elementIndex).toBe(2);
    expect(result.worst!.outputIndex).toBe(2);
    expect(result.worst!.analytic).toBeCloseTo(6, 9);
    expect(result.worst!.numeric).toBeCloseTo(3, 5);
    expect(result.maxAbsError).toBeCloseTo(3, 5);
    // only a, which is right, marked: passes
    expect(gradcheck(product, [f64([1, -2, 3, 0.5], true), b]).ok).toBe(true);
  });

  it('gradcheck on a float32 input returns a warning and does not crash', () => {
    let result: ReturnType<typeof gradcheck> | undefined;
    expect(() => {
      result = gradcheck((v) => v.sin().sum(), [tensor([0.5, 1])]);
    }).not.toThrow();
    expect(result!.warnings.length).toBeGreaterThan(0);
    expect(result!.warnings.join(' ')).toMatch(/float32/);
    expect(typeof result!.ok).toBe('boolean');
  });

  it('gradcheck passes for ordinary float64 functions and reports zero error when exact', () => {
    const x = f64([0.3, -0.7, 1.1]);
    const y = f64([1.2, 0.4, -0.9]);
    const result = gradcheck((u, v) => u.mul(v).sin().add(u.exp()).softmax(), [x, y]);
    expect(result.ok).toBe(true);
    expect(result.warnings).toEqual([]);
    expect(gradcheck((u) => u.mul(2), [x]).maxAbsError).toBeLessThan(1e-8);
  });
});

describe('gradcheck and NaN', () => {
  it('fails when the analytic and the numeric derivative are both NaN', () => {
    const x = tensor([-1, 2], { dtype: 'float64' });
    const result = gradcheck((t) => t.sqrt(), [x]);
    expect(result.ok).toBe(false);
    expect(result.worst?.elementIndex).toBe(0);
  });
});
