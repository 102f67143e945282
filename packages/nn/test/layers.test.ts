import { gradcheck, gradgradcheck, manualSeed, tensor, zeros, type Tensor } from '@normgrad/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
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
  softmax,
} from '../src/index.js';
import { seededTensor } from './helpers.js';

const x64 = (shape: number[], seed = 1) => seededTensor(shape, seed, { scale: 2 });

describe('norm layers validate their input with errors naming the layer and the shapes', () => {
  it('BatchNorm in training throws PyTorch\'s error for one value per channel', () => {
    expect(() => new BatchNorm1d(3).forward(zeros([1, 3]))).toThrow('BatchNorm1d: Expected more than 1 value per channel when training, got input size [1, 3]');
    expect(() => new BatchNorm2d(2).forward(zeros([1, 2, 1, 1]))).toThrow('Expected more than 1 value per channel when training, got input size [1, 2, 1, 1]');
    expect(() => batchNorm(zeros([1, 3]), null, null, { training: true })).toThrow('batchNorm: Expected more than 1 value per channel when training, got input size [1, 3]');
    // eval mode with running statistics normalizes a single sample
    expect(new BatchNorm1d(3).eval().forward(zeros([1, 3])).shape).toEqual([1, 3]);
    // without running statistics eval uses batch statistics, so it throws too (as PyTorch)
    expect(() => new BatchNorm1d(3, { trackRunningStats: false }).eval().forward(zeros([1, 3]))).toThrow('Expected more than 1 value per channel');
    // the failed call did not count as a tracked batch
    const bn = new BatchNorm1d(3);
    expect(() => bn.forward(zeros([1, 3]))).toThrow();
    expect(bn.numBatchesTracked).toBe(0);
  });

  it('wrong rank or channel count', () => {
    expect(() => new BatchNorm1d(3).forward(zeros([2, 3, 4, 5]))).toThrow('BatchNorm1d: expected 2D (N, C) or 3D (N, C, L) input (got 4D input of shape [2, 3, 4, 5])');
    expect(() => new BatchNorm2d(3).forward(zeros([2, 3, 4]))).toThrow('BatchNorm2d: expected 4D (N, C, H, W) input (got 3D input of shape [2, 3, 4])');
    expect(() => new BatchNorm1d(3).forward(zeros([2, 4]))).toThrow('BatchNorm1d: expected 3 channels (numFeatures) on axis 1, got input of shape [2, 4]');
    expect(() => new InstanceNorm1d(3).forward(zeros([2, 3, 4, 5]))).toThrow('InstanceNorm1d: expected 2D (C, L) or 3D (N, C, L) input (got 4D input of shape [2, 3, 4, 5])');
    expect(() => new InstanceNorm2d(3).forward(zeros([2, 4, 2, 2]))).toThrow('InstanceNorm2d: expected 3 channels (numFeatures) on the channel axis, got input of shape [2, 4, 2, 2]');
    expect(() => new GroupNorm(2, 4).forward(zeros([2, 6, 3]))).toThrow('GroupNorm: expected input of shape (N, 4, *), got [2, 6, 3]');
    expect(() => new GroupNorm(2, 4).forward(zeros([4]))).toThrow('GroupNorm: expected input of shape (N, 4, *), got [4]');
  });

  it('InstanceNorm needs more than one spatial element to use instance statistics', () => {
    expect(() => new InstanceNorm1d(2).forward(zeros([3, 2, 1]))).toThrow('InstanceNorm1d: Expected more than 1 spatial element when training, got input size [3, 2, 1]');
    expect(() => instanceNorm(zeros([3, 2, 1]))).toThrow('instanceNorm: Expected more than 1 spatial element');
  });

  it('LayerNorm checks the trailing shape', () => {
    expect(() => new LayerNorm([3, 4]).forward(zeros([2, 4, 3]))).toThrow(
      'LayerNorm: input of shape [2, 4, 3] does not end with normalizedShape [3, 4] (expected input of shape [*, 3, 4])',
    );
    expect(() => layerNorm(zeros([4]), [2, 4])).toThrow('layerNorm: input of shape [4] does not end with normalizedShape [2, 4]');
    expect(() => layerNorm(zeros([2, 4]), [4], { weight: zeros([3]) })).toThrow('layerNorm: weight must have shape [4] (normalizedShape), got [3]');
  });

  it('GroupNorm channels must divide into groups', () => {
    expect(() => new GroupNorm(4, 6)).toThrow('GroupNorm: numChannels must be divisible by numGroups, got numChannels = 6, numGroups = 4');
    expect(() => groupNorm(zeros([2, 6]), 4)).toThrow('groupNorm: the 6 channels of input of shape [2, 6] must divide into numGroups = 4 groups');
    expect(() => groupNorm(zeros([1, 2]), 2)).toThrow('groupNorm: Expected more than 1 value per channel when training, got input size [1, 2]');
  });

  it('functional norms check parameter shapes and options', () => {
    expect(() => batchNorm(zeros([2, 3]), zeros([4]), zeros([4]))).toThrow('batchNorm: runningMean must have shape [3] for input of shape [2, 3], got [4]');
    expect(() => batchNorm(zeros([2, 3]), null, null)).toThrow('batchNorm: runningMean and runningVar must be given when training is false');
    expect(() => batchNorm(zeros([2, 3]), null, null, { training: true, eps: -1 })).toThrow('batchNorm: eps must be a finite number >= 0, got -1');
    expect(() => new BatchNorm1d(3, { momentum: 2 })).toThrow('BatchNorm1d: momentum must be in [0, 1] or null, got 2');
    expect(() => new InstanceNorm1d(0)).toThrow('InstanceNorm1d: numFeatures must be a positive integer, got 0');
  });
});

