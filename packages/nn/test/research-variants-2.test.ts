import { assignInPlace, eye, grad, noGrad, randn, tensor, type Tensor } from '@normgrad/core';
import { checkLayer } from '@normgrad/testing';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BatchNorm1d,
  BatchNorm2d,
  adaptiveInstanceNorm,
  batchNorm,
  conditionalBatchNorm,
  evoNormB0,
  evoNormS0,
  groupNorm,
  instanceNorm,
  iterNorm,
  ConditionalBatchNorm2d,
  Conv2d,
  DynamicTanh,
  EvoNorm2dB0,
  EvoNorm2dS0,
  InstanceNorm2d,
  IterNorm,
  Linear,
  FilterResponseNorm2d,
  GhostBatchNorm1d,
  GhostBatchNorm2d,
  GlobalResponseNorm,
  LocalResponseNorm,
  ScaleNorm,
  dynamicTanh,
  filterResponseNorm,
  ghostBatchNorm,
  globalResponseNorm,
  localResponseNorm,
  scaleNorm,
  spectralNorm,
  spectralNormalize,
  weightNorm,
  weightNormalize,
  type Module,
} from '../src/index.js';
import { Module as ModuleBase, parameter } from '../src/module.js';
import { expectAllclose, fromFixture, seededTensor, type FixtureTensor } from './helpers.js';

const f64 = { dtype: 'float64' } as const;

interface StepRecord {
  x: FixtureTensor;
  g: FixtureTensor;
  y: FixtureTensor;
  gradInput: FixtureTensor;
  gradWeight: FixtureTensor;
  gradBias: FixtureTensor;
  runningMean: FixtureTensor;
  runningVar: FixtureTensor;
}

interface GhostCase {
  name: string;
  shape: number[];
  virtualBatchSize: number;
  momentum: number;
  eps: number;
  weight: FixtureTensor;
  bias: FixtureTensor;
  train: StepRecord[];
  eval: { x: FixtureTensor; y: FixtureTensor };
}

/** One forward and the gradients of sum(y · g); params keyed by the layer's field names. */
interface LayerCase {
  name: string;
  layer: string;
  args: (number | number[])[];
  options: Record<string, unknown>;
  x: FixtureTensor;
  params: Record<string, FixtureTensor>;
  g: FixtureTensor;
  y: FixtureTensor;
  grads: Record<string, FixtureTensor>;
}

interface WeightNormCase {
  name: string;
  kind: 'Linear' | 'Conv2d';
  dim: number | null;
  weight: FixtureTensor;
  bias: FixtureTensor;
  gInitial: FixtureTensor;
  weightG: FixtureTensor;
  x: FixtureTensor;
  g: FixtureTensor;
  y: FixtureTensor;
  computedWeight: FixtureTensor;
  grads: Record<'input' | 'weightG' | 'weightV' | 'bias', FixtureTensor>;
}

interface SpectralNormCase {
  name: string;
  kind: 'Linear' | 'Conv2d';
  nPowerIterations: number;
  dim: number;
  eps: number;
  weightOrig: FixtureTensor;
  bias: FixtureTensor;
  u: FixtureTensor;
  v: FixtureTensor;
  train: { x: FixtureTensor; g: FixtureTensor; y: FixtureTensor; gradInput: FixtureTensor; gradWeightOrig: FixtureTensor; gradBias: FixtureTensor; u: FixtureTensor; v: FixtureTensor }[];
  eval: { x: FixtureTensor; y: FixtureTensor };
}

interface EvoB0Case {
  name: string;
  shape: number[];
  momentum: number;
  eps: number;
  params: Record<'weight' | 'bias' | 'v', FixtureTensor>;
  train: { x: FixtureTensor; g: FixtureTensor; y: FixtureTensor; runningVar: FixtureTensor; grads: Record<string, FixtureTensor> }[];
  eval: { x: FixtureTensor; g: FixtureTensor; y: FixtureTensor; grads: Record<string, FixtureTensor> };
}

interface AdaINCase {
  name: string;
  eps: number;
  content: FixtureTensor;
  style: FixtureTensor;
  g: FixtureTensor;
  y: FixtureTensor;
  gradContent: FixtureTensor;
  gradStyle: FixtureTensor;
}

interface ConditionalCase {
  name: string;
  shape: number[];
  numClasses: number;
  classes: number[];
  momentum: number;
  eps: number;
  weight: FixtureTensor;
  bias: FixtureTensor;
  train: StepRecord[];
  eval: StepRecord;
}

interface IterNormStep extends StepRecord {
  runningWhitening: FixtureTensor;
}

interface IterNormCase {
  name: string;
  shape: number[];
  numGroups: number;
  iterations: number;
  momentum: number;
  eps: number;
  weight: FixtureTensor;
  bias: FixtureTensor;
  train: IterNormStep[];
  eval: IterNormStep;
}

const fixtures = JSON.parse(readFileSync(new URL('./fixtures/research2.json', import.meta.url), 'utf8')) as {
  torch: string;
  ghostBatchNorm: GhostCase[];
  layers: LayerCase[];
  weightNorm: WeightNormCase[];
  spectralNorm: SpectralNormCase[];
  evoNormB0: EvoB0Case[];
  adaptiveInstanceNorm: AdaINCase[];
  conditionalBatchNorm: ConditionalCase[];
  iterNorm: IterNormCase[];
};

/** The fixtures' base layers: Linear(4, 3) and Conv2d(2, 3, 2), float64. */
function baseLayer(kind: 'Linear' | 'Conv2d'): Linear | Conv2d {
  return kind === 'Linear' ? new Linear(4, 3, f64) : new Conv2d(2, 3, 2, f64);
}

/** Builds the layer of a fixture case in float64. */
const layerBuilders: Record<string, (c: LayerCase) => Module> = {
  DynamicTanh: (c) => new DynamicTanh(c.args[0] as number[], { ...c.options, ...f64 }),
  ScaleNorm: (c) => new ScaleNorm(c.args[0] as number, { ...c.options, ...f64 }),
  LocalResponseNorm: (c) => new LocalResponseNorm(c.args[0] as number, c.options),
  GlobalResponseNorm: (c) => new GlobalResponseNorm(c.args[0] as number, { ...c.options, ...f64 }),
  FilterResponseNorm2d: (c) => new FilterResponseNorm2d(c.args[0] as number, { ...c.options, ...f64 }),
  EvoNorm2dS0: (c) => new EvoNorm2dS0(c.args[0] as number, { ...c.options, ...f64 }),
};

/** Runs a fixture case: loads its parameters, checks y and every gradient; returns the layer. */
function runLayerCase(variant: string, c: LayerCase, layer: Module = layerBuilders[c.layer]!(c), tolerance = { atol: 1e-12, rtol: 1e-10 }): Module {
  const fields = layer as unknown as Record<string, Tensor>;
  for (const [name, values] of Object.entries(c.params)) setValues(fields[name]!, fromFixture(values));
  const x = fromFixture(c.x, 'float64', true);
  const y = layer.forward(x);
  y.mul(fromFixture(c.g)).sum().backward();
  matches(variant, y, c.y, 'y', tolerance);
  matches(variant, x.grad, c.grads.input!, 'gradInput', tolerance);
  for (const name of Object.keys(c.params)) matches(variant, fields[name]!.grad, c.grads[name]!, `grad ${name}`, tolerance);
  return layer;
}

