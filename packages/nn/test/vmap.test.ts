/**
 * Norms under vmap: per-example gradients by vmap(grad) equal a loop of single-example gradients
 * (an MLP with LayerNorm, a convnet with GroupNorm); every norm without batch statistics works per
 * example; batch statistics inside a vmap over a batch's examples are a clear Error, and eval mode
 * works; stackModuleState stacks an ensemble's state.
 */
import { describe, expect, it } from 'vitest';
import * as ng from '@normgrad/core';
import type { Tensor } from '@normgrad/core';
import {
  BatchNorm1d,
  BatchNorm2d,
  BatchRenorm1d,
  Conv2d,
  Dropout,
  Dropout2d,
  CrossIterationBatchNorm2d,
  DynamicTanh,
  EvoNorm2dB0,
  EvoNorm2dS0,
  FilterResponseNorm2d,
  Flatten,
  GhostBatchNorm1d,
  GlobalResponseNorm,
  GroupNorm,
  InstanceNorm1d,
  InstanceNorm2d,
  IterNorm,
  LayerNorm,
  Linear,
  LocalResponseNorm,
  ReLU,
  RMSNorm,
  ScaleNorm,
  Sequential,
  SwitchableNorm1d,
  WSConv2d,
  adaptiveInstanceNorm,
  batchNorm,
  crossEntropy,
  dropout,
  instanceNorm,
  functionalCall,
  functionalCallWithBuffers,
  mseLoss,
  spectralNorm,
  stackModuleState,
  weightNorm,
  type Module,
} from '../src/index.js';

/** The examples of x along axis 0. */
function examples(x: Tensor): Tensor[] {
  return Array.from({ length: x.shape[0]! }, (_, position) => x.narrow(0, position, 1).squeeze(0));
}

function expectClose(actual: Tensor, expected: Tensor, tolerance = 1e-12): void {
  expect(actual.shape).toEqual(expected.shape);
  expect(actual.sub(expected).abs().max().item()).toBeLessThanOrEqual(tolerance * (1 + expected.abs().max().item()));
}

/** Per-example gradients of the loss with respect to every parameter: by vmap(grad) and by a loop. */
function perExampleGradients(model: Module, xs: Tensor, ys: Tensor): { vmapped: Tensor[]; looped: Tensor[] } {
  const names = model.namedParameters().map(([name]) => name);
  const parameters = model.parameters();
  const argnums = names.map((_, index) => index);
  // one example (x, y) through the model as a batch of one
  const loss = (...args: Tensor[]) => {
    const params = Object.fromEntries(names.map((name, index) => [name, args[index]!]));
    const [x, y] = args.slice(names.length) as [Tensor, Tensor];
    return mseLoss(functionalCall(model, params, x.unsqueeze(0)), y.unsqueeze(0));
  };
  const gradient = ng.grad(loss, { argnums });
  const vmapped = ng.vmap(gradient, { inDims: [...names.map(() => null), 0, 0] })(...parameters, xs, ys);
  const perExample = examples(xs).map((x, index) => gradient(...parameters, x, examples(ys)[index]!));
  const looped = names.map((_, k) => ng.stack(perExample.map((grads) => grads[k]!), 0));
  return { vmapped, looped };
}