describe('BatchNorm running statistics', () => {
  it('momentum null is the cumulative average of the batch statistics', () => {
    const bn = new BatchNorm1d(2, { momentum: null, dtype: 'float64' });
    const batches = [0, 1, 2, 3].map((i) => seededTensor([5, 2], 30 + i, { scale: 2, offset: i }));
    for (const batch of batches) bn.forward(batch);
    const means = batches.map((b) => b.mean(0));
    const unbiasedVars = batches.map((b) => b.var(0, { correction: 1 }));
    const average = (ts: Tensor[]) => ts.reduce((a, b) => a.add(b)).div(ts.length).toFloat64Array();
    average(means).forEach((m, i) => expect(bn.runningMean!.toFloat64Array()[i]).toBeCloseTo(m, 12));
    average(unbiasedVars).forEach((v, i) => expect(bn.runningVar!.toFloat64Array()[i]).toBeCloseTo(v, 12));
    expect(bn.numBatchesTracked).toBe(4);
  });

  it('eval does not update running statistics; trackRunningStats false has none', () => {
    const bn = new BatchNorm2d(2, { dtype: 'float64' }).eval();
    bn.forward(seededTensor([2, 2, 2, 2], 5));
    expect(Array.from(bn.runningMean!.toFloat64Array())).toEqual([0, 0]);
    expect(bn.numBatchesTracked).toBe(0);
    const untracked = new BatchNorm2d(2, { trackRunningStats: false });
    expect([untracked.runningMean, untracked.runningVar]).toEqual([null, null]);
    expect(Object.keys(untracked.stateDict())).toEqual(['weight', 'bias']);
    expect(Object.keys(new BatchNorm2d(2).stateDict())).toEqual(['weight', 'bias', 'runningMean', 'runningVar', 'numBatchesTracked']);
    expect(Object.keys(new BatchNorm2d(2, { affine: false }).stateDict())).toEqual(['runningMean', 'runningVar', 'numBatchesTracked']);
  });

  it('gradients do not flow into running statistics', () => {
    const bn = new BatchNorm1d(3, { dtype: 'float64' });
    const x = seededTensor([4, 3], 8, { requiresGrad: true });
    bn.forward(x).sum().backward();
    expect(bn.runningMean!.requiresGrad).toBe(false);
    expect(bn.runningMean!.grad).toBeNull();
    expect(bn.runningMean!.isLeaf).toBe(true);
  });
});

