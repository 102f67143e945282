/**
 * The public API contract of @normgrad/nn, item by item as /work/shared/API.md lists it: Module's
 * members, every layer's constructor arguments, options and defaults, the norm layers' public
 * fields and stateDict keys (named exactly so), and every functional op with its options, with
 * PyTorch's semantics (momentum convention, momentum null = cumulative average, running variance
 * updated with the unbiased batch variance, normalization with the biased one).
 */
import { Tensor, grad, manualSeed, ones, randn, tensor, zeros, type NestedArray } from '@normgrad/core';
import { describe, expect, it } from 'vitest';
import * as nn from '../src/index.js';
import {
  AvgPool2d,
  BatchNorm1d,
  BatchNorm2d,
  Conv2d,
  Dropout,
  Flatten,
  GroupNorm,
  InstanceNorm1d,
  InstanceNorm2d,
  LayerNorm,
  Linear,
  MaxPool2d,
  Module,
  ReLU,
  Sequential,
  avgPool2d,
  batchNorm,
  conv2d,
  crossEntropy,
  dropout,
  groupNorm,
  instanceNorm,
  layerNorm,
  linear,
  logSoftmax,
  maxPool2d,
  mseLoss,
  relu,
  softmax,
} from '../src/index.js';

const f64 = (data: NestedArray, requiresGrad = false): Tensor => tensor(data, { dtype: 'float64', requiresGrad });

function expectClose(actual: Tensor | number, expected: NestedArray, digits = 5): void {
  const values = typeof actual === 'number' ? [actual] : Array.from(actual.toFloat64Array());
  const wanted = [expected].flat(Infinity as 1) as number[];
  expect(values.length).toBe(wanted.length);
  wanted.forEach((value, index) => expect(values[index]).toBeCloseTo(value, digits));
}

describe('every listed name is exported', () => {
  const exported = nn as unknown as Record<string, unknown>;
  const layers = [
    'Module', 'Linear', 'Conv2d', 'MaxPool2d', 'AvgPool2d', 'ReLU', 'Dropout', 'Flatten', 'Sequential',
    'BatchNorm1d', 'BatchNorm2d', 'LayerNorm', 'InstanceNorm1d', 'InstanceNorm2d', 'GroupNorm',
  ];
  const functions = [
    'batchNorm', 'layerNorm', 'instanceNorm', 'groupNorm', 'linear', 'conv2d', 'maxPool2d', 'avgPool2d',
    'dropout', 'relu', 'softmax', 'logSoftmax', 'mseLoss', 'crossEntropy',
  ];
  it.each(layers)('class %s', (name) => expect(typeof exported[name]).toBe('function'));
  it.each(functions)('function %s, also under functional', (name) => {
    expect(typeof exported[name]).toBe('function');
    expect(typeof (nn.functional as unknown as Record<string, unknown>)[name]).toBe('function');
  });
});

/** A user-defined module: fields are discovered, nothing is registered by hand. */
class TwoLayer extends Module {
  first = new Linear(3, 4, { dtype: 'float64' });
  norm = new BatchNorm1d(4, { dtype: 'float64' });
  second = new Linear(4, 2, { bias: false, dtype: 'float64' });

  forward(x: Tensor): Tensor {
    return this.second.forward(this.norm.forward(this.first.forward(x)).relu());
  }
}

