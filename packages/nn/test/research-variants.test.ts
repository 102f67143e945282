import { grad, noGrad, tensor, type Tensor } from '@normgrad/core';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BatchNorm1d,
  BatchNorm2d,
  BatchRenorm1d,
  BatchRenorm2d,
  Conv2d,
  RMSNorm,
  SwitchableNorm1d,
  SwitchableNorm2d,
  WSConv2d,
  batchNorm,
  batchRenorm,
  conv2d,
  groupNorm,
  instanceNorm,
  machineEpsilon,
  rmsNorm,
  standardizeWeight,
  switchableNorm,
} from '../src/index.js';
import { assignInPlace } from '@normgrad/core';
import { expectAllclose, fromFixture, seededTensor, type FixtureTensor } from './helpers.js';

function exactlyEqual(a: Tensor, b: Tensor, label: string): void {
  expect(a.shape, label).toEqual(b.shape);
  expect(Array.from(a.toFloat64Array()), label).toEqual(Array.from(b.toFloat64Array()));
}

function setValues(target: Tensor, values: Tensor): void {
  noGrad(() => assignInPlace(target, values));
}

describe('BatchRenorm', () => {
  type Pair = () => [BatchRenorm1d | BatchRenorm2d, BatchNorm1d | BatchNorm2d];
  it.each<[string, Pair, number[]]>([
    ['BatchRenorm1d (N, C)', () => [new BatchRenorm1d(3, { rMax: 1, dMax: 0, momentum: 0.2, dtype: 'float64' }), new BatchNorm1d(3, { eps: 1e-3, momentum: 0.2, dtype: 'float64' })], [5, 3]],
    ['BatchRenorm1d (N, C, L)', () => [new BatchRenorm1d(3, { rMax: 1, dMax: 0, dtype: 'float64' }), new BatchNorm1d(3, { eps: 1e-3, momentum: 0.01, dtype: 'float64' })], [2, 3, 4]],
    ['BatchRenorm2d', () => [new BatchRenorm2d(2, { rMax: 1, dMax: 0, eps: 1e-5, momentum: 0.5, dtype: 'float64' }), new BatchNorm2d(2, { eps: 1e-5, momentum: 0.5, dtype: 'float64' })], [2, 2, 3, 3]],
  ])('%s with rMax = 1, dMax = 0 equals BatchNorm exactly: outputs, gradients, running statistics', (_, build, shape) => {
    const [renorm, norm] = build();
    for (const layer of [renorm, norm]) {
      setValues(layer.weight!, seededTensor([shape[1]!], 7, { scale: 0.5, offset: 1 }));
      setValues(layer.bias!, seededTensor([shape[1]!], 8, { scale: 0.5 }));
    }
    for (let step = 0; step < 3; step++) {
      const x = seededTensor([...shape], 100 + step, { scale: 2, offset: 0.7 });
      const g = seededTensor([...shape], 200 + step);
      const gradients = [renorm, norm].map((layer) => grad((input: Tensor) => layer.forward(input).mul(g).sum())(x));
      exactlyEqual(renorm.forward(x), norm.forward(x), `step ${step} output`); // a second training step on both
      expectAllclose(gradients[0], gradients[1]!, `step ${step} input gradient`, { atol: 1e-12, rtol: 0 });
      exactlyEqual(renorm.runningMean, norm.runningMean!, `step ${step} runningMean`);
      exactlyEqual(renorm.runningVar, norm.runningVar!, `step ${step} runningVar`);
    }
    renorm.eval();
    norm.eval();
    const x = seededTensor([...shape], 300, { scale: 2 });
    exactlyEqual(renorm.forward(x), norm.forward(x), 'eval output');
  });

  // Channel 0: σ_B/σ = √3.5/0.5 ≈ 3.74 clips to rMax = 3, (μ_B − μ)/σ = −16 clips to −dMax = −5.
  // Channel 1: σ_B/σ = √0.125/2 ≈ 0.177 clips to 1/rMax = 1/3, d = (1 − 0.5)/2 = 0.25 is inside.
  const x = tensor([[0, 1], [1, 1.5], [2, 0.5], [5, 1]], { dtype: 'float64' });
  const weight = tensor([2, -1], { dtype: 'float64' });
  const bias = tensor([1, 0.5], { dtype: 'float64' });
  const batchMean = [2, 1];
  const batchStd = [Math.sqrt(3.5), Math.sqrt(0.125)];
  const [r, d] = [[3, 1 / 3], [-5, 0.25]];
  const xHat = (n: number, c: number) => ((x.toArray() as number[][])[n]![c]! - batchMean[c]!) / batchStd[c]!;

  it('hand-computed training step with clipping active (eps = 0, momentum = 0.5)', () => {
    const runningMean = tensor([10, 0.5], { dtype: 'float64' });
    const runningVar = tensor([0.25, 4], { dtype: 'float64' });
    const y = batchRenorm(x, runningMean, runningVar, { weight, bias, training: true, momentum: 0.5, eps: 0 });
    const expected = [0, 1, 2, 3].map((n) => [0, 1].map((c) => (xHat(n, c) * r[c]! + d[c]!) * [2, -1][c]! + [1, 0.5][c]!));
    expectAllclose(y, tensor(expected, { dtype: 'float64' }), 'y', { atol: 1e-14, rtol: 1e-14 });
    // running statistics: += 0.5 · (batch − running), the variance with the unbiased batch variance
    expectAllclose(runningMean, tensor([6, 0.75], { dtype: 'float64' }), 'runningMean', { atol: 1e-15 });
    expectAllclose(runningVar, tensor([0.125 + 0.5 * (14 / 3), 2 + 0.5 * (0.5 / 3)], { dtype: 'float64' }), 'runningVar', { atol: 1e-15 });
  });

  it('hand-computed gradient: r and d are constants, so ∂L/∂x is BatchNorm\'s times r', () => {
    const g = tensor([[1, -1], [0.5, 2], [-2, 0], [1, 1]], { dtype: 'float64' });
    const fresh = () => [tensor([10, 0.5], { dtype: 'float64' }), tensor([0.25, 4], { dtype: 'float64' })] as const;
    const gradient = grad((input: Tensor) => {
      const [runningMean, runningVar] = fresh();
      return batchRenorm(input, runningMean, runningVar, { weight, bias, training: true, momentum: 0.5, eps: 0 }).mul(g).sum();
    })(x);
    const gs = g.toArray() as number[][];
    const expected = [0, 1, 2, 3].map((n) =>
      [0, 1].map((c) => {
        const column = [0, 1, 2, 3];
        const meanG = column.reduce((s, m) => s + gs[m]![c]!, 0) / 4;
        const meanGxHat = column.reduce((s, m) => s + gs[m]![c]! * xHat(m, c), 0) / 4;
        return ([2, -1][c]! * r[c]! / batchStd[c]!) * (gs[n]![c]! - meanG - xHat(n, c) * meanGxHat);
      }),
    );
    expectAllclose(gradient, tensor(expected, { dtype: 'float64' }), 'dL/dx', { atol: 1e-13, rtol: 1e-12 });
  });

  it('eval normalizes with the running statistics; rMax and dMax are mutable; warm-up is BatchNorm', () => {
    const layer = new BatchRenorm1d(2, { dtype: 'float64', warmupSteps: 2, momentum: 0.3 });
    const reference = new BatchNorm1d(2, { eps: 1e-3, momentum: 0.3, dtype: 'float64' });
    const batches = [0, 1, 2].map((i) => seededTensor([6, 2], 40 + i, { scale: 3, offset: 2 }));
    exactlyEqual(layer.forward(batches[0]!), reference.forward(batches[0]!), 'warm-up step 1');
    exactlyEqual(layer.forward(batches[1]!), reference.forward(batches[1]!), 'warm-up step 2');
    expect(layer.numBatchesTracked).toBe(2);
    const renormalized = layer.forward(batches[2]!); // step 3: r and d active
    expect(Array.from(renormalized.toFloat64Array())).not.toEqual(Array.from(reference.forward(batches[2]!).toFloat64Array()));
    layer.rMax = 1;
    layer.dMax = 0;
    expect(layer.rMax).toBe(1);
    layer.eval();
    const input = seededTensor([3, 2], 50);
    expectAllclose(
      layer.forward(input),
      batchNorm(input, layer.runningMean, layer.runningVar, { weight: layer.weight, bias: layer.bias, eps: 1e-3 }),
      'eval',
      { atol: 0, rtol: 0 },
    );
  });

  it('validates options and inputs, naming the layer', () => {
    expect(() => new BatchRenorm1d(2, { rMax: 0.5 })).toThrow('BatchRenorm1d: rMax must be a finite number >= 1, got 0.5');
    expect(() => new BatchRenorm2d(2, { dMax: -1 })).toThrow('BatchRenorm2d: dMax must be a finite number >= 0, got -1');
    expect(() => new BatchRenorm1d(2, { warmupSteps: 1.5 })).toThrow(/warmupSteps must be a non-negative integer/);
    expect(() => new BatchRenorm2d(3).forward(tensor([[1, 2, 3]]))).toThrow('BatchRenorm2d: expected 4D (N, C, H, W) input (got 2D input of shape [1, 3])');
    expect(() => new BatchRenorm1d(3).forward(tensor([[1, 2, 3]]))).toThrow('BatchRenorm1d: Expected more than 1 value per channel when training, got input size [1, 3]');
    expect(() => new BatchRenorm1d(4).forward(tensor([[1, 2, 3], [4, 5, 6]]))).toThrow(/BatchRenorm1d: expected 4 channels \(numFeatures\) on axis 1, got input of shape \[2, 3\]/);
    const layer = new BatchRenorm1d(2);
    layer.rMax = 0.5;
    expect(() => layer.forward(tensor([[1, 2], [3, 4]]))).toThrow('BatchRenorm1d: rMax must be a finite number >= 1, got 0.5');
  });

  it('state dict keys match BatchNorm\'s', () => {
    expect(Object.keys(new BatchRenorm2d(2).stateDict())).toEqual(['weight', 'bias', 'runningMean', 'runningVar', 'numBatchesTracked']);
  });
});