describe('Linear, Conv2d and pooling', () => {
  it('Linear and Conv2d validate shapes', () => {
    expect(() => new Linear(3, 2).forward(zeros([4, 5]))).toThrow('Linear: input of shape [4, 5] must end with inFeatures = 3 (weight shape [2, 3])');
    expect(() => new Conv2d(3, 2, 3).forward(zeros([1, 2, 5, 5]))).toThrow(
      'Conv2d: expected input of shape (N, 3, H, W) or (3, H, W) for weight of shape [2, 3, 3, 3], got [1, 2, 5, 5]',
    );
    expect(() => conv2d(zeros([1, 1, 2, 2]), zeros([1, 1, 3, 3]))).toThrow('conv2d: kernel [3, 3] with padding [0, 0] is larger than the input plane [2, 2]');
    expect(() => maxPool2d(zeros([1, 1, 4, 4]), 2, { padding: 2 })).toThrow('maxPool2d: padding [2, 2] must be at most half the kernel [2, 2]');
    expect(() => new Conv2d(3, 2, 0)).toThrow('Conv2d: kernelSize must be an integer >= 1');
    expect(() => new MaxPool2d(3).forward(zeros([1, 1, 2, 2]))).toThrow('MaxPool2d: kernel [3, 3] with padding [0, 0] is larger than the input plane [2, 2]');
    expect(() => new Linear(3, 2).forward(zeros([4, 3], { dtype: 'float64' }))).toThrow(
      'Linear: weight has dtype float32 but the input has dtype float64 (shape [4, 3]); convert one with .to(dtype)',
    );
    expect(() => new BatchNorm1d(3).forward(zeros([4, 3], { dtype: 'float64' }))).toThrow('BatchNorm1d: weight has dtype float32 but the input has dtype float64');
  });

  it('Conv2d uses PyTorch init bounds and handles unbatched input', () => {
    manualSeed(3);
    const conv = new Conv2d(2, 4, [3, 2], { stride: 2, padding: 1 });
    const bound = 1 / Math.sqrt(2 * 3 * 2);
    expect(Math.max(...conv.weight.toFloat64Array().map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(conv.weight.shape).toEqual([4, 2, 3, 2]);
    expect(conv.forward(zeros([3, 2, 5, 6])).shape).toEqual([3, 4, 3, 4]);
    expect(conv.forward(zeros([2, 5, 6])).shape).toEqual([4, 3, 4]);
  });

  it('gradcheck and gradgradcheck of conv2d w.r.t. input, weight and bias (random configs)', () => {
    fc.assert(
      fc.property(
        fc.record({
          batch: fc.integer({ min: 1, max: 2 }),
          inChannels: fc.integer({ min: 1, max: 2 }),
          outChannels: fc.integer({ min: 1, max: 2 }),
          kernel: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
          stride: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
          padding: fc.tuple(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 1 })),
          seed: fc.integer({ min: 0, max: 1e6 }),
        }),
        (c) => {
          const x = x64([c.batch, c.inChannels, 4, 4], c.seed);
          const w = x64([c.outChannels, c.inChannels, ...c.kernel], c.seed + 1);
          const b = x64([c.outChannels], c.seed + 2);
          const fn = (xi: Tensor, wi: Tensor, bi: Tensor) => conv2d(xi, wi, bi, { stride: c.stride, padding: c.padding });
          expect(gradcheck(fn as (...t: Tensor[]) => Tensor, [x, w, b]).ok, JSON.stringify(c)).toBe(true);
          expect(gradgradcheck(fn as (...t: Tensor[]) => Tensor, [x, w, b]).ok, JSON.stringify(c)).toBe(true);
        },
      ),
      { numRuns: 8, seed: 31 },
    );
  });

  it('gradcheck and gradgradcheck of linear, pooling, softmax family and losses', () => {
    const checks: [string, (...t: Tensor[]) => Tensor, Tensor[]][] = [
      ['linear', (x, w, b) => linear(x!, w!, b!), [x64([3, 4]), x64([2, 4], 2), x64([2], 3)]],
      ['maxPool2d', (x) => maxPool2d(x!, 2, { stride: 1 }), [x64([1, 2, 3, 4])]],
      ['maxPool2d padded', (x) => maxPool2d(x!, 3, { stride: 2, padding: 1 }), [x64([1, 1, 4, 4])]],
      ['avgPool2d', (x) => avgPool2d(x!, [2, 3], { stride: [1, 2], padding: [1, 1] }), [x64([2, 1, 3, 5])]],
      ['softmax', (x) => softmax(x!, 0), [x64([3, 4])]],
      ['logSoftmax', (x) => logSoftmax(x!, -1), [x64([3, 4])]],
      ['crossEntropy mean', (x) => crossEntropy(x!, [1, 0, 3]), [x64([3, 4])]],
      ['crossEntropy none', (x) => crossEntropy(x!, tensor([2, 2]), { reduction: 'none' }), [x64([2, 3])]],
      ['mseLoss sum', (x, t) => mseLoss(x!, t!, { reduction: 'sum' }), [x64([2, 3]), x64([2, 3], 5)]],
      ['dropout (fixed mask)', (x) => dropout(x!, 0.3, { seed: 4 }), [x64([3, 4])]],
    ];
    for (const [name, fn, inputs] of checks) {
      expect(gradcheck(fn, inputs).ok, `${name} gradcheck`).toBe(true);
      expect(gradgradcheck(fn, inputs).ok, `${name} gradgradcheck`).toBe(true);
    }
  });

  it('pooling layers match explicit windows', () => {
    const x = tensor([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]], { dtype: 'float64' });
    expect(new MaxPool2d(2).forward(x).toArray()).toEqual([[[[6, 8], [14, 16]]]]);
    expect(new AvgPool2d(2).forward(x).toArray()).toEqual([[[[3.5, 5.5], [11.5, 13.5]]]]);
    expect(new MaxPool2d(2, { stride: 1, padding: 1 }).forward(x).shape).toEqual([1, 1, 5, 5]);
  });
});