describe('per-example gradients by vmap(grad) equal a loop (float64, 1e-12)', () => {
  it('a classifier with crossEntropy on int32 class indices (label smoothing, one index ignored)', () => {
    ng.manualSeed(8);
    const model = new Sequential(new Linear(5, 6, { dtype: 'float64' }), new LayerNorm(6, { dtype: 'float64' }), new ReLU(), new Linear(6, 3, { dtype: 'float64' }));
    const names = model.namedParameters().map(([name]) => name);
    const xs = ng.randn([6, 5], { dtype: 'float64', seed: 9 });
    const labels = ng.tensor(Int32Array.from([0, 2, 1, -100, 2, 0]));
    const loss = (...args: Tensor[]) => {
      const params = Object.fromEntries(names.map((name, index) => [name, args[index]!]));
      const [x, label] = args.slice(names.length) as [Tensor, Tensor];
      return crossEntropy(functionalCall(model, params, x.unsqueeze(0)), label.unsqueeze(0), { labelSmoothing: 0.1, reduction: 'sum' });
    };
    const gradient = ng.grad(loss, { argnums: names.map((_, index) => index) });
    const vmapped = ng.vmap(gradient, { inDims: [...names.map(() => null), 0, 0] })(...model.parameters(), xs, labels);
    const perExample = examples(xs).map((x, index) => gradient(...model.parameters(), x, examples(labels)[index]!));
    vmapped.forEach((g, k) => expectClose(g, ng.stack(perExample.map((grads) => grads[k]!), 0)));
    expect(() => ng.vmap(gradient, { inDims: [...names.map(() => null), 0, 0] })(...model.parameters(), xs, ng.tensor(Int32Array.from([0, 2, 1, 3, 2, 0])))).toThrow(
      /^crossEntropy: target\[3\] = 3 is not a class index in \[0, 3\)/,
    );
  });


  it('an MLP with LayerNorm', () => {
    ng.manualSeed(1);
    const model = new Sequential(new Linear(6, 8, { dtype: 'float64' }), new LayerNorm(8, { dtype: 'float64' }), new ReLU(), new Linear(8, 3, { dtype: 'float64' }));
    const xs = ng.randn([7, 6], { dtype: 'float64', seed: 2 });
    const ys = ng.randn([7, 3], { dtype: 'float64', seed: 3 });
    const { vmapped, looped } = perExampleGradients(model, xs, ys);
    expect(vmapped).toHaveLength(6);
    vmapped.forEach((gradient, k) => expectClose(gradient, looped[k]!));
  });

  it('a small convnet with GroupNorm', () => {
    ng.manualSeed(4);
    const model = new Sequential(
      new Conv2d(2, 4, 3, { padding: 1, dtype: 'float64' }),
      new GroupNorm(2, 4, { dtype: 'float64' }),
      new ReLU(),
      new Flatten(),
      new Linear(4 * 5 * 4, 2, { dtype: 'float64' }),
    );
    const xs = ng.randn([5, 2, 5, 4], { dtype: 'float64', seed: 5 });
    const ys = ng.randn([5, 2], { dtype: 'float64', seed: 6 });
    const { vmapped, looped } = perExampleGradients(model, xs, ys);
    expect(vmapped).toHaveLength(6);
    vmapped.forEach((gradient, k) => expectClose(gradient, looped[k]!));
  });
});

/** A layer applied to each example (a batch of `batch` along a vmapped axis 0) equals the loop, and so do its input gradients. */
function expectPerExample(layer: (x: Tensor) => Tensor, exampleShape: number[], seed: number): void {
  const xs = ng.randn([3, ...exampleShape], { dtype: 'float64', seed }).mul(1.5).add(0.3);
  expectClose(ng.vmap(layer)(xs), ng.stack(examples(xs).map(layer)));
  const gradient = ng.grad((x: Tensor) => layer(x).sin().sum());
  expectClose(ng.vmap(gradient)(xs), ng.stack(examples(xs).map(gradient)));
}

describe('norms without batch statistics work per example under vmap', () => {
  const f64 = { dtype: 'float64' } as const;
  const cases: [string, () => (x: Tensor) => Tensor, number[]][] = [
    ['LayerNorm', () => { const m = new LayerNorm([3, 2], f64); return (x) => m.forward(x); }, [2, 3, 2]],
    ['GroupNorm', () => { const m = new GroupNorm(2, 4, f64); return (x) => m.forward(x); }, [2, 4, 3]],
    ['InstanceNorm2d (affine, training)', () => { const m = new InstanceNorm2d(3, { affine: true, ...f64 }); return (x) => m.forward(x); }, [2, 3, 2, 2]],
    ['RMSNorm', () => { const m = new RMSNorm(4, f64); return (x) => m.forward(x); }, [2, 4]],
    ['DynamicTanh', () => { const m = new DynamicTanh(4, f64); return (x) => m.forward(x); }, [2, 4]],
    ['ScaleNorm', () => { const m = new ScaleNorm(2, f64); return (x) => m.forward(x); }, [2, 4]],
    ['LocalResponseNorm', () => { const m = new LocalResponseNorm(3); return (x) => m.forward(x); }, [1, 4, 2, 2]],
    ['GlobalResponseNorm', () => { const m = new GlobalResponseNorm(3, f64); return (x) => m.forward(x); }, [1, 3, 2, 2]],
    ['FilterResponseNorm2d', () => { const m = new FilterResponseNorm2d(3, f64); return (x) => m.forward(x); }, [2, 3, 2, 2]],
    ['EvoNorm2dS0', () => { const m = new EvoNorm2dS0(4, { groups: 2, ...f64 }); return (x) => m.forward(x); }, [1, 4, 2, 2]],
    ['WSConv2d', () => { const m = new WSConv2d(2, 3, 2, f64); return (x) => m.forward(x); }, [1, 2, 3, 3]],
    ['weightNorm(Linear)', () => { const m = weightNorm(new Linear(4, 3, f64)); return (x) => m.forward(x); }, [2, 4]],
    ['adaptiveInstanceNorm', () => { const style = ng.randn([1, 3, 2, 2], { ...f64, seed: 9 }); return (x) => adaptiveInstanceNorm(x, style); }, [1, 3, 2, 2]],
    ['BatchNorm2d in eval mode', () => { const m = new BatchNorm2d(3, f64).eval(); return (x) => m.forward(x); }, [1, 3, 2, 2]],
    ['EvoNorm2dB0 in eval mode', () => { const m = new EvoNorm2dB0(3, f64).eval(); return (x) => m.forward(x); }, [1, 3, 2, 2]],
  ];
  cases.forEach(([name, build, shape], index) => {
    it(name, () => {
      ng.manualSeed(10 + index);
      expectPerExample(build(), shape, 20 + index);
    });
  });
});

