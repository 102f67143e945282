/**
 * The public API contract of @normgrad/core, item by item as /work/shared/API.md lists it:
 * every name exists, takes the listed arguments and options, has the listed defaults and
 * behaves as PyTorch (or JAX, for grad) does. API.md says: never rename or drop these names,
 * so a failure here is a broken promise to users, not a refactoring detail.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import ndarray from 'ndarray';
import { describe, expect, it } from 'vitest';
import * as core from '@normgrad/core';
import {
  Tensor,
  arange,
  customOp,
  eye,
  full,
  grad,
  gradcheck,
  gradgradcheck,
  noGrad,
  ones,
  rand,
  randn,
  tensor,
  valueAndGrad,
  zeros,
  type DType,
  type NestedArray,
} from '@normgrad/core';

const f64 = (data: NestedArray, requiresGrad = false): Tensor => tensor(data, { dtype: 'float64', requiresGrad });

function expectClose(actual: Tensor | number, expected: NestedArray, digits = 5): void {
  const values = typeof actual === 'number' ? [actual] : actual.toFloat64Array();
  const wanted = [expected].flat(Infinity as 1) as number[];
  expect(values.length).toBe(wanted.length);
  wanted.forEach((value, index) => expect(values[index]).toBeCloseTo(value, digits));
}

describe('every workspace package: ESM, built to dist/ by pnpm build, with exports and types', () => {
  const packagesDir = new URL('../../', import.meta.url);
  const names = readdirSync(packagesDir).filter((name) => existsSync(new URL(`${name}/package.json`, packagesDir)));

  it('finds the packages', () => {
    expect(names).toEqual(expect.arrayContaining(['core', 'nn', 'optim', 'testing', 'examples', 'bench']));
  });

  it.each(names)('packages/%s', (name) => {
    const read = (file: string): Record<string, unknown> => JSON.parse(readFileSync(new URL(`${name}/${file}`, packagesDir), 'utf8')) as Record<string, unknown>;
    const manifest = read('package.json');
    expect(manifest.type).toBe('module');
    expect((manifest.scripts as Record<string, string>).build).toBe('tsc -b');
    expect((read('tsconfig.json').compilerOptions as Record<string, string>).outDir).toBe('dist');
    const types = manifest.types as string;
    expect(types).toMatch(/^\.\/dist\/.*\.d\.ts$/);
    const root = (manifest.exports as Record<string, Record<string, string>>)['.']!;
    expect(root.types).toBe(types);
    expect(root.default).toBe(types.replace(/\.d\.ts$/, '.js'));
    expect(existsSync(new URL(`${name}/${root['@normgrad/source']}`, packagesDir))).toBe(true);
  });

  it('pnpm build runs turbo over every package’s build', () => {
    const root = JSON.parse(readFileSync(new URL('../package.json', packagesDir), 'utf8')) as { scripts: Record<string, string> };
    expect(root.scripts.build).toBe('turbo run build');
    const turbo = JSON.parse(readFileSync(new URL('../turbo.json', packagesDir), 'utf8')) as { tasks: Record<string, { outputs?: string[] }> };
    expect(turbo.tasks.build!.outputs).toContain('dist/**');
  });
});

describe('tensor(data, { dtype, requiresGrad, shape })', () => {
  it('takes a number (0-d), a nested array, a Float32Array, a Float64Array and an ndarray', () => {
    const scalar = tensor(3);
    expect(scalar.shape).toEqual([]);
    expect(scalar.item()).toBe(3);

    const nested = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(nested.shape).toEqual([2, 3]);
    expect(nested.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);

    const fromF32 = tensor(new Float32Array([1, 2, 3, 4]));
    expect(fromF32.shape).toEqual([4]);
    expect(fromF32.dtype).toBe('float32');

    const fromF64 = tensor(new Float64Array([1, 2, 3, 4]), { shape: [2, 2] });
    expect(fromF64.shape).toEqual([2, 2]);
    expect(fromF64.dtype).toBe('float64');

    // a strided, transposed ndarray view: values are read through the view
    const view = ndarray(new Float64Array([1, 2, 3, 4, 5, 6]), [2, 3]).transpose(1, 0);
    const fromNd = tensor(view);
    expect(fromNd.shape).toEqual([3, 2]);
    expect(fromNd.dtype).toBe('float64');
    expect(fromNd.toArray()).toEqual([[1, 4], [2, 5], [3, 6]]);
    expect(tensor(view, { shape: [6] }).toArray()).toEqual([1, 4, 2, 5, 3, 6]);
  });

  it("dtype defaults to 'float32' for numbers and arrays; dtype and requiresGrad options apply", () => {
    expect(tensor(1).dtype).toBe('float32');
    expect(tensor([1, 2]).dtype).toBe('float32');
    expect(tensor([1, 2]).requiresGrad).toBe(false);
    const x = tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    expect(x.dtype).toBe('float64');
    expect(x.requiresGrad).toBe(true);
    expect(tensor(new Float64Array([1]), { dtype: 'float32' }).dtype).toBe('float32');
    expect(tensor([1, 2, 3, 4, 5, 6], { shape: [3, 2] }).shape).toEqual([3, 2]);
  });

  it('copies its data (as torch.tensor)', () => {
    const source = new Float64Array([1, 2]);
    const x = tensor(source);
    source[0] = 99;
    expect(x.toArray()).toEqual([1, 2]);
  });

  it('rejects data that does not fill the shape, naming the op and the shape', () => {
    expect(() => tensor([1, 2, 3], { shape: [2, 2] })).toThrow(/tensor: .*3.*\[2, 2\]/);
  });
});

describe('zeros, ones, full, arange, eye, randn, rand', () => {
  it("fill the shape, default to float32 and take { dtype, requiresGrad }", () => {
    const cases: [string, Tensor, number][] = [
      ['zeros', zeros([2, 3]), 0],
      ['ones', ones([2, 3]), 1],
      ['full', full([2, 3], 7.5), 7.5],
    ];
    for (const [, t, value] of cases) {
      expect(t.shape).toEqual([2, 3]);
      expect(t.dtype).toBe('float32');
      expect(t.requiresGrad).toBe(false);
      expect(Array.from(t.toFloat64Array())).toEqual(new Array(6).fill(value));
    }
    for (const make of [
      (o: { dtype: DType; requiresGrad: boolean }) => zeros([2], o),
      (o: { dtype: DType; requiresGrad: boolean }) => ones([2], o),
      (o: { dtype: DType; requiresGrad: boolean }) => full([2], 3, o),
      (o: { dtype: DType; requiresGrad: boolean }) => eye(2, o),
      (o: { dtype: DType; requiresGrad: boolean }) => arange(3, o),
      (o: { dtype: DType; requiresGrad: boolean }) => randn([2], o),
      (o: { dtype: DType; requiresGrad: boolean }) => rand([2], o),
    ]) {
      const t = make({ dtype: 'float64', requiresGrad: true });
      expect(t.dtype).toBe('float64');
      expect(t.requiresGrad).toBe(true);
    }
  });

  it('arange(stop), arange(start, stop), arange(start, stop, step) as torch.arange', () => {
    expect(arange(4).toArray()).toEqual([0, 1, 2, 3]);
    expect(arange(2, 5).toArray()).toEqual([2, 3, 4]);
    expect(arange(0, 1, 0.25).toArray()).toEqual([0, 0.25, 0.5, 0.75]);
    expect(arange(5, 0, -2).toArray()).toEqual([5, 3, 1]);
    expect(arange(3).dtype).toBe('float32');
    expect(arange(0, 3, 1, { dtype: 'float64' }).dtype).toBe('float64');
  });

  it('eye(n) is the identity', () => {
    expect(eye(3).toArray()).toEqual([[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
    expect(eye(3).dtype).toBe('float32');
  });

  it('randn and rand are reproducible with a seed and differ between seeds; rand lies in [0, 1)', () => {
    expect(randn([5], { seed: 1 }).toArray()).toEqual(randn([5], { seed: 1 }).toArray());
    expect(rand([5], { seed: 1 }).toArray()).toEqual(rand([5], { seed: 1 }).toArray());
    expect(randn([5], { seed: 1 }).toArray()).not.toEqual(randn([5], { seed: 2 }).toArray());
    expect(randn([2, 3]).dtype).toBe('float32');
    expect(rand([2, 3]).dtype).toBe('float32');
    const u = rand([1000], { seed: 3, dtype: 'float64' }).toFloat64Array();
    expect(u.every((value) => value >= 0 && value < 1)).toBe(true);
    const z = randn([4000], { seed: 4, dtype: 'float64' });
    expect(Math.abs(z.mean().item())).toBeLessThan(0.1);
    expect(Math.abs(z.var().item() - 1)).toBeLessThan(0.1);
    core.manualSeed(11);
    const first = randn([3]).toArray();
    core.manualSeed(11);
    expect(randn([3]).toArray()).toEqual(first);
  });
});

describe('Tensor fields and conversions', () => {
  it('shape, dtype, size, ndim, data (a scijs ndarray view), requiresGrad, grad', () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(x).toBeInstanceOf(Tensor);
    expect(x.shape).toEqual([2, 3]);
    expect(x.dtype).toBe('float32');
    expect(x.size).toBe(6);
    expect(x.ndim).toBe(2);
    expect(x.requiresGrad).toBe(false);
    expect(x.grad).toBeNull();
    expect(x.data.shape).toEqual([2, 3]);
    expect(x.data.data).toBeInstanceOf(Float32Array);
    expect(x.data.get(1, 2)).toBe(6);
    // a transposed tensor's data is a strided view: read it through get(), not by position
    const t = x.transpose(0, 1);
    expect(t.data.shape).toEqual([3, 2]);
    expect(t.data.get(2, 1)).toBe(6);
    x.requiresGrad = true;
    expect(x.requiresGrad).toBe(true);
  });

  it('toArray, item, toFloat64Array, toTypedArray', () => {
    const x = tensor([[1, 2], [3, 4]], { dtype: 'float64' });
    expect(x.toArray()).toEqual([[1, 2], [3, 4]]);
    expect(x.transpose().toArray()).toEqual([[1, 3], [2, 4]]);
    expect(tensor(2.5).toArray()).toBe(2.5);
    expect(tensor([[2.5]]).item()).toBe(2.5);
    expect(() => x.item()).toThrow(/item: .*\[2, 2\]/);
    const f64Values = x.transpose().toFloat64Array();
    expect(f64Values).toBeInstanceOf(Float64Array);
    expect(Array.from(f64Values)).toEqual([1, 3, 2, 4]);
    expect(tensor([1, 2]).toTypedArray()).toBeInstanceOf(Float32Array);
    expect(x.toTypedArray()).toBeInstanceOf(Float64Array);
    expect(tensor([1, 2]).toFloat64Array()).toBeInstanceOf(Float64Array);
  });
});

describe('backward(gradOutput?, { retainGraph, createGraph }) and detach', () => {
  it('a scalar needs no gradOutput; gradients accumulate into .grad over backward calls (as PyTorch)', () => {
    const x = f64([1, 2, 3], true);
    x.mul(x).sum().backward();
    expectClose(x.grad!, [2, 4, 6]);
    x.mul(x).sum().backward();
    expectClose(x.grad!, [4, 8, 12]);
  });

  it('a non-scalar output takes a gradOutput of its shape', () => {
    const x = f64([1, 2, 3], true);
    x.mul(3).backward(f64([1, 10, 100]));
    expectClose(x.grad!, [3, 30, 300]);
  });

  it('the graph is freed after backward unless retainGraph is set', () => {
    const x = f64([1, 2], true);
    const y = x.exp().sum();
    y.backward(undefined, { retainGraph: true });
    y.backward();
    expectClose(x.grad!, [2 * Math.exp(1), 2 * Math.exp(2)]);
    const z = x.exp().sum();
    z.backward();
    expect(() => z.backward()).toThrow(/backward: .*retainGraph/);
  });

  it('createGraph records the gradient so that it can be differentiated again', () => {
    const x = f64([2], true);
    x.pow(3).sum().backward(undefined, { createGraph: true });
    const firstDerivative = x.grad!;
    expectClose(firstDerivative, [12]); // 3x²
    expect(firstDerivative.requiresGrad).toBe(true);
    x.grad = null;
    firstDerivative.sum().backward();
    expectClose(x.grad!, [12]); // 6x
  });

  it('without createGraph the stored gradient has no history', () => {
    const x = f64([2], true);
    x.pow(3).sum().backward();
    expect(x.grad!.requiresGrad).toBe(false);
  });

  it('detach() gives the same values without history or requiresGrad', () => {
    const x = f64([1, 2], true);
    const y = x.mul(2);
    const d = y.detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.toArray()).toEqual([2, 4]);
    expect(d.shape).toEqual(y.shape);
    const loss = y.mul(d).sum();
    loss.backward();
    expectClose(x.grad!, [4, 8]); // d is a constant: d/dx (2x · c) = 2c
  });
});

/** Every method listed in API.md; each must also be a free function export of the package. */
const METHODS = [
  'add', 'sub', 'mul', 'div', 'neg', 'pow', 'exp', 'log', 'sqrt', 'rsqrt', 'abs', 'square',
  'relu', 'sigmoid', 'tanh', 'maximum', 'minimum', 'clamp', 'where',
  'sum', 'mean', 'var', 'max', 'min', 'reshape', 'transpose', 'permute', 'broadcastTo',
  'unsqueeze', 'squeeze', 'flatten', 'slice', 'narrow', 'concat', 'stack', 'pad', 'matmul',
] as const;