interface RMSNormCase {
  name: string;
  normalizedShape: number[];
  eps: number | null;
  usedEps: number;
  dtype: 'float32' | 'float64';
  x: FixtureTensor;
  weight: FixtureTensor | null;
  g: FixtureTensor;
  y: FixtureTensor;
  gradInput: FixtureTensor;
  gradWeight: FixtureTensor | null;
}

const rmsFixtures = JSON.parse(readFileSync(new URL('./fixtures/rmsnorm.json', import.meta.url), 'utf8')) as { torch: string; cases: RMSNormCase[] };

describe(`RMSNorm matches torch 2.4's nn.RMSNorm formula (fixtures from torch ${rmsFixtures.torch})`, () => {
  it.each(rmsFixtures.cases.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const layer = new RMSNorm(c.normalizedShape, { eps: c.eps, elementwiseAffine: c.weight !== null, dtype: c.dtype });
    if (c.weight) setValues(layer.weight!, fromFixture(c.weight, c.dtype));
    const x = fromFixture(c.x, c.dtype, true);
    const y = layer.forward(x);
    y.mul(fromFixture(c.g, c.dtype)).sum().backward();
    const tolerance = c.dtype === 'float32' ? { atol: 1e-6, rtol: 1e-5 } : { atol: 1e-12, rtol: 1e-10 };
    expectAllclose(y, c.y, 'y', tolerance);
    expectAllclose(x.grad, c.gradInput, 'gradInput', tolerance);
    expectAllclose(layer.weight?.grad, c.gradWeight, 'gradWeight', tolerance);
  });

  it('default eps is the dtype\'s machine epsilon, as torch.finfo(dtype).eps', () => {
    expect(machineEpsilon('float32')).toBe(1.1920928955078125e-7);
    expect(machineEpsilon('float64')).toBe(2.220446049250313e-16);
    const zerosIn = tensor([[0, 0]], { dtype: 'float32' });
    expect(Array.from(rmsNorm(zerosIn, 2).toFloat64Array())).toEqual([0, 0]); // finite, no 0/0
    const tiny = tensor([[1e-4, -1e-4]], { dtype: 'float64' });
    expectAllclose(rmsNorm(tiny, 2), tensor([[1e-4 / Math.sqrt(1e-8 + 2 ** -52), -1e-4 / Math.sqrt(1e-8 + 2 ** -52)]], { dtype: 'float64' }), 'tiny');
  });

  it('validates the trailing shape and weight, naming the layer', () => {
    expect(() => new RMSNorm([2, 3]).forward(tensor([[1, 2]]))).toThrow('RMSNorm: input of shape [1, 2] does not end with normalizedShape [2, 3] (expected input of shape [*, 2, 3])');
    expect(() => new RMSNorm(0)).toThrow(/RMSNorm: normalizedShape must be a positive integer/);
    expect(() => new RMSNorm(2, { eps: -1 })).toThrow('RMSNorm: eps must be a finite number >= 0, got -1');
    expect(() => rmsNorm(tensor([[1, 2]]), 2, { weight: tensor([1, 2, 3]) })).toThrow('rmsNorm: weight must have shape [2] (normalizedShape), got [3]');
    expect(new RMSNorm(4, { elementwiseAffine: false }).parameters()).toHaveLength(0);
  });
});