describe('batch statistics inside a vmap over the examples of a batch are an Error', () => {
  const message = /training-mode batch statistics inside vmap over the examples of a batch: .*batch statistics mix the examples that vmap keeps apart.*eval\(\).*stackModuleState/;
  const xs = ng.randn([4, 2, 3], { seed: 1 });
  it.each([
    ['BatchNorm1d', () => new BatchNorm1d(3)],
    ['BatchNorm1d without running statistics', () => new BatchNorm1d(3, { trackRunningStats: false })],
    ['BatchRenorm1d', () => new BatchRenorm1d(3)],
    ['GhostBatchNorm1d', () => new GhostBatchNorm1d(3, { virtualBatchSize: 1 })],
    ['SwitchableNorm1d (its BN part)', () => new SwitchableNorm1d(3)],
  ] as [string, () => Module][])('%s', (name, build) => {
    const layer = build();
    expect(() => ng.vmap((x: Tensor) => layer.forward(x))(xs)).toThrow(new RegExp(`^${name.split(' ')[0]}: `));
    expect(() => ng.vmap((x: Tensor) => layer.forward(x))(xs)).toThrow(message);
    // a single example without its batch axis gets the same explanation, not a shape error
    expect(() => ng.vmap((x: Tensor) => layer.forward(x))(xs.narrow(1, 0, 1).squeeze(1))).toThrow(message);
  });
  it('CrossIterationBatchNorm2d (its statistics are BatchNorm2d\'s, compensated)', () => {
    const layer = new CrossIterationBatchNorm2d(2, { producer: new Conv2d(1, 2, 1) });
    expect(() => ng.vmap((x: Tensor) => layer.forward(x))(ng.randn([3, 2, 1, 2, 2], { seed: 4 }))).toThrow(/^CrossIterationBatchNorm2d: training-mode batch statistics inside vmap/);
  });
  it('the functionals and the whitening of IterNorm', () => {
    expect(() => ng.vmap((x: Tensor) => new IterNorm(3).forward(x))(xs)).toThrow(/^IterNorm: training-mode batch statistics inside vmap/);
    expect(() => ng.vmap((x: Tensor) => functionalCall(new BatchNorm1d(3), {}, x))(xs)).toThrow(message);
    expect(() => ng.vmap((x: Tensor) => batchNorm(x, ng.zeros([3]), ng.ones([3]), { training: true }))(xs)).toThrow(/^batchNorm: training-mode batch statistics/);
  });
  it('SwitchableNorm without its BN part, and BatchNorm in eval mode, work per example', () => {
    const mixed = new SwitchableNorm1d(3, { usingBatchStats: false });
    const sequences = ng.randn([4, 2, 3, 5], { seed: 2 });
    expectClose(ng.vmap((x: Tensor) => mixed.forward(x))(sequences).to('float64'), ng.stack(examples(sequences).map((x) => mixed.forward(x))).to('float64'), 1e-6);
    const bn = new BatchNorm1d(3).eval();
    expectClose(ng.vmap((x: Tensor) => bn.forward(x))(xs).to('float64'), ng.stack(examples(xs).map((x) => bn.forward(x))).to('float64'), 1e-6);
  });
});