describe('Module', () => {
  it('training, forward, parameters, namedParameters, buffers, namedBuffers', () => {
    const model = new TwoLayer();
    expect(model.training).toBe(true);
    expect(model.forward(randn([5, 3], { dtype: 'float64', seed: 1 })).shape).toEqual([5, 2]);
    expect(model.namedParameters().map(([name]) => name)).toEqual(['first.weight', 'first.bias', 'norm.weight', 'norm.bias', 'second.weight']);
    expect(model.parameters()).toHaveLength(5);
    expect(model.parameters().every((p) => p instanceof Tensor && p.requiresGrad)).toBe(true);
    expect(model.namedBuffers().map(([name]) => name)).toEqual(['norm.runningMean', 'norm.runningVar']);
    expect(model.buffers()).toHaveLength(2);
    expect(model.buffers().every((b) => !b.requiresGrad)).toBe(true);
  });

  it('train(mode = true) and eval() set training on every descendant and return this', () => {
    const model = new TwoLayer();
    expect(model.eval()).toBe(model);
    expect(model.training).toBe(false);
    expect(model.norm.training).toBe(false);
    expect(model.train()).toBe(model);
    expect(model.norm.training).toBe(true);
    expect(model.train(false)).toBe(model);
    expect(model.first.training).toBe(false);
  });

  it('zeroGrad() clears every parameter gradient', () => {
    const model = new TwoLayer();
    model.forward(randn([5, 3], { dtype: 'float64', seed: 2 })).sum().backward();
    expect(model.parameters().every((p) => p.grad !== null)).toBe(true);
    model.zeroGrad();
    expect(model.parameters().every((p) => p.grad === null)).toBe(true);
  });

  it('stateDict() holds parameters, buffers and numBatchesTracked by dotted name, as detached copies', () => {
    const model = new TwoLayer();
    model.forward(randn([5, 3], { dtype: 'float64', seed: 3 }));
    const state = model.stateDict();
    expect(Object.keys(state).sort()).toEqual(
      ['first.bias', 'first.weight', 'norm.bias', 'norm.numBatchesTracked', 'norm.runningMean', 'norm.runningVar', 'norm.weight', 'second.weight'].sort(),
    );
    expect(state['norm.numBatchesTracked']!.item()).toBe(1);
    expect(state['first.weight']!.requiresGrad).toBe(false);
    expect(state['first.weight']!.toArray()).toEqual(model.first.weight.toArray());
    expect(state['first.weight']).not.toBe(model.first.weight);
  });

  it('loadStateDict(sd, { strict = true }) copies values in place; strict rejects missing and unexpected keys', () => {
    const source = new TwoLayer();
    source.forward(randn([5, 3], { dtype: 'float64', seed: 4 }));
    const target = new TwoLayer();
    const weight = target.first.weight;
    target.loadStateDict(source.stateDict());
    expect(target.first.weight).toBe(weight); // same tensor, new values
    expect(target.first.weight.toArray()).toEqual(source.first.weight.toArray());
    expect(target.norm.runningMean!.toArray()).toEqual(source.norm.runningMean!.toArray());
    expect(target.norm.numBatchesTracked).toBe(1);

    const partial = source.stateDict();
    delete partial['second.weight'];
    partial['extra'] = zeros([1]);
    expect(() => target.loadStateDict(partial)).toThrow(/loadStateDict: [\s\S]*Missing key\(s\).*"second\.weight"[\s\S]*Unexpected key\(s\).*"extra"/);
    expect(() => target.loadStateDict(partial, { strict: true })).toThrow(/Missing key/);
    expect(() => target.loadStateDict(partial, { strict: false })).not.toThrow();
    const badShape = source.stateDict();
    badShape['first.bias'] = zeros([7], { dtype: 'float64' });
    expect(() => target.loadStateDict(badShape, { strict: false })).toThrow(/size mismatch for first\.bias.*\[7\].*\[4\]/);
  });
});

describe('Linear(inFeatures, outFeatures, { bias = true, dtype })', () => {
  it('weight (out, in), bias (out) by default, y = x Wᵀ + b', () => {
    const layer = new Linear(3, 2);
    expect(layer.weight.shape).toEqual([2, 3]);
    expect(layer.bias!.shape).toEqual([2]);
    expect(layer.weight.dtype).toBe('float32');
    expect(layer.weight.requiresGrad).toBe(true);
    // PyTorch's default initialization bound 1/sqrt(inFeatures)
    expect(layer.weight.toFloat64Array().every((w) => Math.abs(w) <= 1 / Math.sqrt(3))).toBe(true);
    const x = randn([4, 3], { seed: 5 });
    const expected = x.matmul(layer.weight.transpose()).add(layer.bias!);
    expectClose(layer.forward(x), expected.toArray());
    expect(Object.keys(layer.stateDict()).sort()).toEqual(['bias', 'weight']);
  });

  it('bias: false and dtype', () => {
    const layer = new Linear(3, 2, { bias: false, dtype: 'float64' });
    expect(layer.bias).toBeNull();
    expect(layer.weight.dtype).toBe('float64');
    expect(layer.parameters()).toHaveLength(1);
    expect(Object.keys(layer.stateDict())).toEqual(['weight']);
  });
});