describe('every listed op is a Tensor method and a free function', () => {
  const exported = core as unknown as Record<string, unknown>;
  it.each(METHODS)('%s', (name) => {
    expect(typeof (Tensor.prototype as unknown as Record<string, unknown>)[name]).toBe('function');
    expect(typeof exported[name]).toBe('function');
  });
});

describe('elementwise ops: values as PyTorch, plain-number operands, NumPy broadcasting', () => {
  const x = f64([1, 4, 9]);

  it('binary ops accept a Tensor or a plain number, as method and free function', () => {
    expectClose(x.add(1), [2, 5, 10]);
    expectClose(x.sub(1), [0, 3, 8]);
    expectClose(x.mul(0.5), [0.5, 2, 4.5]);
    expectClose(x.div(2), [0.5, 2, 4.5]);
    expectClose(x.pow(2), [1, 16, 81]);
    expectClose(x.maximum(4), [4, 4, 9]);
    expectClose(x.minimum(4), [1, 4, 4]);
    expectClose(core.add(1, x), [2, 5, 10]);
    expectClose(core.sub(10, x), [9, 6, 1]);
    expectClose(core.mul(x, 2), [2, 8, 18]);
    expectClose(core.div(36, x), [36, 9, 4]);
    expectClose(core.pow(2, f64([1, 2, 3])), [2, 4, 8]);
    expectClose(core.maximum(x, f64([2, 2, 20])), [2, 4, 20]);
    expectClose(core.minimum(x, f64([2, 2, 20])), [1, 2, 9]);
  });

  it('broadcasting follows NumPy rules', () => {
    const column = f64([[1], [2]]);
    const row = f64([10, 20, 30]);
    const sum = column.add(row);
    expect(sum.shape).toEqual([2, 3]);
    expect(sum.toArray()).toEqual([[11, 21, 31], [12, 22, 32]]);
    expect(() => f64([1, 2]).add(f64([1, 2, 3]))).toThrow(/add: .*\[2\].*\[3\]/);
  });

  it('unary ops', () => {
    expectClose(x.neg(), [-1, -4, -9]);
    expectClose(x.sqrt(), [1, 2, 3]);
    expectClose(x.rsqrt(), [1, 0.5, 1 / 3]);
    expectClose(x.log(), [0, Math.log(4), Math.log(9)]);
    expectClose(f64([0, 1]).exp(), [1, Math.E]);
    expectClose(f64([-2, 3]).abs(), [2, 3]);
    expectClose(f64([-2, 3]).square(), [4, 9]);
    expectClose(f64([-2, 0, 3]).relu(), [0, 0, 3]);
    expectClose(f64([0]).sigmoid(), [0.5]);
    expectClose(f64([0.5]).tanh(), [Math.tanh(0.5)]);
    for (const name of ['neg', 'sqrt', 'rsqrt', 'log', 'exp', 'abs', 'square', 'relu', 'sigmoid', 'tanh'] as const) {
      expect((core[name] as (t: Tensor) => Tensor)(x).toArray()).toEqual(x[name]().toArray());
    }
  });

  it('clamp(min?, max?) limits values; its gradient passes inside [min, max] (as PyTorch)', () => {
    const v = f64([-2, 0.5, 3], true);
    expectClose(v.clamp(0, 1), [0, 0.5, 1]);
    expectClose(v.clamp(0), [0, 0.5, 3]);
    expectClose(v.clamp(null, 1), [-2, 0.5, 1]);
    expectClose(core.clamp(v, 0, 1), [0, 0.5, 1]);
    expectClose(grad((t: Tensor) => t.clamp(0, 1).sum())(v), [0, 1, 0]);
  });

  it('where(cond, a, b) picks a where cond is non-zero, else b; a and b may be numbers', () => {
    const cond = f64([1, 0, 1]);
    expectClose(core.where(cond, f64([1, 2, 3]), f64([10, 20, 30])), [1, 20, 3]);
    expectClose(core.where(cond, f64([1, 2, 3]), 0), [1, 0, 3]);
    expectClose(core.where(cond, 5, f64([10, 20, 30])), [5, 20, 5]);
    // the method is PyTorch's x.where(condition, other)
    expectClose(f64([1, 2, 3]).where(cond, -1), [1, -1, 3]);
  });

  it('relu has gradient 0 at 0 (as PyTorch)', () => {
    expectClose(grad((t: Tensor) => t.relu().sum())(f64([-1, 0, 2])), [0, 0, 1]);
  });

  it('gradient conventions at kinks and ties, as PyTorch', () => {
    expectClose(grad((t: Tensor) => t.abs().sum())(f64([0])), [0]);
    expectClose(grad((t: Tensor) => t.clamp(0, 1).sum())(f64([0, 1])), [1, 1]); // bounds inclusive
    expectClose(grad((t: Tensor) => t.pow(2).sum())(f64([0])), [0]);
    expectClose(grad((t: Tensor) => t.max())(f64([1, 1, 0])), [0.5, 0.5, 0]); // amax: ties split evenly
    expectClose(grad((t: Tensor) => t.maximum(1).sum())(f64([1])), [0.5]);
    expectClose(grad((t: Tensor) => t.minimum(1).sum())(f64([1])), [0.5]);
    expect(Number.isNaN(f64([3]).var().item())).toBe(true); // one value, correction 1: NaN
  });

  it('a dtype mix is an error naming the op', () => {
    expect(() => tensor([1]).add(f64([1]))).toThrow(/add: dtype mismatch/);
  });
});