describe('stackModuleState and functionalCallWithBuffers', () => {
  it('stacks parameters (leaves requiring grad) and buffers along a new axis 0', () => {
    const models = [0, 1, 2].map(() => new Sequential(new Linear(3, 2), new BatchNorm1d(2)));
    const [params, buffers] = stackModuleState(models);
    expect(Object.keys(params)).toEqual(models[0]!.namedParameters().map(([name]) => name));
    expect(Object.keys(buffers)).toEqual(models[0]!.namedBuffers().map(([name]) => name));
    expect(params['0.weight']!.shape).toEqual([3, 2, 3]);
    expect(params['0.weight']!.requiresGrad).toBe(true);
    expectClose(params['0.weight']!.narrow(0, 1, 1).squeeze(0).to('float64'), models[1]!.namedParameters()[0]![1].to('float64'), 0);
    expect(buffers['1.runningVar']!.shape).toEqual([3, 2]);
  });

  it('names bad input', () => {
    expect(() => stackModuleState([])).toThrow(/^stackModuleState: expected a non-empty array of Modules, got an empty array/);
    expect(() => stackModuleState([new Linear(3, 2), new Linear(3, 4)])).toThrow(/^stackModuleState: parameters 'weight' is float32 \[4, 3\] in modules\[1\] but float32 \[2, 3\] in modules\[0\]/);
    expect(() => stackModuleState([new Linear(3, 2), new Linear(3, 2, { bias: false })])).toThrow(/^stackModuleState: modules\[1\] has parameters \["weight"\] but modules\[0\] has \["weight","bias"\]/);
    const bn = new BatchNorm1d(2);
    expect(() => functionalCallWithBuffers(bn, {}, { runingMean: ng.zeros([2]) }, ng.randn([3, 2]))).toThrow(/^functionalCallWithBuffers: .*runingMean/);
    expect(() => functionalCallWithBuffers(bn, { runningMean: ng.zeros([2]) }, {}, ng.randn([3, 2]))).toThrow(/^functionalCallWithBuffers: .*runningMean/);
  });

  it('functionalCallWithBuffers writes the running statistics into the buffers given, as a module of its own would', () => {
    const x = ng.randn([5, 2], { seed: 3 });
    const own = new BatchNorm1d(2);
    const template = new BatchNorm1d(2);
    const runningMean = ng.zeros([2]);
    const runningVar = ng.ones([2]);
    const output = functionalCallWithBuffers(template, {}, { runningMean, runningVar }, x);
    expectClose(output.to('float64'), own.forward(x).to('float64'), 0);
    expectClose(runningMean.to('float64'), own.runningMean!.to('float64'), 0);
    expectClose(runningVar.to('float64'), own.runningVar!.to('float64'), 0);
    expectClose(template.runningMean!.to('float64'), ng.zeros([2], { dtype: 'float64' }), 0);
  });
});

describe('an ensemble by functionalCall over the record of stacked parameters', () => {
  it('equals every member on its own, and so do the gradients with respect to the stacked parameters', () => {
    const f64 = { dtype: 'float64' } as const;
    ng.manualSeed(40);
    const members = [0, 1, 2].map(() => new Sequential(new Linear(3, 4, f64), new LayerNorm(4, f64), new ReLU(), new Linear(4, 2, f64)));
    const [params] = stackModuleState(members);
    const names = Object.keys(params);
    const xs = ng.randn([5, 3], { ...f64, seed: 41 });
    const ensemble = ng.vmap((p: Record<string, Tensor>, x: Tensor) => functionalCall(members[0]!, p, x), { inDims: [0, null] });
    expectClose(ensemble(params, xs), ng.stack(members.map((member) => member.forward(xs))));
    // a record holding the leaves that grad differentiates: the loss of every member, summed
    const total = (...leaves: Tensor[]) => ensemble(Object.fromEntries(names.map((name, i) => [name, leaves[i]!])), xs).square().sum();
    const gradients = ng.grad(total, { argnums: names.map((_, i) => i) })(...Object.values(params).map((p) => p.detach()));
    members.forEach((member, m) => {
      const own = ng.grad((...leaves: Tensor[]) => functionalCall(member, Object.fromEntries(names.map((name, i) => [name, leaves[i]!])), xs).square().sum(), { argnums: names.map((_, i) => i) })(
        ...member.parameters().map((p) => p.detach()),
      );
      own.forEach((g, k) => expectClose(gradients[k]!.narrow(0, m, 1).squeeze(0), g));
    });
  });
});

