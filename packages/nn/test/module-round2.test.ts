import { readFileSync } from 'node:fs';
import { manualSeed, noGrad, ones, tensor, zeros, type Tensor } from '@normgrad/core';
import { describe, expect, it } from 'vitest';
import { BatchNorm2d, Conv2d, Flatten, Linear, Module, ReLU, Sequential, assignInPlace, buffer, init, isBuffer, summary } from '../src/index.js';

const fixtures = JSON.parse(readFileSync(new URL('./fixtures/layers.json', import.meta.url), 'utf8')) as {
  init: { shape: number[]; nonlinearity: init.Nonlinearity; a: number | null; mode: init.FanMode; gain: number; fan: number; kaimingStd: number; xavierStd: number }[];
};

function stats(t: Tensor): { maxAbs: number; std: number; mean: number } {
  const values = t.toFloat64Array();
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  return { maxAbs: values.reduce((a, b) => Math.max(a, Math.abs(b)), 0), std, mean };
}

describe('init (PyTorch gains and fan modes, in place)', () => {
  it('calculateGain and the fans equal torch.nn.init', () => {
    for (const c of fixtures.init) {
      expect(init.calculateGain(c.nonlinearity, c.a ?? undefined)).toBeCloseTo(c.gain, 14);
      const { fanIn, fanOut } = init.calculateFanInAndFanOut(zeros(c.shape));
      expect(c.mode === 'fan_in' ? fanIn : fanOut).toBe(c.fan);
    }
  });
  it('draws with PyTorch scale: kaiming/xavier uniform bounds and normal stds, in place', () => {
    manualSeed(7);
    for (const c of fixtures.init) {
      const shape = [c.shape[0]! * 50, ...c.shape.slice(1)]; // more rows for the statistics, same fan_in
      const w = zeros(shape, { dtype: 'float64' });
      const kaimingStd = init.calculateGain(c.nonlinearity, c.a ?? undefined) / Math.sqrt(c.mode === 'fan_in' ? init.calculateFanInAndFanOut(w).fanIn : init.calculateFanInAndFanOut(w).fanOut);
      if (c.mode === 'fan_in') expect(kaimingStd).toBeCloseTo(c.kaimingStd, 14);
      const options = { mode: c.mode, nonlinearity: c.nonlinearity, ...(c.a === null ? {} : { a: c.a }) };
      expect(init.kaimingUniform(w, options)).toBe(w);
      const u = stats(w);
      expect(u.maxAbs).toBeLessThanOrEqual(Math.sqrt(3) * kaimingStd);
      expect(u.maxAbs).toBeGreaterThan(0.97 * Math.sqrt(3) * kaimingStd);
      init.kaimingNormal(w, options);
      expect(stats(w).std / kaimingStd).toBeGreaterThan(0.93);
      expect(stats(w).std / kaimingStd).toBeLessThan(1.07);
    }
    const w = zeros([300, 200], { dtype: 'float64' });
    const xavierStd = Math.sqrt(2 / 500);
    init.xavierUniform(w, { gain: 2 });
    expect(stats(w).maxAbs).toBeLessThanOrEqual(2 * Math.sqrt(3) * xavierStd);
    expect(stats(w).maxAbs).toBeGreaterThan(0.99 * 2 * Math.sqrt(3) * xavierStd);
    init.xavierNormal(w);
    expect(Math.abs(stats(w).std / xavierStd - 1)).toBeLessThan(0.03);
    init.uniform(w, { a: 2, b: 3 });
    expect(Math.abs(stats(w).mean - 2.5)).toBeLessThan(0.01);
    init.normal(w, { mean: -1, std: 0.5 });
    expect(Math.abs(stats(w).std - 0.5)).toBeLessThan(0.01);
    expect(init.constant(w, 3).toFloat64Array().every((v) => v === 3)).toBe(true);
    expect(init.zeros(w).toFloat64Array().every((v) => v === 0)).toBe(true);
    expect(init.ones(w).toFloat64Array().every((v) => v === 1)).toBe(true);
  });
  it('keeps a parameter a leaf and rejects bad input', () => {
    const layer = new Linear(3, 2);
    init.kaimingNormal(layer.weight, { nonlinearity: 'relu' });
    expect(layer.weight.isLeaf).toBe(true);
    expect(layer.parameters()).toContain(layer.weight);
    expect(() => init.kaimingUniform(zeros([3]))).toThrow('calculateFanInAndFanOut: fan in and fan out need a tensor of at least 2 dimensions');
    expect(() => init.kaimingUniform(zeros([3, 3]), { mode: 'fanIn' as never })).toThrow("kaimingUniform: mode must be 'fan_in' or 'fan_out'");
    expect(() => init.xavierUniform(zeros([3, 3]), { gian: 1 } as never)).toThrow("xavierUniform: unknown option 'gian' (did you mean 'gain'?)");
  });
  it('layers keep PyTorch default initialization (bound 1/sqrt(fanIn), groups included)', () => {
    manualSeed(1);
    const conv = new Conv2d(8, 16, 3, { groups: 4 });
    const bound = 1 / Math.sqrt((8 / 4) * 9);
    expect(stats(conv.weight).maxAbs).toBeLessThanOrEqual(bound);
    expect(stats(conv.weight).maxAbs).toBeGreaterThan(0.9 * bound);
  });
});

