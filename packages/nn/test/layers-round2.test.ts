import { readFileSync } from 'node:fs';
import { grad, gradcheck, gradgradcheck, noGrad, tensor, zeros, type Tensor } from '@normgrad/core';
import { describe, expect, it } from 'vitest';
import {
  AdaptiveAvgPool2d,
  AvgPool2d,
  BatchNorm1d,
  BatchNorm2d,
  BatchNorm3d,
  Conv1d,
  Conv2d,
  ConvTranspose2d,
  Dropout,
  Dropout2d,
  ELU,
  Flatten,
  GELU,
  GroupNorm,
  Identity,
  InstanceNorm3d,
  LayerNorm,
  LeakyReLU,
  Linear,
  MaxPool2d,
  Module,
  ModuleDict,
  ModuleList,
  ReLU,
  Sequential,
  Sigmoid,
  SiLU,
  Softmax,
  Softplus,
  Tanh,
  WSConv2d,
  adaptiveAvgPool2d,
  conv1d,
  conv2d,
  convTranspose2d,
  dropout2d,
  elu,
  gelu,
  leakyRelu,
  maxPool2d,
  silu,
  softmax,
  softplus,
  type AdaptiveOutputSize,
} from '../src/index.js';
import { expectAllclose, fromFixture, seededTensor, type FixtureTensor } from './helpers.js';

interface FunctionCase {
  name: string;
  op: string;
  options: Record<string, unknown>;
  inputs: Record<string, FixtureTensor>;
  y: FixtureTensor;
  g: FixtureTensor;
  grads: Record<string, FixtureTensor>;
  v?: Record<string, FixtureTensor>;
  secondGrads?: Record<string, FixtureTensor>;
}
interface NormStep {
  training: boolean;
  x: FixtureTensor;
  g: FixtureTensor;
  y: FixtureTensor;
  gradInput: FixtureTensor;
  gradWeight: FixtureTensor;
  gradBias: FixtureTensor;
  runningMean: FixtureTensor;
  runningVar: FixtureTensor;
}
const fixtures = JSON.parse(readFileSync(new URL('./fixtures/layers.json', import.meta.url), 'utf8')) as {
  functions: FunctionCase[];
  norms: { layer: string; weight: FixtureTensor; bias: FixtureTensor; steps: NormStep[] }[];
  strings: Record<string, string>;
};

type Options = Record<string, unknown>;
const ops: Record<string, (inputs: Record<string, Tensor>, o: Options) => Tensor> = {
  conv2d: ({ x, weight, bias }, o) => conv2d(x!, weight!, bias ?? null, o),
  conv1d: ({ x, weight, bias }, o) => conv1d(x!, weight!, bias ?? null, o),
  convTranspose2d: ({ x, weight, bias }, o) => convTranspose2d(x!, weight!, bias ?? null, o),
  maxPool2d: ({ x }, { kernelSize, ...o }) => maxPool2d(x!, kernelSize as number, o),
  adaptiveAvgPool2d: ({ x }, o) => adaptiveAvgPool2d(x!, o.outputSize as AdaptiveOutputSize),
  gelu: ({ x }, o) => gelu(x!, o),
  silu: ({ x }) => silu(x!),
  leakyRelu: ({ x }, o) => leakyRelu(x!, o.negativeSlope as number),
  elu: ({ x }, o) => elu(x!, o.alpha as number),
  softplus: ({ x }, o) => softplus(x!, o.beta as number | undefined, o.threshold as number | undefined),
  tanh: ({ x }) => x!.tanh(),
  sigmoid: ({ x }) => x!.sigmoid(),
  softmax: ({ x }, o) => softmax(x!, o.dim as number),
};