describe('InstanceNorm with running statistics under vmap', () => {
  const f64 = { dtype: 'float64' } as const;
  const xs = ng.randn([4, 3, 2, 5], { ...f64, seed: 30 }); // 4 examples, each a batch (N, C, L) = (3, 2, 5)

  it('in training inside a vmap over the examples: an Error that says what to do', () => {
    const layer = new InstanceNorm1d(2, { trackRunningStats: true, ...f64 });
    const message = /^InstanceNorm1d: running statistics \(trackRunningStats\) updated in training inside vmap over the examples of a batch: the input \(\[3, 2, 5\] per example\) is batched by a vmap that runningMean and runningVar are not.*trackRunningStats false.*eval\(\).*stackModuleState/;
    expect(() => ng.vmap((x: Tensor) => layer.forward(x))(xs)).toThrow(message);
    // unbatched examples (C, L) too, and the functional under its own name
    expect(() => ng.vmap((x: Tensor) => layer.forward(x))(xs.narrow(1, 0, 1).squeeze(1))).toThrow(/^InstanceNorm1d: running statistics \(trackRunningStats\) updated in training inside vmap/);
    expect(() => ng.vmap((x: Tensor) => instanceNorm(x, { runningMean: ng.zeros([2], f64), runningVar: ng.ones([2], f64) }))(xs)).toThrow(/^instanceNorm: running statistics \(trackRunningStats\)/);
    expectClose(layer.runningMean!, ng.zeros([2], f64), 0);
  });

  it('without running statistics, or in eval mode, it works per example', () => {
    const plain = new InstanceNorm1d(2, f64);
    expectPerExample((x) => plain.forward(x), [3, 2, 5], 31);
    const tracked = new InstanceNorm1d(2, { trackRunningStats: true, ...f64 });
    ng.noGrad(() => { ng.assignInPlace(tracked.runningMean!, ng.tensor([0.5, -1], f64)); ng.assignInPlace(tracked.runningVar!, ng.tensor([2, 0.25], f64)); });
    tracked.eval();
    expectPerExample((x) => tracked.forward(x), [3, 2, 5], 32);
  });

  it('over stacked buffers (an ensemble) each member updates its own running statistics', () => {
    const members = [0, 1, 2, 3].map(() => new InstanceNorm1d(2, { trackRunningStats: true, ...f64 }));
    const [params, buffers] = stackModuleState(members);
    const outputs = ng.vmap((p: Record<string, Tensor>, b: Record<string, Tensor>, x: Tensor) => functionalCallWithBuffers(members[0]!, p, b, x))(params, buffers, xs);
    examples(xs).forEach((x, i) => {
      expectClose(outputs.narrow(0, i, 1).squeeze(0), members[i]!.forward(x));
      expectClose(buffers.runningMean!.narrow(0, i, 1).squeeze(0), members[i]!.runningMean!);
      expectClose(buffers.runningVar!.narrow(0, i, 1).squeeze(0), members[i]!.runningVar!);
    });
  });
});