describe('SwitchableNorm', () => {
  const oneHot = (k: number) => tensor([0, 1, 2].map((i) => (i === k ? 1 : 0)), { dtype: 'float64' });
  const shape = [3, 2, 4];
  const x = seededTensor(shape, 11, { scale: 2, offset: 0.5 });
  const weight = seededTensor([2], 12, { scale: 0.5, offset: 1 });
  const bias = seededTensor([2], 13, { scale: 0.5 });
  const tight = { atol: 1e-13, rtol: 1e-12 };

  it('one-hot IN weights give instanceNorm', () => {
    expectAllclose(switchableNorm(x, { meanWeights: oneHot(0), varWeights: oneHot(0), weight, bias }), instanceNorm(x, { weight, bias }), 'IN', tight);
  });

  it('one-hot LN weights give layer norm over (C, *) with per-channel affine (groupNorm with one group)', () => {
    expectAllclose(switchableNorm(x, { meanWeights: oneHot(1), varWeights: oneHot(1), weight, bias }), groupNorm(x, 1, { weight, bias }), 'LN', tight);
  });

  it('one-hot BN weights give batchNorm, in training (with the same running update) and in eval', () => {
    const stats = () => [seededTensor([2], 14, { scale: 0.3 }), seededTensor([2], 15, { scale: 0.3, offset: 1 })] as const;
    const [mean1, var1] = stats();
    const [mean2, var2] = stats();
    const train = switchableNorm(x, { meanWeights: oneHot(2), varWeights: oneHot(2), runningMean: mean1, runningVar: var1, weight, bias, training: true, momentum: 0.3 });
    expectAllclose(train, batchNorm(x, mean2, var2, { weight, bias, training: true, momentum: 0.3 }), 'BN train', tight);
    expectAllclose(mean1, mean2, 'runningMean', { atol: 0, rtol: 0 });
    expectAllclose(var1, var2, 'runningVar', { atol: 0, rtol: 0 });
    const evaluated = switchableNorm(x, { meanWeights: oneHot(2), varWeights: oneHot(2), runningMean: mean1, runningVar: var1, weight, bias });
    expectAllclose(evaluated, batchNorm(x, mean2, var2, { weight, bias }), 'BN eval', tight);
  });

  it('the layer with one dominant logit (1e4) is IN, LN or BN; mixed logits mix', () => {
    const x4 = seededTensor([2, 3, 2, 2], 16, { scale: 2 });
    const expected = [instanceNorm(x4), groupNorm(x4, 1), batchNorm(x4, null, null, { training: true })];
    expected.forEach((reference, k) => {
      const layer = new SwitchableNorm2d(3, { affine: false, dtype: 'float64' });
      const logits = tensor([0, 1, 2].map((i) => (i === k ? 1e4 : 0)), { dtype: 'float64' });
      setValues(layer.meanWeight, logits);
      setValues(layer.varWeight, logits);
      expectAllclose(layer.forward(x4), reference, `branch ${k}`, tight);
    });
    const mixed = new SwitchableNorm1d(2, { dtype: 'float64' }).forward(x);
    const uniform = tensor([1 / 3, 1 / 3, 1 / 3], { dtype: 'float64' });
    expectAllclose(mixed, switchableNorm(x, { meanWeights: uniform, varWeights: uniform, training: true }), 'uniform mix', tight);
  });

  it('eval uses the running statistics of the BN branch; usingBatchStats: false mixes IN and LN only', () => {
    const layer = new SwitchableNorm1d(2, { momentum: 0.5, dtype: 'float64' });
    layer.forward(x);
    expect(layer.numBatchesTracked).toBe(1);
    const reference = new BatchNorm1d(2, { momentum: 0.5, dtype: 'float64' });
    reference.forward(x);
    expectAllclose(layer.runningVar, reference.runningVar!, 'runningVar', tight);
    layer.eval();
    const probe = seededTensor([1, 2, 4], 17);
    const third = tensor([1 / 3, 1 / 3, 1 / 3], { dtype: 'float64' });
    expectAllclose(
      layer.forward(probe),
      switchableNorm(probe, { meanWeights: third, varWeights: third, runningMean: layer.runningMean, runningVar: layer.runningVar, weight: layer.weight, bias: layer.bias }),
      'eval',
      tight,
    );
    const noBatch = new SwitchableNorm1d(2, { usingBatchStats: false, dtype: 'float64' });
    expect(noBatch.meanWeight.shape).toEqual([2]);
    expect(noBatch.runningMean).toBeNull();
    expect(Object.keys(noBatch.stateDict())).toEqual(['meanWeight', 'varWeight', 'weight', 'bias']);
  });

  it('validates inputs, naming the layer', () => {
    expect(() => new SwitchableNorm2d(2).forward(tensor([[[1, 2]]]))).toThrow('SwitchableNorm2d: expected 4D (N, C, H, W) input (got 3D input of shape [1, 1, 2])');
    expect(() => new SwitchableNorm1d(2).forward(tensor([[[1], [2]]]))).toThrow(/SwitchableNorm1d: Expected more than 1 spatial element/);
    expect(() => switchableNorm(x, { meanWeights: tensor([1, 0, 0, 0], { dtype: 'float64' }), varWeights: oneHot(0) })).toThrow(
      'switchableNorm: meanWeights must have shape [3] (IN, LN, BN) or [2] (IN, LN), got [4]',
    );
  });
});