describe('losses, activations, Dropout and Flatten', () => {
  it('crossEntropy is stable for huge logits and validates targets', () => {
    const logits = tensor([[1000, 0, -1000], [0, 1e4, 0]], { dtype: 'float32' });
    const loss = crossEntropy(logits, [0, 1]);
    expect(loss.item()).toBeCloseTo(0, 6);
    expect(crossEntropy(logits, [2, 0], { reduction: 'sum' }).item()).toBeCloseTo(2000 + 1e4, 0);
    expect(() => crossEntropy(logits, [0, 3])).toThrow('crossEntropy: target[1] = 3 is not a class index in [0, 3) for logits of shape [2, 3]');
    expect(() => crossEntropy(logits, [0])).toThrow('crossEntropy: target must hold 2 class indices (shape [2]) for logits of shape [2, 3], got shape [1]');
    expect(() => crossEntropy(zeros([2]), [0, 1])).toThrow('crossEntropy: expected logits of shape (N, C), got [2]');
    expect(() => mseLoss(zeros([2, 3]), zeros([3]))).toThrow('mseLoss: input shape [2, 3] and target shape [3] must be equal');
  });

  it('Dropout: identity in eval, seeded masks in training, kept values scaled by 1/(1-p)', () => {
    const x = seededTensor([50, 40], 2, { scale: 1, offset: 3 });
    const a = new Dropout(0.25, { seed: 9 });
    const b = new Dropout(0.25, { seed: 9 });
    const ya = a.forward(x).toFloat64Array();
    expect(ya).toEqual(b.forward(x).toFloat64Array());
    expect(a.forward(x).toFloat64Array()).not.toEqual(ya); // the next call draws a new mask
    const xs = x.toFloat64Array();
    let dropped = 0;
    ya.forEach((value, i) => {
      if (value === 0) dropped++;
      else expect(value).toBeCloseTo(xs[i]! / 0.75, 12);
    });
    expect(dropped / ya.length).toBeGreaterThan(0.2);
    expect(dropped / ya.length).toBeLessThan(0.3);
    expect(a.eval().forward(x)).toBe(x);
    expect(() => new Dropout(1.5)).toThrow('Dropout: probability p must be in [0, 1], got 1.5');
    expect(dropout(x, 1).toFloat64Array().every((v) => v === 0)).toBe(true);
  });

  it('Sequential of Conv2d, pooling, Flatten, ReLU and Linear runs end to end', () => {
    manualSeed(5);
    const model = new Sequential(new Conv2d(1, 2, 3, { padding: 1 }), new BatchNorm2d(2), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(8, 3));
    const y = model.forward(seededTensor([2, 1, 4, 4], 1).to('float32'));
    expect(y.shape).toEqual([2, 3]);
    expect(model.length).toBe(6);
    expect(model.at(-1)).toBeInstanceOf(Linear);
    expect(model.namedParameters().map(([n]) => n)).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '5.weight', '5.bias']);
  });
});