/** The worst |actual − expected| seen per variant against its reference (printed for the report). */
const worstError: Record<string, number> = {};
function track(variant: string, actual: Tensor | null | undefined, expected: FixtureTensor | Tensor): void {
  if (!actual) return;
  const a = actual.toFloat64Array();
  const e = 'toFloat64Array' in expected ? expected.toFloat64Array() : Float64Array.from(expected.data);
  let worst = 0;
  for (let i = 0; i < e.length; i++) worst = Math.max(worst, Math.abs(a[i]! - e[i]!));
  worstError[variant] = Math.max(worstError[variant] ?? 0, worst);
}
/** expectAllclose plus tracking of the worst error. */
function matches(variant: string, actual: Tensor | null | undefined, expected: FixtureTensor | Tensor, label: string, tolerance = { atol: 1e-12, rtol: 1e-10 }): void {
  track(variant, actual, expected);
  expectAllclose(actual, expected, `${variant} ${label}`, tolerance);
}

function setValues(target: Tensor, values: Tensor): void {
  noGrad(() => assignInPlace(target, values));
}

function exactlyEqual(a: Tensor, b: Tensor, label: string): void {
  expect(a.shape, label).toEqual(b.shape);
  expect(Array.from(a.toFloat64Array()), label).toEqual(Array.from(b.toFloat64Array()));
}

/** randn · std + 1e4 in float64, rounded to float32 values (so both dtypes see the same input). */
function largeMean(shape: number[], seed: number, std: number): Tensor {
  return noGrad(() => randn(shape, { dtype: 'float64', seed }).mul(std).add(1e4).to('float32').to('float64'));
}

/**
 * A layer's float32 output at mean 1e4 agrees with the same layer in float64 on the same input:
 * no cancellation of E[x²] − E[x]² (which in float32 loses every digit of a variance of 1e-4
 * next to E[x²] = 1e8). The float32 mean itself is rounded to half an ulp of 1e4, 2⁻¹¹ ≈ 4.9e-4,
 * i.e. ≈ 0.05 of a spread of 1e-2 (more for statistics over a few values), hence the tolerances:
 * 5e-3 at std 1 (the base norms' test) and 0.15 at std 1e-2.
 */
function expectFloat32Sound(make: (dtype: 'float32' | 'float64') => Module, shape: number[], seed = 5): void {
  for (const [std, atol] of [[1, 5e-3], [1e-2, 0.15]] as const) {
    const x = largeMean(shape, seed, std);
    const y64 = make('float64').forward(x);
    const y32 = make('float32').forward(x.to('float32'));
    expect(y32.dtype).toBe('float32');
    expectAllclose(y32, y64, `float32 at mean 1e4, std ${std}`, { atol, rtol: 0 });
  }
}

describe(`GhostBatchNorm matches F.batch_norm per virtual batch (torch ${fixtures.torch})`, () => {
  it.each(fixtures.ghostBatchNorm.map((c) => [c.name, c] as const))('%s: two training steps then eval', (_, c) => {
    const options = { virtualBatchSize: c.virtualBatchSize, momentum: c.momentum, eps: c.eps, ...f64 };
    const layer = c.shape.length === 4 ? new GhostBatchNorm2d(c.shape[1]!, options) : new GhostBatchNorm1d(c.shape[1]!, options);
    setValues(layer.weight!, fromFixture(c.weight));
    setValues(layer.bias!, fromFixture(c.bias));
    for (const [step, record] of c.train.entries()) {
      const x = fromFixture(record.x, 'float64', true);
      layer.zeroGrad();
      const y = layer.forward(x);
      y.mul(fromFixture(record.g)).sum().backward();
      matches('GhostBatchNorm', y, record.y, `step ${step} y`);
      matches('GhostBatchNorm', x.grad, record.gradInput, `step ${step} gradInput`);
      matches('GhostBatchNorm', layer.weight!.grad, record.gradWeight, `step ${step} gradWeight`);
      matches('GhostBatchNorm', layer.bias!.grad, record.gradBias, `step ${step} gradBias`);
      matches('GhostBatchNorm', layer.runningMean, record.runningMean, `step ${step} runningMean`);
      matches('GhostBatchNorm', layer.runningVar, record.runningVar, `step ${step} runningVar`);
    }
    expect(layer.numBatchesTracked).toBe(c.train.length * Math.ceil(c.shape[0]! / c.virtualBatchSize));
    layer.eval();
    matches('GhostBatchNorm', layer.forward(fromFixture(c.eval.x)), c.eval.y, 'eval y');
  });

  it.each<[string, number[]]>([
    ['1d', [4, 3]],
    ['2d', [3, 2, 2, 2]],
  ])('%s: one virtual batch (virtualBatchSize >= N) is BatchNorm bit for bit: outputs, gradients, running statistics', (_, shape) => {
    const ghost = shape.length === 4 ? new GhostBatchNorm2d(shape[1]!, { virtualBatchSize: 8, momentum: 0.3, ...f64 }) : new GhostBatchNorm1d(shape[1]!, { virtualBatchSize: shape[0]!, momentum: 0.3, ...f64 });
    const plain = shape.length === 4 ? new BatchNorm2d(shape[1]!, { momentum: 0.3, ...f64 }) : new BatchNorm1d(shape[1]!, { momentum: 0.3, ...f64 });
    for (const layer of [ghost, plain]) {
      setValues(layer.weight!, seededTensor([shape[1]!], 7, { scale: 0.5, offset: 1 }));
      setValues(layer.bias!, seededTensor([shape[1]!], 8, { scale: 0.5 }));
    }
    for (let step = 0; step < 2; step++) {
      const x = seededTensor(shape, 100 + step, { scale: 2, offset: 0.7 });
      const g = seededTensor(shape, 200 + step);
      const [gGhost, gPlain] = [ghost, plain].map((layer) => grad((input: Tensor) => layer.forward(input).mul(g).sum())(x));
      exactlyEqual(gGhost!, gPlain!, `step ${step} input gradient`);
      exactlyEqual(ghost.forward(x), plain.forward(x), `step ${step} output`);
      exactlyEqual(ghost.runningMean!, plain.runningMean!, `step ${step} runningMean`);
      exactlyEqual(ghost.runningVar!, plain.runningVar!, `step ${step} runningVar`);
    }
    expect(ghost.numBatchesTracked).toBe(plain.numBatchesTracked);
    ghost.eval();
    plain.eval();
    const x = seededTensor(shape, 300, { scale: 2 });
    exactlyEqual(ghost.forward(x), plain.forward(x), 'eval output');
  });

  it('virtual batches are normalized separately in training, never in eval; momentum null averages virtual batches', () => {
    const x = tensor([[0], [2], [10], [14]], f64);
    const y = ghostBatchNorm(x, null, null, { virtualBatchSize: 2, training: true, eps: 0 });
    expectAllclose(y, tensor([[-1], [1], [-1], [1]], f64), 'per virtual batch', { atol: 1e-15, rtol: 0 });
    const layer = new GhostBatchNorm1d(1, { virtualBatchSize: 2, momentum: null, eps: 0, ...f64 });
    layer.forward(x);
    // cumulative average of the virtual batches' means (1, 12) and unbiased variances (2, 8)
    expectAllclose(layer.runningMean, tensor([6.5], f64), 'runningMean', { atol: 1e-14, rtol: 0 });
    expectAllclose(layer.runningVar, tensor([5], f64), 'runningVar', { atol: 1e-14, rtol: 0 });
    layer.eval();
    expectAllclose(layer.forward(x), tensor([[-6.5 / Math.sqrt(5)], [-4.5 / Math.sqrt(5)], [3.5 / Math.sqrt(5)], [7.5 / Math.sqrt(5)]], f64), 'eval', { atol: 1e-14, rtol: 0 });
    const untracked = new GhostBatchNorm1d(1, { virtualBatchSize: 2, trackRunningStats: false, eps: 0, ...f64 });
    expect(untracked.eval().forward(x).toArray()).toEqual(ghostBatchNorm(x, null, null, { virtualBatchSize: 4, training: true, eps: 0 }).toArray());
    expect(Object.keys(new GhostBatchNorm2d(2, { virtualBatchSize: 2 }).stateDict())).toEqual(['weight', 'bias', 'runningMean', 'runningVar', 'numBatchesTracked']);
  });

  it('float32 normalizes correctly at large means', () => {
    expectFloat32Sound((dtype) => new GhostBatchNorm2d(2, { virtualBatchSize: 2, dtype }), [4, 2, 3, 3]);
  });

  it('validates options and inputs, naming the entry point', () => {
    expect(() => new GhostBatchNorm1d(2, { virtualBatchSize: 0 })).toThrow('GhostBatchNorm1d: virtualBatchSize must be a positive integer, got 0');
    expect(() => new GhostBatchNorm1d(2, {} as never)).toThrow('GhostBatchNorm1d: virtualBatchSize must be a positive integer, got undefined');
    expect(() => new GhostBatchNorm2d(2, { virtualBatchSize: 2, virtualBatchsize: 3 } as never)).toThrow(/GhostBatchNorm2d: unknown option 'virtualBatchsize' \(did you mean 'virtualBatchSize'\?\)/);
    expect(() => ghostBatchNorm(tensor([[1, 2]]), null, null, { virtualBatchSize: 1, momentun: 0.1 } as never)).toThrow(/ghostBatchNorm: unknown option 'momentun'/);
    expect(() => new GhostBatchNorm2d(2, { virtualBatchSize: 2 }).forward(tensor([[1, 2]]))).toThrow('GhostBatchNorm2d: expected 4D (N, C, H, W) input (got 2D input of shape [1, 2])');
    expect(() => new GhostBatchNorm1d(3, { virtualBatchSize: 2 }).forward(tensor([[1, 2], [3, 4]]))).toThrow(/GhostBatchNorm1d: expected 3 channels/);
    // a remainder virtual batch of one sample has one value per channel
    expect(() => new GhostBatchNorm1d(2, { virtualBatchSize: 2 }).forward(tensor([[1, 2], [3, 4], [5, 6]]))).toThrow(
      'GhostBatchNorm1d: Expected more than 1 value per channel when training, got input size [1, 2] (virtual batch starting at sample 2)',
    );
  });
});