describe('dropout under vmap', () => {
  const xs = ng.randn([4, 3, 2], { seed: 33 }).add(2);

  it("with vmap's default randomness: an Error naming the dropout and the randomness option", () => {
    const choices = /draws its random mask inside vmap, whose randomness option is 'error' \(the default\): pass \{ randomness: 'different' \}.*\{ randomness: 'same' \}.*eval\(\)/;
    expect(() => ng.vmap((x: Tensor) => new Dropout(0.5).forward(x))(xs)).toThrow(new RegExp(`^Dropout: ${choices.source}`));
    expect(() => ng.vmap((x: Tensor) => new Dropout2d(0.5).forward(x))(ng.randn([2, 3, 2, 2], { seed: 1 }))).toThrow(new RegExp(`^Dropout2d: ${choices.source}`));
    expect(() => ng.vmap((x: Tensor) => dropout(x, 0.25))(xs)).toThrow(new RegExp(`^dropout: ${choices.source}`));
    // inside a vmap that says 'same', an inner default vmap still decides
    expect(() => ng.vmap(ng.vmap((x: Tensor) => dropout(x, 0.25)), { randomness: 'same' })(ng.randn([2, 4, 3]))).toThrow(/^dropout: draws its random mask inside vmap/);
  });

  it("randomness 'same' shares one mask, 'different' draws one per example, as a batch's dropout does; eval needs neither", () => {
    const same = ng.vmap((x: Tensor) => dropout(x, 0.5, { seed: 7 }), { randomness: 'same' })(xs);
    expectClose(same.to('float64'), ng.stack(examples(xs).map((x) => dropout(x, 0.5, { seed: 7 }))).to('float64'), 0);
    const different = ng.vmap((x: Tensor) => dropout(x, 0.5, { seed: 7 }), { randomness: 'different' })(xs);
    expectClose(different.to('float64'), dropout(xs, 0.5, { seed: 7 }).to('float64'), 0);
    const kept = different.ne(0).to('float64').sum([1, 2]);
    expect(kept.toArray()).not.toEqual(ng.stack(examples(different).map((d) => d.ne(0).to('float64').sum())).narrow(0, 0, 1).broadcastTo([4]).toArray());
    expectClose(ng.vmap((x: Tensor) => new Dropout(0.5).eval().forward(x))(xs).to('float64'), xs.to('float64'), 0);
  });

  it('a seeded Dropout whose call threw draws, on its next call, the mask a fresh layer draws first', () => {
    for (const make of [() => new Dropout(0.5, { seed: 11 }), () => new Dropout2d(0.5, { seed: 11 })]) {
      const inputs = ng.randn([2, 3, 2, 2], { seed: 5 });
      const layer = make();
      expect(() => ng.vmap((x: Tensor) => layer.forward(x))(inputs)).toThrow(/draws its random mask inside vmap/);
      expectClose(layer.forward(inputs).to('float64'), make().forward(inputs).to('float64'), 0);
    }
  });
});

describe('spectralNorm under vmap', () => {
  const f64 = { dtype: 'float64' } as const;
  /** A spectral-normed Linear whose u and v come from the generator seeded with `seed`. */
  const normed = (seed: number) => {
    ng.manualSeed(seed);
    const layer = new Linear(3, 4, f64);
    return spectralNorm(layer);
  };

  it('a vmap over examples runs the power iteration once per call, as one forward of the batch does (PyTorch runs it once per forward)', () => {
    const xs = ng.randn([5, 3], { ...f64, seed: 34 });
    const [vmapped, batched, looped] = [normed(3), normed(3), normed(3)];
    const perExample = ng.vmap((x: Tensor) => vmapped.forward(x))(xs);
    expectClose(perExample, batched.forward(xs));
    expectClose(vmapped.weightU, batched.weightU);
    expectClose(vmapped.weightV, batched.weightV);
    // a loop runs it once per example: five steps, not one
    examples(xs).forEach((x) => looped.forward(x));
    expect(looped.weightU.sub(batched.weightU).abs().max().item()).toBeGreaterThan(1e-9);
    // per-example gradients with respect to the input through the normalized weight
    const [gradded, reference] = [normed(4), normed(4)];
    const perExampleGradients = ng.vmap(ng.grad((x: Tensor) => gradded.forward(x).sin().sum()))(xs);
    expectClose(perExampleGradients, ng.grad((x: Tensor) => reference.forward(x).sin().sum())(xs));
  });

  it('over an ensemble of stacked weights and vectors, each member steps its own u and v', () => {
    const members = [5, 6, 7].map(normed);
    const copies = [5, 6, 7].map(normed);
    const [params, buffers] = stackModuleState(members);
    const xs = ng.randn([3, 2, 3], { ...f64, seed: 35 });
    const outputs = ng.vmap((p: Record<string, Tensor>, b: Record<string, Tensor>, x: Tensor) => functionalCallWithBuffers(members[0]!, p, b, x))(params, buffers, xs);
    examples(xs).forEach((x, i) => {
      expectClose(outputs.narrow(0, i, 1).squeeze(0), copies[i]!.forward(x));
      expectClose(buffers.weightU!.narrow(0, i, 1).squeeze(0), copies[i]!.weightU);
    });
  });
});