describe('Conv2d(inChannels, outChannels, kernelSize, { stride = 1, padding = 0, bias = true, dtype })', () => {
  it('defaults: stride 1, padding 0, bias, float32', () => {
    const conv = new Conv2d(2, 3, 3);
    expect(conv.weight.shape).toEqual([3, 2, 3, 3]);
    expect(conv.bias!.shape).toEqual([3]);
    expect(conv.weight.dtype).toBe('float32');
    expect(conv.forward(zeros([1, 2, 5, 5])).shape).toEqual([1, 3, 3, 3]);
  });

  it('stride, padding, bias: false, dtype, and a [kh, kw] kernel', () => {
    const conv = new Conv2d(1, 1, [2, 3], { stride: 2, padding: 1, bias: false, dtype: 'float64' });
    expect(conv.weight.shape).toEqual([1, 1, 2, 3]);
    expect(conv.bias).toBeNull();
    expect(conv.weight.dtype).toBe('float64');
    // H: (5 + 2 - 2) / 2 + 1 = 3, W: (6 + 2 - 3) / 2 + 1 = 3
    expect(conv.forward(zeros([2, 1, 5, 6], { dtype: 'float64' })).shape).toEqual([2, 1, 3, 3]);
  });

  it('is a cross-correlation (as torch.nn.functional.conv2d)', () => {
    const x = f64([[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]]);
    const w = f64([[[[1, 0], [0, -1]]]]);
    expectClose(conv2d(x, w), [[[[1 - 5, 2 - 6], [4 - 8, 5 - 9]]]]);
    expectClose(conv2d(x, w, f64([10])), [[[[6, 6], [6, 6]]]]);
    expect(conv2d(x, w, null, { stride: 2, padding: 1 }).shape).toEqual([1, 1, 2, 2]);
  });
});

describe('MaxPool2d(kernel, { stride }), AvgPool2d, ReLU, Dropout(p), Flatten, Sequential(...modules)', () => {
  const x = f64([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]]);

  it('pooling: stride defaults to the kernel size; { stride } overrides it', () => {
    expectClose(new MaxPool2d(2).forward(x), [[[[6, 8], [14, 16]]]]);
    expectClose(new AvgPool2d(2).forward(x), [[[[3.5, 5.5], [11.5, 13.5]]]]);
    expectClose(new MaxPool2d(2, { stride: 1 }).forward(x).slice(0, 0, 0), [6, 7, 8]);
    expect(new AvgPool2d(3, { stride: 1 }).forward(x).shape).toEqual([1, 1, 2, 2]);
    expectClose(maxPool2d(x, 2), [[[[6, 8], [14, 16]]]]);
    expectClose(avgPool2d(x, [2, 2], { stride: 2 }), [[[[3.5, 5.5], [11.5, 13.5]]]]);
  });

  it('ReLU and relu', () => {
    expectClose(new ReLU().forward(f64([-1, 0, 2])), [0, 0, 2]);
    expectClose(relu(f64([-1, 0, 2])), [0, 0, 2]);
  });

  it('Dropout(p): zeroes with probability p and scales by 1 / (1 − p) in training; identity in eval; p defaults to 0.5', () => {
    expect(new Dropout().p).toBe(0.5);
    const layer = new Dropout(0.25);
    const input = ones([4000], { dtype: 'float64' });
    const out = layer.forward(input).toFloat64Array();
    expect(out.every((value) => value === 0 || Math.abs(value - 1 / 0.75) < 1e-12)).toBe(true);
    const dropped = out.filter((value) => value === 0).length / out.length;
    expect(Math.abs(dropped - 0.25)).toBeLessThan(0.05);
    layer.eval();
    expect(layer.forward(input)).toBe(input);
    expect(dropout(input, 0.5, { training: false })).toBe(input);
    expect(dropout(input, 0.5, { seed: 3 }).toArray()).toEqual(dropout(input, 0.5, { seed: 3 }).toArray());
  });

  it('Flatten keeps the batch axis', () => {
    expect(new Flatten().forward(zeros([2, 3, 4])).shape).toEqual([2, 12]);
  });

  it('Sequential applies its modules in order and names their parameters 0.*, 1.*, ...', () => {
    manualSeed(0);
    const model = new Sequential(new Linear(4, 3), new ReLU(), new Linear(3, 2));
    expect(model.forward(zeros([5, 4])).shape).toEqual([5, 2]);
    expect(model.namedParameters().map(([name]) => name)).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
  });
});