describe('weight standardization', () => {
  it('standardizes each output filter over (Cin, kh, kw): mean 0, biased variance var / (var + eps)', () => {
    const w = seededTensor([3, 2, 2, 2], 21, { scale: 0.4, offset: 0.1 });
    const standardized = standardizeWeight(w, 0);
    for (let filter = 0; filter < 3; filter++) {
      const values = Array.from(standardized.slice(filter).toFloat64Array());
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
      expect(Math.abs(mean)).toBeLessThan(1e-15);
      expect(variance).toBeCloseTo(1, 12);
    }
  });

  it('WSConv2d equals conv2d with the standardized weight; gradients reach the raw weight', () => {
    const layer = new WSConv2d(2, 3, 2, { padding: 1, stride: [1, 2], dtype: 'float64' });
    expect(layer).toBeInstanceOf(Conv2d);
    const x = seededTensor([2, 2, 3, 4], 22);
    const expected = conv2d(x, standardizeWeight(layer.weight, 1e-5), layer.bias, { padding: 1, stride: [1, 2] });
    expectAllclose(layer.forward(x), expected, 'forward', { atol: 0, rtol: 0 });
    layer.forward(x).square().sum().backward();
    const filterSums = [0, 1, 2].map((f) => Array.from(layer.weight.grad!.slice(f).toFloat64Array()).reduce((a, b) => a + b, 0));
    filterSums.forEach((total) => expect(Math.abs(total)).toBeLessThan(1e-10)); // shifting a filter does not change Ŵ
    expect(Object.keys(layer.stateDict())).toEqual(['weight', 'bias']);
  });

  it('validates, naming the layer', () => {
    expect(() => new WSConv2d(2, 3, 2, { eps: -1 })).toThrow('WSConv2d: eps must be a finite number >= 0, got -1');
    expect(() => new WSConv2d(2, 3, 2).forward(tensor([[[[1]]]]))).toThrow(/^WSConv2d: expected input of shape \(N, 2, H, W\)/);
  });
});