describe.each(['DynamicTanh', 'ScaleNorm', 'LocalResponseNorm', 'GlobalResponseNorm', 'FilterResponseNorm2d', 'EvoNorm2dS0'])(`%s matches its reference (torch ${fixtures.torch}, float64)`, (layerName) => {
  const cases = fixtures.layers.filter((c) => c.layer === layerName);
  it('has fixture cases', () => expect(cases.length).toBeGreaterThan(0));
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_, c) => {
    runLayerCase(layerName, c);
  });
});

describe('DynamicTanh, ScaleNorm, LocalResponseNorm, GlobalResponseNorm, FilterResponseNorm2d: closed forms and checks', () => {
  it('DynamicTanh: y = weight · tanh(α x) + bias by hand; near-linear for small α', () => {
    const x = tensor([[0, 1, -2]], f64);
    const y = dynamicTanh(x, 3, tensor([0.5], f64), { weight: tensor([1, 2, 3], f64), bias: tensor([0.1, 0, -0.1], f64) });
    expectAllclose(y, tensor([[0.1, 2 * Math.tanh(0.5), 3 * Math.tanh(-1) - 0.1]], f64), 'DyT', { atol: 1e-15, rtol: 0 });
    const layer = new DynamicTanh(3, { alphaInit: 1e-6, ...f64 });
    expectAllclose(layer.forward(x), x.mul(1e-6), 'α → 0', { atol: 1e-17, rtol: 1e-11 });
    expect(Object.keys(layer.stateDict())).toEqual(['alpha', 'weight', 'bias']);
    expect(() => new DynamicTanh(3, { alpha: 1 } as never)).toThrow(/DynamicTanh: unknown option 'alpha'/);
    expect(() => new DynamicTanh(3).forward(tensor([[1, 2]]))).toThrow('DynamicTanh: input of shape [1, 2] does not end with normalizedShape [3] (expected input of shape [*, 3])');
  });

  it('ScaleNorm: every row has norm g; rows below eps are divided by eps', () => {
    const x = seededTensor([4, 5], 21, { scale: 2 });
    const norms = scaleNorm(x, tensor([3], f64)).square().sum(-1).sqrt();
    expectAllclose(norms, tensor([3, 3, 3, 3], f64), '‖y‖ = g', { atol: 1e-14, rtol: 0 });
    expectAllclose(scaleNorm(tensor([[1e-3, 0]], f64), tensor([2], f64), { eps: 0.1 }), tensor([[2e-2, 0]], f64), 'clamped', { atol: 1e-16, rtol: 0 });
    const zero = tensor([[0, 0]], { ...f64, requiresGrad: true });
    scaleNorm(zero, tensor([1], f64)).sum().backward();
    expectAllclose(zero.grad, tensor([1e5, 1e5], f64).reshape([1, 2]), 'finite gradient at x = 0: g / eps', { atol: 0, rtol: 1e-12 });
    expect(() => new ScaleNorm(1, { epsilon: 1 } as never)).toThrow(/ScaleNorm: unknown option 'epsilon'/);
    expect(() => new ScaleNorm(1, { eps: -1 })).toThrow('ScaleNorm: eps must be a finite number >= 0, got -1');
  });

  it('LocalResponseNorm: size 1 is x / (k + α x²)^β; windows are clipped at the channel edges', () => {
    const x = tensor([[[1], [2], [3]]], f64);
    expectAllclose(localResponseNorm(x, 1, { alpha: 1, beta: 0.5, k: 1 }), tensor([[[1 / Math.sqrt(2)], [2 / Math.sqrt(5)], [3 / Math.sqrt(10)]]], f64), 'size 1', { atol: 1e-15, rtol: 0 });
    // size 2: channel c sums c−1 and c (⌊2/2⌋ = 1 before, ⌊1/2⌋ = 0 after), divided by 2
    const expected = [1, 1 + 4, 4 + 9].map((s, c) => [(c + 1) / (1 + s / 2)]);
    expectAllclose(localResponseNorm(x, 2, { alpha: 1, beta: 1, k: 1 }), tensor([expected], f64), 'size 2', { atol: 1e-15, rtol: 0 });
    expect(() => new LocalResponseNorm(0)).toThrow('LocalResponseNorm: size must be a positive integer, got 0');
    expect(() => new LocalResponseNorm(2).forward(tensor([[1, 2]]))).toThrow('LocalResponseNorm: expected 3D or higher dimensionality input (N, C, *), got 2D input of shape [1, 2]');
    expect(() => new LocalResponseNorm(2, { K: 1 } as never)).toThrow(/LocalResponseNorm: unknown option 'K' \(did you mean 'k'\?\)/);
  });

  it('GlobalResponseNorm: zero weight and bias (its initialization) is the identity; a hand-computed case', () => {
    const x = seededTensor([2, 3, 2, 2], 22, { scale: 2 });
    expect(new GlobalResponseNorm(3, f64).forward(x).toArray()).toEqual(x.toArray());
    // one sample, two channels, two positions: G = (5, 1) → N = G / mean(G) = (5/3, 1/3)
    const small = tensor([[[3, 4], [0, 1]]], f64);
    const y = globalResponseNorm(small, { weight: tensor([1, 2], f64), bias: tensor([0, 1], f64), eps: 0 });
    expectAllclose(y, tensor([[[3 + 5, 4 + 20 / 3], [1, 1 + 1 + 2 / 3]]], f64), 'GRN', { atol: 1e-14, rtol: 0 });
    expect(() => new GlobalResponseNorm(2).forward(tensor([[1, 2]]))).toThrow(/GlobalResponseNorm: expected \(N, C, \*spatial\) input/);
    expect(() => new GlobalResponseNorm(4).forward(tensor([[[1, 2]]]))).toThrow(/GlobalResponseNorm: expected 4 channels/);
  });

  it('FilterResponseNorm2d: ν-normalized per sample and channel; TLU clips at tau; the same in train and eval', () => {
    const x = seededTensor([2, 2, 2, 3], 23, { scale: 2, offset: 0.3 });
    const plain = filterResponseNorm(x, { eps: 0 });
    const meanSquare = plain.square().mean([2, 3]);
    expectAllclose(meanSquare, tensor([[1, 1], [1, 1]], f64), 'mean(y²) = 1 with eps 0', { atol: 1e-14, rtol: 0 });
    expectAllclose(filterResponseNorm(x.mul(7), { eps: 0 }), plain, 'scale invariant', { atol: 1e-14, rtol: 0 });
    const tau = tensor([0.2, -0.1], f64);
    const clipped = filterResponseNorm(x, { eps: 0, tau });
    expectAllclose(clipped, plain.maximum(tau.reshape([1, 2, 1, 1])), 'TLU', { atol: 0, rtol: 0 });
    const layer = new FilterResponseNorm2d(2, { learnableEps: true, ...f64 });
    const train = layer.forward(x);
    expect(layer.eval().forward(x).toArray()).toEqual(train.toArray());
    expect(Object.keys(layer.stateDict())).toEqual(['weight', 'bias', 'tau', 'epsLearned']);
    expect(() => new FilterResponseNorm2d(2, { learnable: true } as never)).toThrow(/FilterResponseNorm2d: unknown option 'learnable'/);
    expect(() => new FilterResponseNorm2d(2).forward(tensor([[[1, 2]]]))).toThrow('FilterResponseNorm2d: expected 4D (N, C, H, W) input (got 3D input of shape [1, 1, 2])');
    expect(() => filterResponseNorm(x, { tau: tensor([1, 2, 3], f64) })).toThrow('filterResponseNorm: tau must have shape [2] for input of shape [2, 2, 2, 3], got [3]');
  });

  it('float32 at large means', () => {
    expectFloat32Sound((dtype) => new FilterResponseNorm2d(2, { dtype }), [2, 2, 3, 3]);
    expectFloat32Sound((dtype) => new ScaleNorm(2, { dtype }), [3, 8]);
    expectFloat32Sound((dtype) => new GlobalResponseNorm(2, { dtype }), [2, 2, 3, 3]);
  });
});