describe('norm layers: defaults, public fields, stateDict keys', () => {
  it('BatchNorm1d/2d(numFeatures, { eps = 1e-5, momentum = 0.1, affine = true, trackRunningStats = true, dtype })', () => {
    for (const Layer of [BatchNorm1d, BatchNorm2d]) {
      const bn = new Layer(3);
      expect(bn.eps).toBe(1e-5);
      expect(bn.momentum).toBe(0.1);
      expect(bn.affine).toBe(true);
      expect(bn.trackRunningStats).toBe(true);
      expect(bn.weight!.toArray()).toEqual([1, 1, 1]);
      expect(bn.bias!.toArray()).toEqual([0, 0, 0]);
      expect(bn.runningMean!.toArray()).toEqual([0, 0, 0]);
      expect(bn.runningVar!.toArray()).toEqual([1, 1, 1]);
      expect(bn.numBatchesTracked).toBe(0);
      expect(bn.weight!.dtype).toBe('float32');
      expect(Object.keys(bn.stateDict()).sort()).toEqual(['bias', 'numBatchesTracked', 'runningMean', 'runningVar', 'weight']);

      const bare = new Layer(3, { eps: 1e-3, momentum: null, affine: false, trackRunningStats: false, dtype: 'float64' });
      expect(bare.eps).toBe(1e-3);
      expect(bare.momentum).toBeNull();
      expect(bare.weight).toBeNull();
      expect(bare.bias).toBeNull();
      expect(bare.runningMean).toBeNull();
      expect(bare.runningVar).toBeNull();
      expect(bare.parameters()).toHaveLength(0);
      expect(Object.keys(bare.stateDict())).toEqual([]);
      expect(new Layer(2, { dtype: 'float64' }).runningVar!.dtype).toBe('float64');
    }
  });

  it('LayerNorm(normalizedShape: number | number[], { eps = 1e-5, elementwiseAffine = true, bias = true, dtype })', () => {
    const ln = new LayerNorm(4);
    expect(ln.normalizedShape).toEqual([4]);
    expect(ln.eps).toBe(1e-5);
    expect(ln.elementwiseAffine).toBe(true);
    expect(ln.weight!.toArray()).toEqual([1, 1, 1, 1]);
    expect(ln.bias!.toArray()).toEqual([0, 0, 0, 0]);
    expect(ln.weight!.dtype).toBe('float32');
    expect(Object.keys(ln.stateDict()).sort()).toEqual(['bias', 'weight']);
    const ln2 = new LayerNorm([2, 3], { eps: 1e-3, dtype: 'float64' });
    expect(ln2.weight!.shape).toEqual([2, 3]);
    expect(ln2.weight!.dtype).toBe('float64');
    expect(ln2.eps).toBe(1e-3);
    const noBias = new LayerNorm(4, { bias: false });
    expect(noBias.weight).not.toBeNull();
    expect(noBias.bias).toBeNull();
    expect(Object.keys(noBias.stateDict())).toEqual(['weight']);
    const plain = new LayerNorm(4, { elementwiseAffine: false });
    expect(plain.weight).toBeNull();
    expect(plain.bias).toBeNull();
    expect(plain.parameters()).toHaveLength(0);
  });

  it('InstanceNorm1d/2d(numFeatures, { eps = 1e-5, momentum = 0.1, affine = false, trackRunningStats = false, dtype })', () => {
    for (const Layer of [InstanceNorm1d, InstanceNorm2d]) {
      const inorm = new Layer(3);
      expect(inorm.eps).toBe(1e-5);
      expect(inorm.momentum).toBe(0.1);
      expect(inorm.affine).toBe(false);
      expect(inorm.trackRunningStats).toBe(false);
      expect(inorm.weight).toBeNull();
      expect(inorm.bias).toBeNull();
      expect(inorm.runningMean).toBeNull();
      expect(inorm.runningVar).toBeNull();
      expect(inorm.numBatchesTracked).toBe(0);
      expect(Object.keys(inorm.stateDict())).toEqual([]);
      const full = new Layer(3, { affine: true, trackRunningStats: true, momentum: 0.2, eps: 1e-3, dtype: 'float64' });
      expect(full.weight!.toArray()).toEqual([1, 1, 1]);
      expect(full.bias!.toArray()).toEqual([0, 0, 0]);
      expect(full.runningMean!.toArray()).toEqual([0, 0, 0]);
      expect(full.runningVar!.toArray()).toEqual([1, 1, 1]);
      expect(full.runningVar!.dtype).toBe('float64');
      expect(Object.keys(full.stateDict()).sort()).toEqual(['bias', 'numBatchesTracked', 'runningMean', 'runningVar', 'weight']);
    }
  });

  it('GroupNorm(numGroups, numChannels, { eps = 1e-5, affine = true, dtype }); channels must divide', () => {
    const gn = new GroupNorm(2, 4);
    expect(gn.numGroups).toBe(2);
    expect(gn.numChannels).toBe(4);
    expect(gn.eps).toBe(1e-5);
    expect(gn.affine).toBe(true);
    expect(gn.weight!.toArray()).toEqual([1, 1, 1, 1]);
    expect(gn.bias!.toArray()).toEqual([0, 0, 0, 0]);
    expect(gn.weight!.dtype).toBe('float32');
    expect(Object.keys(gn.stateDict()).sort()).toEqual(['bias', 'weight']);
    const bare = new GroupNorm(1, 3, { affine: false, eps: 1e-3, dtype: 'float64' });
    expect(bare.weight).toBeNull();
    expect(bare.bias).toBeNull();
    expect(bare.eps).toBe(1e-3);
    expect(() => new GroupNorm(3, 4)).toThrow(/GroupNorm: .*4.*3/);
  });
});