describe('Round 2 layers against PyTorch 1.13 (float64)', () => {
  for (const c of fixtures.functions) {
    it(`${c.name}: output, first and second derivatives`, () => {
      const names = Object.keys(c.inputs);
      const op = ops[c.op]!;
      const g = fromFixture(c.g);
      const inputs = names.map((n) => fromFixture(c.inputs[n]!));
      const call = (...args: Tensor[]): Tensor => op(Object.fromEntries(names.map((n, i) => [n, args[i]!])), c.options);
      expectAllclose(call(...inputs), c.y, `${c.name} output`, { atol: 1e-12, rtol: 1e-10 });
      const argnums = names.map((_, i) => i);
      const first = grad((...args: Tensor[]) => call(...args).mul(g).sum(), { argnums });
      const grads = first(...inputs) as Tensor[];
      names.forEach((n, i) => expectAllclose(grads[i], c.grads[n], `${c.name} d/d${n}`, { atol: 1e-12, rtol: 1e-10 }));
      if (c.v && c.secondGrads) {
        const v = names.map((n) => fromFixture(c.v![n]!));
        const inner = (...args: Tensor[]): Tensor =>
          (first(...args) as Tensor[]).map((d, i) => d.mul(v[i]!).sum()).reduce((a, b) => a.add(b));
        const second = grad(inner, { argnums, allowUnused: true })(...inputs) as Tensor[]; // a linear op's second derivative does not use x
        names.forEach((n, i) => expectAllclose(second[i], c.secondGrads![n], `${c.name} second derivative d/d${n}`, { atol: 1e-11, rtol: 1e-9 }));
      }
    });
  }

  for (const n of fixtures.norms) {
    it(`${n.layer}: two training steps and eval (outputs, gradients, running statistics)`, () => {
      const layer = n.layer === 'BatchNorm3d' ? new BatchNorm3d(3, { momentum: 0.2, dtype: 'float64' }) : new InstanceNorm3d(3, { affine: true, trackRunningStats: true, dtype: 'float64' });
      const state = layer.stateDict();
      layer.loadStateDict({ ...state, weight: fromFixture(n.weight), bias: fromFixture(n.bias) });
      for (const [k, step] of n.steps.entries()) {
        layer.train(step.training);
        layer.zeroGrad();
        const x = fromFixture(step.x, 'float64', true);
        const y = layer.forward(x);
        y.mul(fromFixture(step.g)).sum().backward();
        expectAllclose(y, step.y, `${n.layer} step ${k} output`);
        expectAllclose(x.grad, step.gradInput, `${n.layer} step ${k} input gradient`);
        expectAllclose(layer.weight!.grad, step.gradWeight, `${n.layer} step ${k} weight gradient`);
        expectAllclose(layer.bias!.grad, step.gradBias, `${n.layer} step ${k} bias gradient`);
        expectAllclose(layer.runningMean, step.runningMean, `${n.layer} step ${k} running mean`);
        expectAllclose(layer.runningVar, step.runningVar, `${n.layer} step ${k} running variance`);
      }
    });
  }
});

describe('max-pool gradient at tied maxima', () => {
  it('goes entirely to the first maximal element of the window (PyTorch), not split', () => {
    const x = tensor([[[[1, 1], [1, 1]]]], { dtype: 'float64', requiresGrad: true });
    maxPool2d(x, 2).sum().backward();
    expect(x.grad!.toArray()).toEqual([[[[1, 0], [0, 0]]]]);
  });
  it('gives NaN for a window holding NaN, and Tensor.max keeps its even split', () => {
    expect(maxPool2d(tensor([[[[1, Number.NaN], [0, 2]]]]), 2).item()).toBeNaN();
    const x = tensor([3, 3], { dtype: 'float64', requiresGrad: true });
    x.max().backward();
    expect(x.grad!.toArray()).toEqual([0.5, 0.5]);
  });
});

describe('gradcheck and gradgradcheck of the new functionals', () => {
  const x = seededTensor([1, 4, 5, 5], 1, { requiresGrad: true });
  const w = seededTensor([2, 2, 2, 2], 2, { requiresGrad: true });
  const wt = seededTensor([4, 1, 2, 2], 3, { requiresGrad: true });
  const x1 = seededTensor([1, 4, 6], 4, { requiresGrad: true });
  const w1 = seededTensor([2, 2, 3], 5, { requiresGrad: true });
  const a = seededTensor([2, 5], 6, { scale: 3, requiresGrad: true });
  // [label, fn, inputs, also check forward mode]
  const cases: [string, (...t: Tensor[]) => Tensor, Tensor[], boolean][] = [
    ['conv2d groups + dilation', (xi, wi) => conv2d(xi!, wi!, null, { groups: 2, dilation: 2, stride: [1, 2] }), [x, w], false],
    ['conv1d', (xi, wi) => conv1d(xi!, wi!, null, { groups: 2, padding: 1, dilation: 2 }), [x1, w1], false],
    ['convTranspose2d', (xi, wi) => convTranspose2d(xi!, wi!, null, { groups: 2, stride: 2, padding: 1, outputPadding: 1 }), [x, wt], false],
    ['adaptiveAvgPool2d', (xi) => adaptiveAvgPool2d(xi!, [3, 2]), [x], false],
    ['gelu', (ai) => gelu(ai!), [a], true],
    ['gelu tanh', (ai) => gelu(ai!, { approximate: 'tanh' }), [a], true],
    ['silu', (ai) => silu(ai!), [a], true],
    ['elu', (ai) => elu(ai!, 0.7), [a], true],
    ['softplus', (ai) => softplus(ai!, 1.5, 4), [a], true],
  ];
  it.each(cases)('%s', (label, fn, inputs, forwardMode) => {
    expect(gradcheck(fn, inputs, { checkForwardAd: forwardMode }).ok, `${label} gradcheck`).toBe(true);
    expect(gradgradcheck(fn, inputs).ok, `${label} gradgradcheck`).toBe(true);
  });
});