describe(`weightNorm matches torch.nn.utils.weight_norm (torch ${fixtures.torch})`, () => {
  it.each(fixtures.weightNorm.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const base = baseLayer(c.kind);
    setValues(base.weight, fromFixture(c.weight));
    setValues(base.bias!, fromFixture(c.bias));
    const x = fromFixture(c.x, 'float64', true);
    const unwrapped = base.forward(x);
    const layer = weightNorm(base, { dim: c.dim });
    // g starts at ‖v‖: the weight, and the output, are unchanged
    matches('weightNorm', layer.weightG, c.gInitial, 'initial g = ‖v‖');
    matches('weightNorm', layer.forward(x), unwrapped, '‖v‖ = g leaves the output unchanged', { atol: 1e-15, rtol: 1e-14 });
    setValues(layer.weightG, fromFixture(c.weightG));
    const y = layer.forward(x);
    y.mul(fromFixture(c.g)).sum().backward();
    matches('weightNorm', y, c.y, 'y');
    matches('weightNorm', layer.weight, c.computedWeight, 'computed weight');
    matches('weightNorm', x.grad, c.grads.input, 'gradInput');
    matches('weightNorm', layer.weightG.grad, c.grads.weightG, 'grad weightG');
    matches('weightNorm', layer.weightV.grad, c.grads.weightV, 'grad weightV');
    matches('weightNorm', layer.bias!.grad, c.grads.bias, 'grad bias');
  });

  it('parameters are weightG (shaped like PyTorch\'s weight_g) and weightV; the weight depends only on the direction of v', () => {
    const layer = weightNorm(new Conv2d(2, 3, 2, f64));
    expect(layer.namedParameters().map(([name, t]) => [name, t.shape])).toEqual([['bias', [3]], ['weightG', [3, 1, 1, 1]], ['weightV', [3, 2, 2, 2]]]);
    expect(Object.keys(layer.stateDict())).toEqual(['bias', 'weightG', 'weightV']); // PyTorch's order: bias, weight_g, weight_v
    const x = seededTensor([1, 2, 3, 3], 31);
    const before = layer.forward(x);
    setValues(layer.weightV, layer.weightV.mul(tensor([0.5, 2, 3], f64).reshape([3, 1, 1, 1])));
    expectAllclose(layer.forward(x), before, 'rescaled v', { atol: 1e-14, rtol: 0 });
    const whole = weightNorm(new Linear(2, 2, f64), { dim: null });
    expect(whole.weightG.shape).toEqual([]);
    const v = tensor([[3, 0], [0, 4]], f64);
    expectAllclose(weightNormalize(v, tensor(10, f64), { dim: null }), tensor([[6, 0], [0, 8]], f64), 'g · v / ‖v‖', { atol: 1e-15, rtol: 0 });
  });

  it('validates, naming the entry point', () => {
    expect(() => weightNorm(new Linear(2, 2), { name: 'bais' as 'bias' })).toThrow("weightNorm: Linear has no parameter 'bais' (already reparametrized, or a different name?)");
    const once = weightNorm(new Linear(2, 2));
    expect(() => weightNorm(once)).toThrow("weightNorm: Linear has no parameter 'weight'");
    expect(() => weightNorm(new Linear(2, 2), { dim: 2 })).toThrow(/weightNorm: dim must be an integer in \[0, 2\) for a weight of shape \[2, 2\], or null/);
    expect(() => weightNorm(new Linear(2, 2), { axis: 0 } as never)).toThrow(/weightNorm: unknown option 'axis'/);
    expect(() => weightNormalize(tensor([[1, 2]]), tensor([1]))).toThrow('weightNormalize: g must have shape [1, 1] for v of shape [1, 2] and dim 0, got [1]');
  });
});