describe('reductions: sum, mean, var, max, min', () => {
  const x = f64([[1, 2, 3], [4, 5, 6]]);

  it('sum and mean over all axes, one axis, several axes, negative axes, keepdims', () => {
    expect(x.sum().shape).toEqual([]);
    expectClose(x.sum(), [21]);
    expectClose(x.sum(0), [5, 7, 9]);
    expectClose(x.sum(-1), [6, 15]);
    expectClose(x.sum([0, 1]), [21]);
    expect(x.sum(1, true).shape).toEqual([2, 1]);
    expectClose(x.mean(), [3.5]);
    expectClose(x.mean(1), [2, 5]);
    expect(x.mean(0, true).shape).toEqual([1, 3]);
    expectClose(core.sum(x, 0), [5, 7, 9]);
    expectClose(core.mean(x, -1, true), [[2], [5]]);
  });

  it('var(axis?, { correction?, keepdims? }) is unbiased by default (correction 1, as torch.var)', () => {
    const v = f64([1, 2, 3, 4]);
    expectClose(v.var(), [5 / 3]);
    expectClose(v.var(undefined, { correction: 1 }), [5 / 3]);
    expectClose(v.var(undefined, { correction: 0 }), [1.25]);
    expectClose(x.var(1), [1, 1]);
    expectClose(x.var(0, { correction: 0 }), [2.25, 2.25, 2.25]);
    expect(x.var(1, { keepdims: true }).shape).toEqual([2, 1]);
    expect(x.var(1).shape).toEqual([2]);
    expectClose((core as unknown as { var: (t: Tensor, a?: number) => Tensor }).var(x, 1), [1, 1]);
  });

  it('max and min (axis?, keepdims?)', () => {
    expectClose(x.max(), [6]);
    expectClose(x.max(0), [4, 5, 6]);
    expectClose(x.min(1), [1, 4]);
    expect(x.max(1, true).shape).toEqual([2, 1]);
    expect(x.min(-1, true).shape).toEqual([2, 1]);
    expectClose(core.max(x, 1), [3, 6]);
    expectClose(core.min(x), [1]);
  });

  it('a bad axis is an error naming the op and the shape', () => {
    expect(() => x.sum(2)).toThrow(/sum: axis 2 .*\[2, 3\]/);
  });
});