describe('printing (str(module) of PyTorch 1.13)', () => {
  it('prints every layer and container as PyTorch does', () => {
    const model = new Sequential(
      new Conv2d(1, 8, 3, { padding: 1 }),
      new BatchNorm2d(8),
      new ReLU(),
      new MaxPool2d(2),
      new Conv2d(8, 8, 3, { stride: 2, dilation: 2, groups: 4, bias: false }),
      new AdaptiveAvgPool2d([1, 1]),
      new Flatten(),
      new Dropout(0.25),
      new Linear(8, 3),
      new Softmax(1),
    );
    const s = fixtures.strings;
    expect(String(model)).toBe(s.sequential);
    expect(String(new Conv1d(2, 4, 3, { stride: 2, padding: 1, dilation: 2, groups: 2 }))).toBe(s.Conv1d);
    expect(String(new ConvTranspose2d(4, 2, 3, { stride: 2, padding: 1, outputPadding: 1, groups: 2 }))).toBe(s.ConvTranspose2d);
    expect(String(new MaxPool2d([2, 3], { stride: 1, padding: 1, ceilMode: true }))).toBe(s.MaxPool2d);
    expect(String(new AvgPool2d(3, { stride: 2, padding: 1 }))).toBe(s.AvgPool2d);
    expect(String(new BatchNorm1d(4, { eps: 1e-3, momentum: null, affine: false }))).toBe(s.BatchNorm1d);
    expect(String(new BatchNorm3d(4))).toBe(s.BatchNorm3d);
    expect(String(new InstanceNorm3d(4, { affine: true }))).toBe(s.InstanceNorm3d);
    expect(String(new LayerNorm([3, 4], { eps: 1e-6 }))).toBe(s.LayerNorm);
    expect(String(new GroupNorm(2, 4))).toBe(s.GroupNorm);
    expect(String(new GELU({ approximate: 'tanh' }))).toBe(s.GELU);
    expect(String(new ELU(0.5))).toBe(s.ELU);
    expect(String(new Softplus())).toBe(s.Softplus);
    expect(String(new LeakyReLU())).toBe(s.LeakyReLU);
    expect(String(new Dropout2d(0.3))).toBe(s.Dropout2d);
    expect(String(new ModuleList([new Linear(2, 3), new Sequential(new Tanh(), new Identity()), new SiLU()]))).toBe(s.ModuleList);
    expect(String(new ModuleDict({ act: new Sigmoid(), pool: new AdaptiveAvgPool2d([2, null]) }))).toBe(s.ModuleDict);
  });
});