class RunningMean extends Module {
  count = 0;
  mean: Tensor;
  constructor(features: number) {
    super();
    this.mean = buffer(zeros([features], { dtype: 'float64' }));
  }
  forward(x: Tensor): Tensor {
    this.count += 1;
    const batchMean = noGrad(() => this.mean.add(x.mean(0).sub(this.mean).div(this.count)));
    noGrad(() => assignInPlace(this.mean, batchMean));
    return x.sub(this.mean);
  }
}

describe('stateful layers: buffers, registerBuffer, registerParameter', () => {
  it('buffer() detaches a tensor with history; registerBuffer/registerParameter take computed names', () => {
    const w = ones([2], { dtype: 'float64', requiresGrad: true });
    const stored = buffer(w.mul(2));
    expect(stored.isLeaf).toBe(true);
    expect(stored.requiresGrad).toBe(false);
    expect(isBuffer(stored)).toBe(true);
    const m = new RunningMean(2);
    for (const [i, name] of ['scaleA', 'scaleB'].entries()) m.registerParameter(name, ones([2], { dtype: 'float64' }).mul(i + 1).detach());
    m.registerBuffer('total', w.mul(3));
    expect(m.namedParameters().map(([n]) => n)).toEqual(['scaleA', 'scaleB']);
    expect(m.namedBuffers().map(([n]) => n)).toEqual(['mean', 'total']);
    expect(Object.keys(m.stateDict())).toEqual(['scaleA', 'scaleB', 'mean', 'total']);
    expect(() => m.registerBuffer('forward', zeros([1]))).toThrow("registerBuffer: RunningMean already has a member named 'forward' that is not a tensor");
    expect(() => m.registerParameter('a.b', zeros([1]))).toThrow("registerParameter: name must be a non-empty string without '.'");
  });
  it('a running statistic updated with assignInPlace keeps its identity and value semantics', () => {
    const m = new RunningMean(2);
    const before = m.mean;
    const saved = m.mean.clone();
    m.forward(tensor([[1, 2], [3, 4]], { dtype: 'float64' }));
    m.forward(tensor([[5, 6], [7, 8]], { dtype: 'float64' }));
    expect(m.mean).toBe(before);
    expect(m.mean.toArray()).toEqual([4, 5]);
    expect(saved.toArray()).toEqual([0, 0]);
  });
});

describe('forward hooks', () => {
  it('run on every forward call (also inside a parent), may replace inputs and output, and remove()', () => {
    const relu = new ReLU();
    const model = new Sequential(new Linear(2, 2, { dtype: 'float64' }), relu);
    const calls: string[] = [];
    const pre = relu.registerForwardPreHook((_m, [x]) => {
      calls.push('pre');
      return x!.mul(-1);
    });
    const post = relu.registerForwardHook((_m, _inputs, y) => {
      calls.push('post');
      return y.add(10);
    });
    const x = tensor([[1, -1]], { dtype: 'float64' });
    const h = (model.at(0) as Linear).forward(x);
    const y = model.forward(x);
    expect(calls).toEqual(['pre', 'post']);
    expect(y.toArray()).toEqual(noGrad(() => h.mul(-1).relu().add(10)).toArray());
    relu.forward(x);
    expect(calls.length).toBe(4);
    pre.remove();
    post.remove();
    post.remove();
    expect(relu.forward(x).toArray()).toEqual([[1, 0]]);
    expect(calls.length).toBe(4);
    expect(Object.keys(relu)).not.toContain('forward');
  });
  it('is an Error when forward was replaced by a class field (hooks could never run)', () => {
    class FieldForward extends Module {
      override forward = (x: Tensor): Tensor => x;
    }
    expect(() => new FieldForward().registerForwardHook(() => undefined)).toThrow('registerForwardHook: FieldForward.forward was replaced after construction');
  });
});

describe('summary', () => {
  it('lists each layer with its output shape and parameter count, without changing running statistics', () => {
    const model = new Sequential(new Conv2d(1, 4, 3, { padding: 1 }), new BatchNorm2d(4), new ReLU(), new Flatten(), new Linear(4 * 5 * 5, 3));
    const bn = model.at(1) as BatchNorm2d;
    const text = summary(model, [2, 1, 5, 5]);
    expect(text).toContain('0 (Conv2d)');
    expect(text).toMatch(/0 \(Conv2d\)\s+\[2, 4, 5, 5\]\s+40/);
    expect(text).toMatch(/1 \(BatchNorm2d\)\s+\[2, 4, 5, 5\]\s+8/);
    expect(text).toMatch(/3 \(Flatten\)\s+\[2, 100\]\s+0/);
    expect(text).toMatch(/4 \(Linear\)\s+\[2, 3\]\s+303/);
    expect(text).toContain('Total params: 351');
    expect(bn.numBatchesTracked).toBe(0);
    expect(model.training).toBe(true);
    expect(() => summary(model, [2, 1] as never)).toThrow();
  });
});