describe(`spectralNorm matches torch.nn.utils.spectral_norm given the same initial u, v (torch ${fixtures.torch})`, () => {
  it.each(fixtures.spectralNorm.map((c) => [c.name, c] as const))('%s: three training steps then eval', (_, c) => {
    const layer = spectralNorm(baseLayer(c.kind), { nPowerIterations: c.nPowerIterations, dim: c.dim, eps: c.eps });
    setValues(layer.weightOrig, fromFixture(c.weightOrig));
    setValues(layer.bias!, fromFixture(c.bias));
    setValues(layer.weightU, fromFixture(c.u));
    setValues(layer.weightV, fromFixture(c.v));
    for (const [step, record] of c.train.entries()) {
      layer.zeroGrad();
      const x = fromFixture(record.x, 'float64', true);
      const y = layer.forward(x);
      y.mul(fromFixture(record.g)).sum().backward();
      matches('spectralNorm', y, record.y, `step ${step} y`);
      matches('spectralNorm', x.grad, record.gradInput, `step ${step} gradInput`);
      matches('spectralNorm', layer.weightOrig.grad, record.gradWeightOrig, `step ${step} grad weightOrig`);
      matches('spectralNorm', layer.bias!.grad, record.gradBias, `step ${step} grad bias`);
      matches('spectralNorm', layer.weightU, record.u, `step ${step} u`);
      matches('spectralNorm', layer.weightV, record.v, `step ${step} v`);
    }
    layer.eval();
    const u = layer.weightU.toArray();
    matches('spectralNorm', layer.forward(fromFixture(c.eval.x)), c.eval.y, 'eval y');
    expect(layer.weightU.toArray()).toEqual(u); // no power iteration in eval
  });

  it('after enough power iterations the weight has spectral norm 1: diag(3, 1) becomes diag(1, 1/3)', () => {
    const layer = spectralNorm(new Linear(2, 2, f64), { nPowerIterations: 30 });
    setValues(layer.weightOrig, tensor([[3, 0], [0, 1]], f64));
    setValues(layer.weightU, tensor([0.6, 0.8], f64));
    layer.forward(tensor([[1, 1]], f64));
    expectAllclose(layer.weight, tensor([[1, 0], [0, 1 / 3]], f64), 'W / σ', { atol: 1e-12, rtol: 0 });
    expect(Object.keys(layer.stateDict())).toEqual(['bias', 'weightOrig', 'weightU', 'weightV']);
    expect(layer.namedBuffers().map(([name]) => name)).toEqual(['weightU', 'weightV']);
  });

  it('u and v are constants for the gradient: ∂σ/∂W = u vᵀ', () => {
    const w = seededTensor([3, 2], 32, { requiresGrad: true });
    const [u, v] = [tensor([0.6, 0.8, 0], f64), tensor([0, 1], f64)];
    const gradient = grad((weight: Tensor) => spectralNormalize(weight, u, v).sum())(w);
    const sigma = noGrad(() => u.matmul(w.matmul(v)).item());
    const total = w.sum().item();
    // d/dW [Σ W / σ] = 1 / σ − (Σ W) / σ² · u vᵀ
    const expected = [0, 1, 2].map((i) => [0, 1].map((j) => 1 / sigma - (total / sigma ** 2) * [0.6, 0.8, 0][i]! * [0, 1][j]!));
    expectAllclose(gradient, tensor(expected, f64), 'gradient', { atol: 1e-13, rtol: 1e-12 });
  });

  it('validates, naming the entry point', () => {
    expect(() => spectralNorm(new Linear(2, 2), { nPowerIterations: 0 })).toThrow('spectralNorm: nPowerIterations must be a positive integer, got 0');
    expect(() => spectralNorm(new Linear(2, 2), { dim: 2 })).toThrow('spectralNorm: dim must be an integer in [0, 2) for a weight of shape [2, 2], got 2');
    expect(() => spectralNorm(new Linear(2, 2), { powerIterations: 2 } as never)).toThrow(/spectralNorm: unknown option 'powerIterations'/);
    expect(() => spectralNormalize(tensor([[1, 2]]), tensor([1, 2]), tensor([1, 2]))).toThrow('spectralNormalize: u must have shape [1] for a weight of shape [1, 2] and dim 0, got [2]');
  });
});

describe('EvoNorm2dB0 matches the paper\'s formula in timm\'s conventions (plain torch, float64)', () => {
  it.each(fixtures.evoNormB0.map((c) => [c.name, c] as const))('%s: two training steps (running variance) then eval', (_, c) => {
    const layer = new EvoNorm2dB0(c.shape[1]!, { momentum: c.momentum, eps: c.eps, ...f64 });
    for (const name of ['weight', 'bias', 'v'] as const) setValues(layer[name], fromFixture(c.params[name]));
    const steps = [...c.train.map((record) => ['train', record] as const), ['eval', c.eval] as const];
    for (const [mode, record] of steps) {
      layer.train(mode === 'train');
      layer.zeroGrad();
      const x = fromFixture(record.x, 'float64', true);
      const y = layer.forward(x);
      y.mul(fromFixture(record.g)).sum().backward();
      matches('EvoNorm2dB0', y, record.y, `${mode} y`);
      matches('EvoNorm2dB0', x.grad, record.grads.input!, `${mode} gradInput`);
      for (const name of ['weight', 'bias', 'v'] as const) matches('EvoNorm2dB0', layer[name].grad, record.grads[name]!, `${mode} grad ${name}`);
      if ('runningVar' in record) matches('EvoNorm2dB0', layer.runningVar, record.runningVar, 'runningVar');
    }
  });

  it('B0 with v = 0 and a batch variance above every instance variance is x / sqrt(s²_b + eps) (BatchNorm without centring)', () => {
    // two samples with different means: the batch variance includes the spread of the means
    const x = seededTensor([2, 2, 2, 2], 41, { scale: 0.1 }).add(tensor([0, 5], f64).reshape([2, 1, 1, 1]));
    const y = evoNormB0(x, null, { v: tensor([0, 0], f64), training: true, eps: 1e-3 });
    const batchVar = x.var([0, 2, 3], { correction: 0, keepdims: true });
    expectAllclose(y, x.div(batchVar.add(1e-3).sqrt()), 'B0 limit', { atol: 1e-14, rtol: 0 });
    expect(Object.keys(new EvoNorm2dB0(2).stateDict())).toEqual(['weight', 'bias', 'v', 'runningVar']);
  });

  it('S0 with v = 0 is x / (2 · group std): groupNorm without centring, halved', () => {
    const x = seededTensor([2, 4, 2, 2], 42, { scale: 2 });
    const y = evoNormS0(x, { v: tensor([0, 0, 0, 0], f64), groups: 2, eps: 0 });
    const grouped = x.reshape([2, 2, 2, 2, 2]);
    const std = grouped.var([2, 3, 4], { correction: 0, keepdims: true }).sqrt();
    expectAllclose(y, grouped.div(std).mul(0.5).reshape([2, 4, 2, 2]), 'S0 limit', { atol: 1e-14, rtol: 0 });
    // the centred part matches groupNorm: y − mean(y) per group = groupNorm(x) / 2
    expectAllclose(y.reshape([2, 2, 8]).sub(y.reshape([2, 2, 8]).mean(2, true)).reshape([2, 4, 2, 2]), groupNorm(x, 2, { eps: 0 }).mul(0.5), 'centred', { atol: 1e-14, rtol: 0 });
  });

  it('float32 at large means', () => {
    expectFloat32Sound((dtype) => new EvoNorm2dB0(2, { dtype }), [3, 2, 3, 3]);
    expectFloat32Sound((dtype) => new EvoNorm2dS0(4, { groups: 2, dtype }), [2, 4, 3, 3]);
  });

  it('validates, naming the entry point', () => {
    expect(() => new EvoNorm2dS0(6)).toThrow('EvoNorm2dS0: groups must be a positive integer dividing numFeatures 6, got 32');
    expect(() => new EvoNorm2dB0(2, { groups: 2 } as never)).toThrow(/EvoNorm2dB0: unknown option 'groups'/);
    expect(() => new EvoNorm2dB0(2).forward(tensor([[[1, 2]]]))).toThrow('EvoNorm2dB0: expected 4D (N, C, H, W) input (got 3D input of shape [1, 1, 2])');
    expect(() => new EvoNorm2dB0(1).forward(tensor([[[[1]]]]))).toThrow('EvoNorm2dB0: Expected more than 1 value per channel when training, got input size [1, 1, 1, 1]');
    expect(() => evoNormB0(tensor([[[[1, 2]]]]), null, { v: tensor([1]) })).toThrow('evoNormB0: runningVar must be given when training is false');
    expect(() => evoNormS0(tensor([[[[1, 2]]]]), { v: tensor([1, 2]), groups: 1 })).toThrow('evoNormS0: v must have shape [1] for input of shape [1, 1, 1, 2], got [2]');
  });
});