describe('shape ops', () => {
  const x = f64([[1, 2, 3], [4, 5, 6]]);

  it('reshape (with one -1), transpose (reverse, or swap two axes), permute', () => {
    expect(x.reshape([3, 2]).toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(x.reshape([-1]).shape).toEqual([6]);
    expect(x.transpose().toArray()).toEqual([[1, 4], [2, 5], [3, 6]]);
    expect(x.transpose(0, 1).toArray()).toEqual([[1, 4], [2, 5], [3, 6]]);
    const cube = core.arange(24, { dtype: 'float64' }).reshape([2, 3, 4]);
    expect(cube.transpose(0, 2).shape).toEqual([4, 3, 2]);
    expect(cube.transpose(-1, 0).shape).toEqual([4, 3, 2]);
    expect(cube.permute([1, 2, 0]).shape).toEqual([3, 4, 2]);
    // transpose(...perm): a full permutation, as permute
    expect(cube.transpose(2, 0, 1).toArray()).toEqual(cube.permute([2, 0, 1]).toArray());
    expect(core.permute(cube, [2, 0, 1]).shape).toEqual([4, 2, 3]);
    expect(core.transpose(x).shape).toEqual([3, 2]);
    expect(core.reshape(x, [6]).shape).toEqual([6]);
  });

  it('broadcastTo, unsqueeze, squeeze, flatten', () => {
    expect(f64([1, 2]).broadcastTo([3, 2]).toArray()).toEqual([[1, 2], [1, 2], [1, 2]]);
    expect(core.broadcastTo(f64([[1], [2]]), [2, 2]).toArray()).toEqual([[1, 1], [2, 2]]);
    expect(x.unsqueeze(0).shape).toEqual([1, 2, 3]);
    expect(x.unsqueeze(-1).shape).toEqual([2, 3, 1]);
    expect(core.unsqueeze(x, 1).shape).toEqual([2, 1, 3]);
    const padded = zeros([1, 2, 1, 3]);
    expect(padded.squeeze().shape).toEqual([2, 3]);
    expect(padded.squeeze(0).shape).toEqual([2, 1, 3]);
    expect(padded.squeeze(1).shape).toEqual([1, 2, 1, 3]); // not extent 1: left (as PyTorch)
    expect(core.squeeze(padded, 2).shape).toEqual([1, 2, 3]);
    expect(zeros([2, 3, 4]).flatten().shape).toEqual([24]);
    expect(zeros([2, 3, 4]).flatten(1).shape).toEqual([2, 12]);
    expect(core.flatten(zeros([2, 3, 4, 5]), 1, 2).shape).toEqual([2, 12, 5]);
  });

  it('slice (Python-style ranges) and narrow (as torch.narrow)', () => {
    expect(x.slice(null, [1, 3]).toArray()).toEqual([[2, 3], [5, 6]]);
    expect(x.slice(1).toArray()).toEqual([4, 5, 6]);
    expect(x.slice(null, [null, null, 2]).toArray()).toEqual([[1, 3], [4, 6]]);
    expect(x.slice(null, [-2]).toArray()).toEqual([[2, 3], [5, 6]]);
    expect(core.slice(x, [0, 1]).toArray()).toEqual([[1, 2, 3]]);
    expect(x.narrow(1, 1, 2).toArray()).toEqual([[2, 3], [5, 6]]);
    expect(core.narrow(x, 0, 1, 1).toArray()).toEqual([[4, 5, 6]]);
  });

  it('concat and stack (each a method and a free function)', () => {
    const a = f64([[1, 2]]);
    const b = f64([[3, 4]]);
    expect(a.concat([b]).toArray()).toEqual([[1, 2], [3, 4]]);
    expect(a.concat([b], 1).toArray()).toEqual([[1, 2, 3, 4]]);
    expect(core.concat([a, b], -1).toArray()).toEqual([[1, 2, 3, 4]]);
    expect(core.stack([f64([1, 2]), f64([3, 4])]).toArray()).toEqual([[1, 2], [3, 4]]);
    expect(core.stack([f64([1, 2]), f64([3, 4])], 1).toArray()).toEqual([[1, 3], [2, 4]]);
    expect(f64([1, 2]).stack([f64([3, 4])]).toArray()).toEqual([[1, 2], [3, 4]]);
    expect(f64([1, 2]).stack([f64([3, 4])], -1).toArray()).toEqual([[1, 3], [2, 4]]);
    expect(() => core.stack([f64([1, 2]), f64([1, 2, 3])])).toThrow(/stack: .*\[2\].*\[3\]/);
  });

  it('pad([[before, after], ...], value) pads the trailing axes', () => {
    expect(f64([1, 2]).pad([[1, 2]]).toArray()).toEqual([0, 1, 2, 0, 0]);
    expect(core.pad(f64([[1]]), [[1, 0], [0, 1]], -1).toArray()).toEqual([[-1, -1], [1, -1]]);
  });

  it('matmul: matrices, vectors (promoted and removed), broadcast batches', () => {
    const a = f64([[1, 2], [3, 4]]);
    expect(a.matmul(f64([[5], [6]])).toArray()).toEqual([[17], [39]]);
    expect(a.matmul(f64([5, 6])).toArray()).toEqual([17, 39]);
    expect(f64([1, 1]).matmul(a).toArray()).toEqual([4, 6]);
    expect(f64([1, 2]).matmul(f64([3, 4])).shape).toEqual([]);
    expect(core.matmul(zeros([5, 1, 2, 3]), zeros([4, 3, 6])).shape).toEqual([5, 4, 2, 6]);
    expect(() => a.matmul(f64([[1, 2, 3]]))).toThrow(/matmul: .*\[2, 2\].*\[1, 3\]/);
  });
});

describe('grad(f, { argnums }) and valueAndGrad(f, opts)', () => {
  const f = (a: Tensor, b: Tensor): Tensor => a.mul(b).sum();

  it('argnums defaults to 0 and gives a Tensor; an array gives an array (typed as a tuple for a literal one)', () => {
    const a = f64([1, 2]);
    const b = f64([3, 4]);
    const ga = grad(f)(a, b);
    expect(ga).toBeInstanceOf(Tensor);
    expectClose(ga, [3, 4]);
    expectClose(grad(f, { argnums: 1 })(a, b), [1, 2]);
    const both = grad(f, { argnums: [0, 1] })(a, b);
    expect(Array.isArray(both)).toBe(true);
    expect(both).toHaveLength(2);
    expectClose(both[0]!, [3, 4]);
    expectClose(both[1]!, [1, 2]);
    expect(grad(f, { argnums: [1] })(a, b)).toHaveLength(1);
    // a literal tuple of argnums types each gradient as its argument: no undefined, records keep their type
    const [first, second]: [Tensor, Tensor] = grad(f, { argnums: [0, 1] })(a, b);
    expectClose(first, [3, 4]);
    expectClose(second, [1, 2]);
    const scaled = (p: { w: Tensor }, x: Tensor): Tensor => p.w.mul(x).sum();
    const [gradientOfRecord, gradientOfX] = grad(scaled, { argnums: [0, 1] })({ w: a }, b);
    expectClose(gradientOfRecord.w, [3, 4]);
    expectClose(gradientOfX, [1, 2]);
    const [, [recordOnly]] = valueAndGrad(scaled, { argnums: [0] })({ w: a }, b);
    expectClose(recordOnly.w, [3, 4]);
  });

  it('an argument f does not use is an Error naming grad and the argument, or with allowUnused a zero gradient of its shape', () => {
    expect(() => grad((a: Tensor, _b: Tensor) => a.sum(), { argnums: 1 })(f64([1]), f64([[1, 2]]))).toThrow(/^grad: .*argument 1 .*allowUnused/);
    expect(grad((a: Tensor, _b: Tensor) => a.sum(), { argnums: 1, allowUnused: true })(f64([1]), f64([[1, 2]])).toArray()).toEqual([[0, 0]]);
  });

  it('does not touch .grad of its arguments and works on arguments without requiresGrad', () => {
    const a = f64([1, 2], true);
    grad(f)(a, f64([3, 4]));
    expect(a.grad).toBeNull();
  });

  it('composes: grad(x => grad(f)(x).square().sum())(x) is a second derivative', () => {
    const cube = (x: Tensor): Tensor => x.pow(3).sum();
    const x = f64([1, 2]);
    // g(x) = Σ (3x²)² = Σ 9x⁴, g'(x) = 36x³
    expectClose(grad((t: Tensor) => grad(cube)(t).square().sum())(x), [36, 288]);
    // third derivative of x⁴ is 24x
    const quartic = (t: Tensor): Tensor => t.pow(4).sum();
    expectClose(grad((t: Tensor) => grad((u: Tensor) => grad(quartic)(u).sum())(t).sum())(x), [24, 48]);
  });

  it('valueAndGrad returns [value, gradient(s)]', () => {
    const a = f64([1, 2]);
    const b = f64([3, 4]);
    const [value, gradient] = valueAndGrad(f)(a, b);
    expectClose(value, [11]);
    expectClose(gradient, [3, 4]);
    const [value2, gradients] = valueAndGrad(f, { argnums: [0, 1] })(a, b);
    expectClose(value2, [11]);
    expect(gradients).toHaveLength(2);
    expectClose(gradients[1]!, [1, 2]);
  });

  it('a non-scalar f is an error naming grad and the shape', () => {
    expect(() => grad((t: Tensor) => t.mul(2))(f64([1, 2]))).toThrow(/grad: .*\[2\]/);
  });
});

describe('customOp({ name, forward, vjp })', () => {
  // cube(x) = x³ with a raw-ndarray forward and a VJP written in Tensor ops
  const cube = customOp({
    name: 'cube',
    forward: (x) => {
      const out = ndarray(new Float64Array(x.size), x.shape.slice());
      let position = 0;
      for (let i = 0; i < x.shape[0]!; i++) out.data[position++] = x.get(i) ** 3;
      return out;
    },
    vjp: (gradOut, [x]) => [gradOut.mul(x!.square().mul(3))],
  });

  it('returns a function of Tensors whose forward, gradient and second derivative are right', () => {
    expect(typeof cube).toBe('function');
    const x = f64([1, 2, -1]);
    const y = cube(x);
    expect(y).toBeInstanceOf(Tensor);
    expect(y.toArray()).toEqual([1, 8, -1]);
    expectClose(grad((t: Tensor) => cube(t).sum())(x), [3, 12, 3]);
    // the VJP is made of Tensor ops, so it is itself differentiable: d²/dx² x³ = 6x
    expectClose(grad((t: Tensor) => grad((u: Tensor) => cube(u).sum())(t).sum())(x), [6, 12, -6]);
    expect(gradcheck((t: Tensor) => cube(t), [f64([0.5, -1.5, 2])]).ok).toBe(true);
    expect(gradgradcheck((t: Tensor) => cube(t), [f64([0.5, -1.5, 2])]).ok).toBe(true);
  });

  it('receives (gradOut, inputs, output)', () => {
    const seen: { gradOut?: number[]; inputs?: number; output?: number[] } = {};
    const double = customOp({
      name: 'double',
      forward: (x) => ndarray(Float64Array.from({ length: x.size }, (_, i) => 2 * x.get(i)), [x.size]),
      vjp: (gradOut, inputs, output) => {
        seen.gradOut = Array.from(gradOut.toFloat64Array());
        seen.inputs = inputs.length;
        seen.output = Array.from(output.toFloat64Array());
        return [gradOut.mul(2)];
      },
    });
    const x = f64([1, 2], true);
    double(x).backward(f64([5, 7]));
    expect(seen).toEqual({ gradOut: [5, 7], inputs: 1, output: [2, 4] });
    expectClose(x.grad!, [10, 14]);
  });
});

describe('noGrad(fn)', () => {
  it('returns fn()’s value; results inside record no graph', () => {
    const x = f64([1, 2], true);
    const result = noGrad(() => x.mul(2));
    expect(result.requiresGrad).toBe(false);
    expect(result.toArray()).toEqual([2, 4]);
    expect(noGrad(() => 42)).toBe(42);
    expect(x.mul(2).requiresGrad).toBe(true);
  });
});

describe('gradcheck(f, inputs, { eps, atol, rtol }) and gradgradcheck(f, inputs, opts)', () => {
  it('returns { ok, maxAbsError, maxRelError, worst } and accepts a right gradient', () => {
    const result = gradcheck((x: Tensor) => x.exp().mul(x), [f64([0.1, -0.7, 1.3])]);
    expect(result.ok).toBe(true);
    expect(typeof result.maxAbsError).toBe('number');
    expect(typeof result.maxRelError).toBe('number');
    expect(result.maxAbsError).toBeLessThan(1e-5);
    expect(result).toHaveProperty('worst');
    expect(result.worst).toMatchObject({ inputIndex: 0 });
  });

  it('rejects a wrong gradient and points at it in worst', () => {
    const wrong = customOp({
      name: 'wrongSquare',
      forward: (x) => ndarray(Float64Array.from({ length: x.size }, (_, i) => x.get(i) ** 2), [x.size]),
      vjp: (gradOut, [x]) => [gradOut.mul(x!).mul(3)], // should be 2x
    });
    const result = gradcheck((x: Tensor) => wrong(x), [f64([1, 2])]);
    expect(result.ok).toBe(false);
    expect(result.maxAbsError).toBeGreaterThan(0.5);
    expect(result.worst).not.toBeNull();
    expect(result.worst!.inputIndex).toBe(0);
  });

  it('takes several inputs and the options eps, atol, rtol', () => {
    const result = gradcheck((a: Tensor, b: Tensor) => a.mul(b).sum(), [f64([1, 2]), f64([3, 4])], { eps: 1e-5, atol: 1e-6, rtol: 1e-4 });
    expect(result.ok).toBe(true);
    // a loose check passes an approximate gradient that a tight one rejects
    const approx = customOp({
      name: 'approxExp',
      forward: (x) => ndarray(Float64Array.from({ length: x.size }, (_, i) => Math.exp(x.get(i))), [x.size]),
      vjp: (gradOut, _inputs, out) => [gradOut.mul(out).mul(1.0005)],
    });
    expect(gradcheck((x: Tensor) => approx(x), [f64([0.5])]).ok).toBe(true); // 0.05% off: within the default rtol 1e-3
    expect(gradcheck((x: Tensor) => approx(x), [f64([0.5])], { rtol: 1e-4, atol: 0 }).ok).toBe(false);
  });

  it('gradgradcheck checks second derivatives through createGraph, with the same result shape', () => {
    const result = gradgradcheck((x: Tensor) => x.sigmoid().mul(x), [f64([0.3, -1.1])]);
    expect(result.ok).toBe(true);
    expect(result).toHaveProperty('maxAbsError');
    expect(result).toHaveProperty('maxRelError');
    expect(result).toHaveProperty('worst');
    // a VJP that is right to first order but made of a constant (no history) fails the second order check
    const flatVjp = customOp({
      name: 'flatVjpSquare',
      forward: (x) => ndarray(Float64Array.from({ length: x.size }, (_, i) => x.get(i) ** 2), [x.size]),
      vjp: (gradOut, [x]) => [gradOut.mul(x!.detach()).mul(2)],
    });
    expect(gradcheck((x: Tensor) => flatVjp(x), [f64([1, 2])]).ok).toBe(true);
    expect(gradgradcheck((x: Tensor) => flatVjp(x), [f64([1, 2])]).ok).toBe(false);
  });
});