describe('BatchNorm semantics (PyTorch)', () => {
  // one channel, values 1, 3, 5, 7: mean 4, biased variance 5, unbiased variance 20/3
  const x = f64([[1], [3], [5], [7]]);

  it('training normalizes with the biased batch variance and updates running stats with momentum and the unbiased one', () => {
    const bn = new BatchNorm1d(1, { dtype: 'float64' });
    const y = bn.forward(x);
    expectClose(y, [-3, -1, 1, 3].map((d) => d / Math.sqrt(5 + 1e-5)));
    expectClose(bn.runningMean!, [0.9 * 0 + 0.1 * 4]);
    expectClose(bn.runningVar!, [0.9 * 1 + 0.1 * (20 / 3)]);
    expect(bn.numBatchesTracked).toBe(1);
  });

  it('eval normalizes with the running statistics and leaves them unchanged', () => {
    const bn = new BatchNorm1d(1, { dtype: 'float64' }).eval();
    expectClose(bn.forward(x), [1, 3, 5, 7].map((v) => v / Math.sqrt(1 + 1e-5)));
    expect(bn.runningMean!.toArray()).toEqual([0]);
    expect(bn.numBatchesTracked).toBe(0);
  });

  it('without tracked running statistics, batch statistics normalize in eval too', () => {
    const bn = new BatchNorm1d(1, { trackRunningStats: false, dtype: 'float64' }).eval();
    expectClose(bn.forward(x), [-3, -1, 1, 3].map((d) => d / Math.sqrt(5 + 1e-5)));
  });

  it('gradients flow to weight and bias (parameters) but not into the running statistics', () => {
    const bn = new BatchNorm1d(1, { dtype: 'float64' });
    bn.forward(x).mul(f64([[1], [2], [3], [4]])).sum().backward();
    expectClose(bn.bias!.grad!, [10]);
    expectClose(bn.weight!.grad!, [[-3, -1, 1, 3].reduce((acc, d, i) => acc + (d / Math.sqrt(5 + 1e-5)) * (i + 1), 0)]);
    expect(bn.runningMean!.requiresGrad).toBe(false);
    expect(bn.runningMean!.grad).toBeNull();
  });

  it('momentum null is the cumulative average of the batch statistics', () => {
    const bn = new BatchNorm1d(1, { momentum: null, dtype: 'float64' });
    bn.forward(x);
    expectClose(bn.runningMean!, [4]);
    expectClose(bn.runningVar!, [20 / 3]);
    bn.forward(f64([[0], [2]])); // mean 1, unbiased variance 2
    expectClose(bn.runningMean!, [(4 + 1) / 2]);
    expectClose(bn.runningVar!, [(20 / 3 + 2) / 2]);
    expect(bn.numBatchesTracked).toBe(2);
  });

  it('training on one value per channel is an error', () => {
    expect(() => new BatchNorm1d(2).forward(zeros([1, 2]))).toThrow(/BatchNorm1d: Expected more than 1 value per channel when training/);
    expect(() => new BatchNorm2d(2).forward(zeros([1, 2, 1, 1]))).toThrow(/BatchNorm2d: Expected more than 1 value per channel/);
    expect(() => new BatchNorm1d(2).eval().forward(zeros([1, 2]))).not.toThrow();
  });

  it('BatchNorm1d takes (N, C) or (N, C, L); BatchNorm2d takes (N, C, H, W)', () => {
    expect(new BatchNorm1d(3).forward(randn([4, 3], { seed: 1 })).shape).toEqual([4, 3]);
    expect(new BatchNorm1d(3).forward(randn([4, 3, 5], { seed: 1 })).shape).toEqual([4, 3, 5]);
    expect(new BatchNorm2d(3).forward(randn([2, 3, 2, 2], { seed: 1 })).shape).toEqual([2, 3, 2, 2]);
    expect(() => new BatchNorm2d(3).forward(zeros([4, 3]))).toThrow(/BatchNorm2d: expected 4D/);
    expect(() => new BatchNorm1d(3).forward(zeros([4, 2]))).toThrow(/BatchNorm1d: expected 3 channels.*\[4, 2\]/);
  });
});