/** AdaIN with the style as a parameter: checkLayer differentiates in content (input) and style. */
class AdaINWithStyle extends ModuleBase {
  style: Tensor;
  constructor(styleShape: number[]) {
    super();
    this.style = parameter(noGrad(() => randn(styleShape, { dtype: 'float64', seed: 43 }).mul(2).add(1)));
  }
  forward(x: Tensor): Tensor {
    return adaptiveInstanceNorm(x, this.style);
  }
}

describe('adaptiveInstanceNorm matches the paper\'s formula (plain torch, float64)', () => {
  it.each(fixtures.adaptiveInstanceNorm.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const [content, style] = [fromFixture(c.content, 'float64', true), fromFixture(c.style, 'float64', true)];
    const y = adaptiveInstanceNorm(content, style, { eps: c.eps });
    y.mul(fromFixture(c.g)).sum().backward();
    matches('adaptiveInstanceNorm', y, c.y, 'y');
    matches('adaptiveInstanceNorm', content.grad, c.gradContent, 'grad content');
    matches('adaptiveInstanceNorm', style.grad, c.gradStyle, 'grad style');
  });

  it('the output has the style\'s statistics; AdaIN(x, x) = x up to eps; with a unit-statistics style it is instanceNorm', () => {
    const content = seededTensor([2, 3, 3, 3], 44, { scale: 2, offset: 1 });
    const style = seededTensor([2, 3, 2, 5], 45, { scale: 3, offset: -2 });
    const y = adaptiveInstanceNorm(content, style, { eps: 0 });
    expectAllclose(y.mean([2, 3]), style.mean([2, 3]), 'mean', { atol: 1e-13, rtol: 0 });
    expectAllclose(y.var([2, 3], { correction: 0 }), style.var([2, 3], { correction: 0 }), 'variance', { atol: 1e-12, rtol: 0 });
    expectAllclose(adaptiveInstanceNorm(content, content, { eps: 0 }), content, 'AdaIN(x, x)', { atol: 1e-14, rtol: 0 });
    const unit = tensor([1, -1, 1, -1], f64).reshape([1, 1, 2, 2]).broadcastTo([2, 3, 2, 2]);
    expectAllclose(adaptiveInstanceNorm(content, unit), instanceNorm(content, { eps: 1e-5 }).mul(Math.sqrt(1 + 1e-5)), 'instanceNorm', { atol: 1e-13, rtol: 0 });
  });

  it('float32 at large means (content and style)', () => {
    for (const [std, atol] of [[1, 5e-3], [1e-2, 0.15]] as const) {
      const content = largeMean([2, 2, 3, 3], 46, std);
      const style = noGrad(() => randn([2, 2, 3, 3], { dtype: 'float64', seed: 47 }).mul(2).add(3));
      const y64 = adaptiveInstanceNorm(content, style);
      // the output is in the style's units (σ(style) ≈ 2 here), so the normalized tolerance scales by 3
      expectAllclose(adaptiveInstanceNorm(content.to('float32'), style.to('float32')), y64, `float32, std ${std}`, { atol: 3 * atol, rtol: 0 });
    }
  });

  it('validates, naming the entry point', () => {
    expect(() => adaptiveInstanceNorm(tensor([[1, 2]]), tensor([[1, 2]]))).toThrow('adaptiveInstanceNorm: expected content of shape (N, C, *spatial) with at least 3 dimensions, got [1, 2]');
    expect(() => adaptiveInstanceNorm(seededTensor([1, 2, 3], 1), seededTensor([1, 3, 3], 2))).toThrow('adaptiveInstanceNorm: content and style must have the same rank, batch size and channels, got [1, 2, 3] and [1, 3, 3]');
    expect(() => adaptiveInstanceNorm(seededTensor([1, 2, 3], 1), seededTensor([1, 2, 1], 2))).toThrow(/adaptiveInstanceNorm: Expected more than 1 spatial element in style/);
    expect(() => adaptiveInstanceNorm(seededTensor([1, 2, 3], 1), seededTensor([1, 2, 3], 2), { epsilon: 1 } as never)).toThrow(/adaptiveInstanceNorm: unknown option 'epsilon'/);
  });
});

/** ConditionalBatchNorm2d with fixed classes, so checkLayer can call forward(x). */
class FixedClassBatchNorm extends ConditionalBatchNorm2d {
  override forward(x: Tensor): Tensor {
    return super.forward(x, Array.from({ length: x.shape[0]! }, (_, n) => n % this.numClasses));
  }
}