describe('unknown option keys and bad arguments', () => {
  it('Conv2d takes groups and dilation (PyTorch shapes), and rejects misspelt keys with a suggestion', () => {
    const conv = new Conv2d(2, 4, 3, { groups: 2, dilation: 2 });
    expect(conv.weight.shape).toEqual([4, 1, 3, 3]);
    expect(conv.forward(zeros([1, 2, 7, 7])).shape).toEqual([1, 4, 3, 3]);
    expect(() => new Conv2d(2, 4, 3, { bais: false } as never)).toThrow("Conv2d: unknown option 'bais' (did you mean 'bias'?)");
    expect(() => new BatchNorm2d(3, { momentun: 0.5 } as never)).toThrow("BatchNorm2d: unknown option 'momentun' (did you mean 'momentum'?)");
    expect(() => new WSConv2d(2, 4, 3, { epss: 1 } as never)).toThrow("WSConv2d: unknown option 'epss' (did you mean 'eps'?)");
    expect(() => new Conv2d(3, 4, 3, { groups: 2 })).toThrow('Conv2d: inChannels (3) must be divisible by groups (2)');
  });
  it('every constructor and functional names itself', () => {
    const bad = { nope: 1 } as never;
    const x = zeros([1, 2, 4, 4]);
    const throwers: [string, () => unknown][] = [
      ['Linear', () => new Linear(2, 2, bad)],
      ['Conv1d', () => new Conv1d(2, 2, 1, bad)],
      ['ConvTranspose2d', () => new ConvTranspose2d(2, 2, 1, bad)],
      ['MaxPool2d', () => new MaxPool2d(2, bad)],
      ['AvgPool2d', () => new AvgPool2d(2, bad)],
      ['Dropout', () => new Dropout(0.5, bad)],
      ['Dropout2d', () => new Dropout2d(0.5, bad)],
      ['GELU', () => new GELU(bad)],
      ['BatchNorm1d', () => new BatchNorm1d(2, bad)],
      ['BatchNorm3d', () => new BatchNorm3d(2, bad)],
      ['InstanceNorm3d', () => new InstanceNorm3d(2, bad)],
      ['LayerNorm', () => new LayerNorm(2, bad)],
      ['GroupNorm', () => new GroupNorm(1, 2, bad)],
      ['conv2d', () => conv2d(x, zeros([2, 2, 1, 1]), null, bad)],
      ['conv1d', () => conv1d(zeros([1, 2, 4]), zeros([2, 2, 1]), null, bad)],
      ['convTranspose2d', () => convTranspose2d(x, zeros([2, 2, 1, 1]), null, bad)],
      ['maxPool2d', () => maxPool2d(x, 2, bad)],
      ['gelu', () => gelu(x, bad)],
      ['dropout2d', () => dropout2d(x, 0.5, bad)],
    ];
    for (const [name, fn] of throwers) expect(fn, name).toThrow(new RegExp(`^${name}: unknown option 'nope'`));
    expect(() => new ConvTranspose2d(2, 2, 3, { stride: 2, outputPadding: 2 })).toThrow('ConvTranspose2d: outputPadding (2, 2) must be smaller than either stride (2, 2) or dilation (1, 1)');
    expect(() => adaptiveAvgPool2d(x, 0)).toThrow('adaptiveAvgPool2d: outputSize must be a positive integer');
  });
});

describe('containers, Identity, Dropout2d', () => {
  it('ModuleList and ModuleDict name their children; plain objects and Maps of modules are walked, a Set is an Error', () => {
    const list = new ModuleList([new Linear(2, 3), new Linear(3, 1)]);
    expect(list.namedParameters().map(([n]) => n)).toEqual(['0.weight', '0.bias', '1.weight', '1.bias']);
    const dict = new ModuleDict({ enc: new Linear(2, 2, { bias: false }) });
    expect(dict.namedParameters().map(([n]) => n)).toEqual(['enc.weight']);
    class Holder extends Module {
      blocks = { a: new Linear(1, 1, { bias: false }) };
      heads = new Map([['b', new Linear(1, 1, { bias: false })]]);
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    expect(new Holder().namedParameters().map(([n]) => n)).toEqual(['blocks.a.weight', 'heads.b.weight']);
    class BadHolder extends Module {
      blocks = new Set([new Linear(1, 1)]);
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    expect(() => new BadHolder().parameters()).toThrow("BadHolder: field 'blocks' is a Set holding Modules");
    expect(() => list.forward()).toThrow('ModuleList: has no forward');
  });
  it('Identity returns its input; Dropout2d zeroes whole channels and scales the rest', () => {
    const x = seededTensor([4, 6, 3, 3], 9, { offset: 2, scale: 1 });
    expect(new Identity().forward(x)).toBe(x);
    const y = new Dropout2d(0.5, { seed: 3 }).forward(x);
    const ratio = noGrad(() => y.div(x)).toArray() as number[][][][];
    let dropped = 0;
    for (const sample of ratio) {
      for (const channel of sample) {
        const values = channel.flat();
        expect(values.every((r) => Math.abs(r - values[0]!) < 1e-12)).toBe(true);
        expect([0, 2].some((r) => Math.abs(values[0]! - r) < 1e-12)).toBe(true);
        if (values[0] === 0) dropped++;
      }
    }
    expect(dropped).toBeGreaterThan(0);
    expect(dropped).toBeLessThan(24);
    expect(new Dropout2d(0.5).eval().forward(x)).toBe(x);
  });
});