describe('functional norms', () => {
  it('batchNorm(x, runningMean, runningVar, { weight, bias, training, momentum, eps })', () => {
    const x = f64([[1, 10], [3, 30]]);
    const runningMean = zeros([2], { dtype: 'float64' });
    const runningVar = ones([2], { dtype: 'float64' });
    // training defaults to false: the running statistics normalize
    expectClose(batchNorm(x, runningMean, runningVar), [[1, 10], [3, 30]].map((row) => row.map((v) => v / Math.sqrt(1 + 1e-5))));
    const y = batchNorm(x, runningMean, runningVar, { weight: f64([2, 1]), bias: f64([0, 5]), training: true, momentum: 0.5, eps: 0 });
    expectClose(y, [[-2, 4], [2, 6]]);
    expectClose(runningMean, [1, 10]); // 0.5·0 + 0.5·mean
    expectClose(runningVar, [0.5 + 0.5 * 2, 0.5 + 0.5 * 200]); // unbiased: 2 and 200
    // training without running statistics
    expectClose(batchNorm(x, null, null, { training: true, eps: 0 }), [[-1, -1], [1, 1]]);
  });

  it('layerNorm(x, normalizedShape, { weight, bias, eps })', () => {
    const x = f64([[1, 3], [2, 6]]);
    expectClose(layerNorm(x, 2, { eps: 0 }), [[-1, 1], [-1, 1]]);
    expectClose(layerNorm(x, [2], { weight: f64([2, 3]), bias: f64([1, 1]), eps: 0 }), [[-1, 4], [-1, 4]]);
    expectClose(layerNorm(x, [2, 2], { eps: 0 }), [[1, 3], [2, 6]].map((row) => row.map((v) => (v - 3) / Math.sqrt(3.5))));
    const ln = new LayerNorm(2, { dtype: 'float64' });
    expectClose(ln.forward(x), layerNorm(x, [2], { eps: 1e-5 }).toArray());
  });

  it('instanceNorm(x, { runningMean, runningVar, weight, bias, useInputStats, momentum, eps })', () => {
    const x = f64([[[1, 3]], [[2, 6]]]); // (N = 2, C = 1, L = 2)
    expectClose(instanceNorm(x, { eps: 0 }), [[[-1, 1]], [[-1, 1]]]);
    const runningMean = zeros([1], { dtype: 'float64' });
    const runningVar = ones([1], { dtype: 'float64' });
    instanceNorm(x, { runningMean, runningVar, weight: f64([1]), bias: f64([0]), momentum: 0.5, eps: 0 });
    // per-instance means 2 and 4, unbiased variances 2 and 8, averaged over the batch
    expectClose(runningMean, [0.5 * 3]);
    expectClose(runningVar, [0.5 + 0.5 * 5]);
    const y = instanceNorm(x, { runningMean, runningVar, useInputStats: false, eps: 0 });
    expectClose(y, [[[1, 3]], [[2, 6]]].map((n) => n.map((c) => c.map((v) => (v - 1.5) / Math.sqrt(3)))));
  });

  it('InstanceNorm2d normalizes each (sample, channel) plane; tracked running stats normalize in eval', () => {
    const x = randn([2, 3, 4, 4], { dtype: 'float64', seed: 9 });
    const y = new InstanceNorm2d(3, { dtype: 'float64' }).forward(x);
    expectClose(y.mean([2, 3]), new Array(6).fill(0));
    const tracked = new InstanceNorm2d(3, { trackRunningStats: true, dtype: 'float64' });
    tracked.forward(x);
    expect(tracked.runningMean!.toArray()).not.toEqual([0, 0, 0]);
    tracked.eval();
    const evaluated = tracked.forward(x);
    const expected = x.sub(tracked.runningMean!.reshape([1, 3, 1, 1])).div(tracked.runningVar!.add(1e-5).sqrt().reshape([1, 3, 1, 1]));
    expectClose(evaluated, expected.toArray());
  });

  it('groupNorm(x, numGroups, { weight, bias, eps })', () => {
    const x = f64([[1, 3, 10, 30]]); // (N = 1, C = 4), two groups of two channels
    expectClose(groupNorm(x, 2, { eps: 0 }), [[-1, 1, -1, 1]]);
    expectClose(groupNorm(x, 2, { weight: f64([1, 2, 3, 4]), bias: f64([0, 0, 1, 1]), eps: 0 }), [[-1, 2, -2, 5]]);
    expectClose(new GroupNorm(2, 4, { dtype: 'float64' }).forward(x), groupNorm(x, 2).toArray());
    expect(() => groupNorm(x, 3)).toThrow(/groupNorm: .*4 channels.*numGroups = 3/);
  });
});