describe('ConditionalBatchNorm2d matches F.batch_norm times gathered class embeddings (torch, float64)', () => {
  it.each(fixtures.conditionalBatchNorm.map((c) => [c.name, c] as const))('%s: two training steps then eval', (_, c) => {
    const layer = new ConditionalBatchNorm2d(c.shape[1]!, c.numClasses, { momentum: c.momentum, eps: c.eps, ...f64 });
    setValues(layer.weight, fromFixture(c.weight));
    setValues(layer.bias, fromFixture(c.bias));
    const classes = tensor(c.classes, f64);
    for (const [mode, record] of [...c.train.map((r) => ['train', r] as const), ['eval', c.eval] as const]) {
      layer.train(mode === 'train');
      layer.zeroGrad();
      const x = fromFixture(record.x, 'float64', true);
      const y = layer.forward(x, mode === 'train' ? classes : c.classes);
      y.mul(fromFixture(record.g)).sum().backward();
      matches('ConditionalBatchNorm2d', y, record.y, `${mode} y`);
      matches('ConditionalBatchNorm2d', x.grad, record.gradInput, `${mode} gradInput`);
      matches('ConditionalBatchNorm2d', layer.weight.grad, record.gradWeight, `${mode} grad weight`);
      matches('ConditionalBatchNorm2d', layer.bias.grad, record.gradBias, `${mode} grad bias`);
      matches('ConditionalBatchNorm2d', layer.runningMean, record.runningMean, `${mode} runningMean`);
      matches('ConditionalBatchNorm2d', layer.runningVar, record.runningVar, `${mode} runningVar`);
    }
  });

  it('with every class embedding equal to (γ, β) it is BatchNorm2d with that affine, bit for bit', () => {
    const conditional = new ConditionalBatchNorm2d(2, 3, { momentum: 0.3, ...f64 });
    const plain = new BatchNorm2d(2, { momentum: 0.3, ...f64 });
    const [gamma, beta] = [tensor([1.5, -0.5], f64), tensor([0.2, 0.1], f64)];
    setValues(conditional.weight, gamma.reshape([1, 2]).broadcastTo([3, 2]));
    setValues(conditional.bias, beta.reshape([1, 2]).broadcastTo([3, 2]));
    setValues(plain.weight!, gamma);
    setValues(plain.bias!, beta);
    const x = seededTensor([3, 2, 2, 2], 48, { scale: 2, offset: 1 });
    exactlyEqual(conditional.forward(x, [2, 0, 1]), plain.forward(x), 'train');
    exactlyEqual(conditional.runningVar!, plain.runningVar!, 'runningVar');
    conditional.eval();
    plain.eval();
    exactlyEqual(conditional.forward(x, [1, 1, 1]), plain.forward(x), 'eval');
    // the functional takes any per-sample (N, C) affine, e.g. a projection of a condition (folded into
    // the normalization as batchNorm folds its own affine, so equal to rounding, not bit for bit)
    const perSample = seededTensor([3, 2], 49, { offset: 1 });
    expectAllclose(conditionalBatchNorm(x, null, null, { weight: perSample, bias: perSample, training: true }),
      batchNorm(x, null, null, { training: true }).mul(perSample.reshape([3, 2, 1, 1])).add(perSample.reshape([3, 2, 1, 1])), 'functional', { atol: 1e-14, rtol: 1e-14 });
  });

  it('float32 at large means', () => {
    class Fixed extends ConditionalBatchNorm2d {
      override forward(x: Tensor): Tensor {
        return super.forward(x, [0, 1, 0]);
      }
    }
    expectFloat32Sound((dtype) => new Fixed(2, 2, { dtype }), [3, 2, 3, 3]);
  });

  it('validates, naming the layer', () => {
    const layer = new ConditionalBatchNorm2d(2, 3);
    const x = seededTensor([2, 2, 2, 2], 50).to('float32');
    expect(() => layer.forward(x)).toThrow('ConditionalBatchNorm2d: forward(x, classIndex) needs classIndex, one class per sample');
    expect(() => layer.forward(x, [0])).toThrow('ConditionalBatchNorm2d: classIndex must hold one class per sample (2 for input of shape [2, 2, 2, 2]), got 1 value(s)');
    expect(() => layer.forward(x, [0, 3])).toThrow('ConditionalBatchNorm2d: classIndex values must be integers in [0, 3), got 3');
    expect(() => layer.forward(x, [0, 0.5])).toThrow('ConditionalBatchNorm2d: classIndex values must be integers in [0, 3), got 0.5');
    expect(() => new ConditionalBatchNorm2d(2, 0)).toThrow('ConditionalBatchNorm2d: numClasses must be a positive integer, got 0');
    expect(() => new ConditionalBatchNorm2d(2, 2, { affine: true } as never)).toThrow(/ConditionalBatchNorm2d: unknown option 'affine'/);
    expect(Object.keys(layer.stateDict())).toEqual(['weight', 'bias', 'runningMean', 'runningVar', 'numBatchesTracked']);
  });
});

describe('IterNorm matches the authors\' forward in plain torch (float64)', () => {
  it.each(fixtures.iterNorm.map((c) => [c.name, c] as const))('%s: two training steps then eval', (_, c) => {
    const layer = new IterNorm(c.shape[1]!, { numGroups: c.numGroups, iterations: c.iterations, momentum: c.momentum, eps: c.eps, ...f64 });
    setValues(layer.weight!, fromFixture(c.weight));
    setValues(layer.bias!, fromFixture(c.bias));
    for (const [mode, record] of [...c.train.map((r) => ['train', r] as const), ['eval', c.eval] as const]) {
      layer.train(mode === 'train');
      layer.zeroGrad();
      const x = fromFixture(record.x, 'float64', true);
      const y = layer.forward(x);
      y.mul(fromFixture(record.g)).sum().backward();
      const tolerance = { atol: 1e-11, rtol: 1e-9 };
      matches('IterNorm', y, record.y, `${mode} y`, tolerance);
      matches('IterNorm', x.grad, record.gradInput, `${mode} gradInput`, tolerance);
      matches('IterNorm', layer.weight!.grad, record.gradWeight, `${mode} grad weight`, tolerance);
      matches('IterNorm', layer.bias!.grad, record.gradBias, `${mode} grad bias`, tolerance);
      matches('IterNorm', layer.runningMean, record.runningMean, `${mode} runningMean`, tolerance);
      matches('IterNorm', layer.runningWhitening, record.runningWhitening, `${mode} runningWhitening`, tolerance);
    }
  });

  it('the output covariance of a well-conditioned batch is ≈ I; groups of one channel are BatchNorm', () => {
    // 64 samples of 3 correlated channels (covariance eigenvalues within a factor ~10)
    const z = randn([64, 3], { dtype: 'float64', seed: 51 });
    const mix = tensor([[1, 0.4, 0], [0, 1, 0.3], [0.2, 0, 0.8]], f64);
    const x = z.matmul(mix).add(tensor([1, -2, 3], f64));
    const y = iterNorm(x, null, null, { iterations: 12, eps: 0, training: true });
    const centred = y.sub(y.mean(0, true));
    const covariance = centred.transpose(0, 1).matmul(centred).div(64);
    expectAllclose(covariance, eye(3, f64), 'covariance ≈ I', { atol: 1e-6, rtol: 0 });
    // standardization alone leaves the correlations
    const standardized = batchNorm(x, null, null, { training: true, eps: 0 });
    const correlation = standardized.transpose(0, 1).matmul(standardized).div(64);
    expect(Math.abs((correlation.toArray() as number[][])[0]![1]!)).toBeGreaterThan(0.2);
    // with 1-channel groups IterNorm is BatchNorm (Σ is 1 × 1: W = 1/sqrt(σ² + eps) for any T ≥ 0)
    const perChannel = iterNorm(x, null, null, { numGroups: 3, iterations: 4, training: true });
    expectAllclose(perChannel, batchNorm(x, null, null, { training: true }), 'groups of one channel', { atol: 1e-13, rtol: 0 });
    const layer = new IterNorm(3, { numGroups: 3, ...f64 });
    expect(Object.keys(layer.stateDict())).toEqual(['weight', 'bias', 'runningMean', 'runningWhitening']);
    expect(layer.runningWhitening.shape).toEqual([3, 1, 1]);
  });

  it('float32 at large means; many iterations stay at Σ^{-1/2} in float32 (the coupled iteration is stable)', () => {
    expectFloat32Sound((dtype) => new IterNorm(2, { dtype }), [6, 2, 2, 2]);
    // condition number ≈ 13: the one-matrix iteration P ← (3P − P³Σ_N) / 2 diverges here in float32 by T = 10
    const x = randn([256, 2], { seed: 6 }).matmul(tensor([[1, 0.9], [0, 0.4]]));
    for (const iterations of [10, 30]) {
      const y = iterNorm(x, null, null, { iterations, training: true });
      expectAllclose(y.transpose(0, 1).matmul(y).div(256), eye(2), `float32 covariance, T = ${iterations}`, { atol: 1e-3, rtol: 0 });
    }
  });

  it('validates, naming the entry point', () => {
    expect(() => new IterNorm(4, { numGroups: 3 })).toThrow('IterNorm: numGroups must be a positive integer dividing the 4 channels, got 3');
    expect(() => new IterNorm(4, { T: 3 } as never)).toThrow(/IterNorm: unknown option 'T'/);
    expect(() => new IterNorm(4, { iterations: -1 })).toThrow('IterNorm: iterations must be a non-negative integer, got -1');
    expect(() => new IterNorm(2).forward(tensor([[1, 2]]))).toThrow('IterNorm: Expected more than 1 value per channel when training, got input size [1, 2]');
    expect(() => new IterNorm(3).forward(tensor([[1, 2]]))).toThrow(/IterNorm: expected 3 channels/);
    expect(() => iterNorm(tensor([[1, 2], [3, 4]]), tensor([0, 0]), tensor([[1]]))).toThrow('iterNorm: runningWhitening must have shape [1, 2, 2] (numGroups, d, d) for 2 channels, got [1, 1]');
  });
});

describe('checkLayer on the research kit II variants (float64, train and eval, to third order)', () => {
  it('GhostBatchNorm1d (2 virtual batches)', () => {
    const report = checkLayer((s) => new GhostBatchNorm1d(s[1]!, { virtualBatchSize: 2, momentum: 0.3, ...f64 }), { inputShapes: [[4, 1]], order: 3, runs: 1, seed: 3 });
    expect(report.checks).toBe(2 * 3);
  });
  it('GhostBatchNorm2d (virtual batches 2 + 1) to order 2 (the 1d case, the same code, goes to order 3)', () => {
    const report = checkLayer((s) => new GhostBatchNorm2d(s[1]!, { virtualBatchSize: 2, ...f64 }), { inputShapes: [[3, 1, 1, 2]], order: 2, runs: 1, seed: 4 });
    expect(report.checks).toBe(2 * 2);
  });
});

describe('checkLayer, element-wise and per-sample variants', () => {
  const third = { order: 3, runs: 1, seed: 5 } as const;
  it('DynamicTanh to order 3', () => {
    expect(checkLayer((s) => new DynamicTanh(s.slice(-1), f64), { inputShapes: [[2, 3]], ...third }).checks).toBe(6);
  });
  it('ScaleNorm to order 3', () => {
    expect(checkLayer(() => new ScaleNorm(1.5, f64), { inputShapes: [[2, 3]], ...third }).checks).toBe(6);
  });
  it('LocalResponseNorm to order 3', () => {
    expect(checkLayer(() => new LocalResponseNorm(2, { alpha: 0.5 }), { inputShapes: [[1, 3, 2]], ...third }).checks).toBe(6);
  });
  it('GlobalResponseNorm to order 3', () => {
    expect(checkLayer((s) => new GlobalResponseNorm(s[1]!, f64), { inputShapes: [[1, 2, 3]], perturbParameters: 0.5, ...third }).checks).toBe(6);
  });
  it('FilterResponseNorm2d + TLU to order 2 (TLU has a kink), learnable eps', () => {
    expect(checkLayer((s) => new FilterResponseNorm2d(s[1]!, { learnableEps: true, ...f64 }), { inputShapes: [[1, 2, 2, 2]], order: 2, runs: 2, seed: 6 }).checks).toBe(8);
  });
});

describe('checkLayer, reparametrized weights', () => {
  it('weightNorm(Linear) to order 3', () => {
    expect(checkLayer(() => weightNorm(new Linear(2, 2, f64)), { inputShapes: [[2, 2]], order: 3, runs: 1, seed: 8 }).checks).toBe(6);
  });
  it('spectralNorm(Linear) to order 3 (u, v from the power iteration held fixed)', () => {
    expect(checkLayer(() => spectralNorm(new Linear(2, 2, f64), { nPowerIterations: 2 }), { inputShapes: [[2, 2]], order: 3, runs: 1, seed: 9 }).checks).toBe(6);
  });
});

describe('checkLayer, EvoNorm, AdaIN, conditional BN', () => {
  it('EvoNorm2dB0 to order 2 (its max has a kink)', () => {
    expect(checkLayer((s) => new EvoNorm2dB0(s[1]!, { momentum: 0.3, ...f64 }), { inputShapes: [[2, 2, 1, 2]], order: 2, runs: 2, seed: 10 }).checks).toBe(8);
  });
  it('EvoNorm2dS0 to order 3', () => {
    expect(checkLayer((s) => new EvoNorm2dS0(s[1]!, { groups: 1, ...f64 }), { inputShapes: [[1, 2, 1, 2]], order: 3, runs: 1, seed: 11 }).checks).toBe(6);
  });
  it('adaptiveInstanceNorm to order 3 in content and style', () => {
    expect(checkLayer(() => new AdaINWithStyle([1, 1, 3]), { inputShapes: [[1, 1, 2]], order: 3, runs: 1, seed: 12 }).checks).toBe(6);
  });
  it('ConditionalBatchNorm2d to order 3', () => {
    expect(checkLayer((s) => new FixedClassBatchNorm(s[1]!, 2, { momentum: 0.3, ...f64 }), { inputShapes: [[2, 1, 1, 2]], order: 3, runs: 1, seed: 13 }).checks).toBe(6);
  });
});

describe('checkLayer, IterNorm', () => {
  it('IterNorm (2 channels whitened together, T = 2, no affine) to order 3', () => {
    expect(checkLayer((s) => new IterNorm(s[1]!, { iterations: 2, momentum: 0.3, affine: false, ...f64 }), { inputShapes: [[3, 2]], order: 3, runs: 1, seed: 14 }).checks).toBe(6);
  }, 20_000);
  it('IterNorm (T = 3, affine) to order 2', () => {
    expect(checkLayer((s) => new IterNorm(s[1]!, { iterations: 3, ...f64 }), { inputShapes: [[4, 2]], order: 2, runs: 1, seed: 15 }).checks).toBe(4);
  }, 20_000);
});

describe('forward mode (jvp) agrees with central differences on every variant (checkLayer forwardAd, order 1, train and eval)', () => {
  const cases: [string, (shape: number[]) => Module, number[]][] = [
    ['GhostBatchNorm1d', (s) => new GhostBatchNorm1d(s[1]!, { virtualBatchSize: 2, ...f64 }), [4, 1]],
    ['DynamicTanh', (s) => new DynamicTanh(s.slice(-1), f64), [2, 3]],
    ['ScaleNorm', () => new ScaleNorm(1.5, f64), [2, 3]],
    ['LocalResponseNorm', () => new LocalResponseNorm(2, { alpha: 0.5 }), [1, 3, 2]],
    ['GlobalResponseNorm', (s) => new GlobalResponseNorm(s[1]!, f64), [1, 2, 3]],
    ['FilterResponseNorm2d', (s) => new FilterResponseNorm2d(s[1]!, { learnableEps: true, ...f64 }), [1, 2, 2, 2]],
    ['weightNorm(Linear)', () => weightNorm(new Linear(2, 2, f64)), [2, 2]],
    ['spectralNorm(Linear)', () => spectralNorm(new Linear(2, 2, f64)), [2, 2]],
    ['EvoNorm2dB0', (s) => new EvoNorm2dB0(s[1]!, f64), [2, 2, 1, 2]],
    ['EvoNorm2dS0', (s) => new EvoNorm2dS0(s[1]!, { groups: 1, ...f64 }), [1, 2, 1, 2]],
    ['adaptiveInstanceNorm', () => new AdaINWithStyle([1, 1, 3]), [1, 1, 2]],
    ['ConditionalBatchNorm2d', (s) => new FixedClassBatchNorm(s[1]!, 2, f64), [2, 1, 1, 2]],
    ['IterNorm', (s) => new IterNorm(s[1]!, { iterations: 3, ...f64 }), [3, 2]],
  ];
  it.each(cases)('%s', (_, make, shape) => {
    expect(checkLayer(make, { inputShapes: [shape], forwardAd: true, runs: 1, seed: 16 }).checks).toBe(2);
  });
});

describe('worst error against each reference', () => {
  it('is recorded', () => {
    console.log(`research kit II, worst |error| against the references: ${JSON.stringify(worstError)}`);
    expect(Object.keys(worstError).length).toBeGreaterThan(0);
  });
});