describe('functional ops', () => {
  it('linear(x, weight, bias?)', () => {
    const x = f64([[1, 2]]);
    const w = f64([[1, 0], [0, 1], [1, 1]]);
    expectClose(linear(x, w), [[1, 2, 3]]);
    expectClose(linear(x, w, f64([1, 1, 1])), [[2, 3, 4]]);
  });

  it('softmax(x, axis) and logSoftmax(x, axis)', () => {
    const x = f64([[0, Math.log(3)]]);
    expectClose(softmax(x, 1), [[0.25, 0.75]]);
    expectClose(softmax(x, -1), [[0.25, 0.75]]);
    expectClose(logSoftmax(x, 1), [[Math.log(0.25), Math.log(0.75)]]);
    expectClose(softmax(x, 0), [[1, 1]]);
  });

  it('mseLoss(input, target, { reduction })', () => {
    const input = f64([1, 2, 3]);
    const target = f64([1, 4, 0]);
    expectClose(mseLoss(input, target), [13 / 3]);
    expectClose(mseLoss(input, target, { reduction: 'sum' }), [13]);
    expectClose(mseLoss(input, target, { reduction: 'none' }), [0, 4, 9]);
  });

  it("crossEntropy(logits (N, C), target: Tensor | Int32Array | number[], { reduction = 'mean' })", () => {
    const logits = f64([[0, Math.log(3)], [Math.log(2), Math.log(2)]]);
    const expected = [-Math.log(0.75), -Math.log(0.5)];
    for (const target of [[1, 0], new Int32Array([1, 0]), tensor([1, 0])]) {
      expectClose(crossEntropy(logits, target), [(expected[0]! + expected[1]!) / 2]);
      expectClose(crossEntropy(logits, target, { reduction: 'mean' }), [(expected[0]! + expected[1]!) / 2]);
      expectClose(crossEntropy(logits, target, { reduction: 'sum' }), [expected[0]! + expected[1]!]);
      expectClose(crossEntropy(logits, target, { reduction: 'none' }), expected);
    }
    // gradient: softmax − one-hot, divided by N for the mean
    expectClose(grad((l: Tensor) => crossEntropy(l, [1, 0]))(logits), [[0.25 / 2, -0.25 / 2], [-0.5 / 2, 0.5 / 2]]);
    expect(() => crossEntropy(logits, [2, 0])).toThrow(/crossEntropy: target\[0\] = 2/);
  });
});
