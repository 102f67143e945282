import { manualSeed, noGrad, tensor, type Tensor } from '@normgrad/core';
import { describe, expect, it } from 'vitest';
import { BatchNorm1d, Dropout, LayerNorm, Linear, Module, ReLU, Sequential, buffer, parameter } from '../src/index.js';
import { expectAllclose, seededTensor } from './helpers.js';

class Block extends Module {
  linear = new Linear(4, 3, { dtype: 'float64' });
  bn = new BatchNorm1d(3, { dtype: 'float64' });
  forward(x: Tensor): Tensor {
    return this.bn.forward(this.linear.forward(x)).relu();
  }
}

class Model extends Module {
  block = new Block();
  heads = [new Linear(3, 2, { dtype: 'float64' }), new Linear(3, 2, { bias: false, dtype: 'float64' })];
  tail = new Sequential(new LayerNorm(2, { dtype: 'float64' }), new ReLU(), new Linear(2, 1, { dtype: 'float64' }));
  scale = parameter(tensor([2], { dtype: 'float64' }));
  step = buffer(tensor([0], { dtype: 'float64' }));
  notState = tensor([5], { dtype: 'float64' }); // neither parameter nor buffer: ignored
  forward(x: Tensor): Tensor {
    const h = this.block.forward(x);
    const heads = this.heads[0]!.forward(h).add(this.heads[1]!.forward(h));
    return this.tail.forward(heads).mul(this.scale);
  }
}

function trainSteps(model: Model, steps: number): void {
  for (let i = 0; i < steps; i++) {
    model.zeroGrad();
    const loss = model.forward(seededTensor([6, 4], 100 + i)).square().mean();
    loss.backward();
    noGrad(() => {
      for (const p of model.parameters()) p.data.set(0, p.data.get(0) - 0.1 * p.grad!.data.get(0));
    });
  }
}

describe('Module', () => {
  it('discovers parameters, buffers and children from fields, with dotted names', () => {
    const model = new Model();
    expect(model.namedParameters().map(([name]) => name)).toEqual([
      'scale',
      'block.linear.weight',
      'block.linear.bias',
      'block.bn.weight',
      'block.bn.bias',
      'heads.0.weight',
      'heads.0.bias',
      'heads.1.weight',
      'tail.0.weight',
      'tail.0.bias',
      'tail.2.weight',
      'tail.2.bias',
    ]);
    expect(model.namedBuffers().map(([name]) => name)).toEqual(['step', 'block.bn.runningMean', 'block.bn.runningVar']);
    expect(model.parameters().every((p) => p.requiresGrad)).toBe(true);
    expect(model.buffers().some((b) => b.requiresGrad)).toBe(false);
    expect(model.namedModules().map(([name]) => name)).toEqual(['', 'block', 'block.linear', 'block.bn', 'heads.0', 'heads.1', 'tail', 'tail.0', 'tail.1', 'tail.2']);
    expect(Object.keys(model.stateDict())).toEqual([
      ...model.namedParameters().map(([name]) => name),
      ...model.namedBuffers().map(([name]) => name),
      'block.bn.numBatchesTracked',
    ]);
  });

  it('lists a parameter shared by two modules once', () => {
    const shared = new Linear(2, 2);
    const seq = new Sequential(shared, new ReLU(), shared);
    expect(seq.namedParameters().map(([name]) => name)).toEqual(['0.weight', '0.bias']);
  });

  it('train() and eval() propagate to every descendant, and change BatchNorm/Dropout behaviour', () => {
    const model = new Model();
    expect(model.modules().every((m) => m.training)).toBe(true);
    model.eval();
    expect(model.modules().every((m) => !m.training)).toBe(true);
    model.train();
    expect(model.modules().every((m) => m.training)).toBe(true);
    model.block.train(false);
    expect([model.training, model.block.training, model.block.bn.training, model.tail.training]).toEqual([true, false, false, true]);

    const bn = new BatchNorm1d(2, { dtype: 'float64' });
    const x = seededTensor([4, 2], 3, { scale: 3, offset: 2 });
    const trainOut = bn.forward(x).toFloat64Array();
    bn.eval();
    const evalOut = bn.forward(x).toFloat64Array();
    expect(trainOut).not.toEqual(evalOut);
    const dropout = new Dropout(0.5, { seed: 1 }).eval();
    expect(dropout.forward(x)).toBe(x);
  });

  it('zeroGrad sets every grad to null', () => {
    const model = new Model();
    model.forward(seededTensor([5, 4], 1)).sum().backward();
    expect(model.parameters().every((p) => p.grad !== null)).toBe(true);
    model.zeroGrad();
    expect(model.parameters().every((p) => p.grad === null)).toBe(true);
  });

  it('stateDict round-trips parameters, running statistics and numBatchesTracked', () => {
    manualSeed(1);
    const source = new Model();
    trainSteps(source, 3);
    const state = source.stateDict();
    expect(state['block.bn.numBatchesTracked']!.item()).toBe(3);

    manualSeed(2);
    const target = new Model();
    const weightBefore = target.block.linear.weight;
    target.loadStateDict(state);
    expect(target.block.linear.weight).toBe(weightBefore); // loaded in place
    expect(target.block.bn.numBatchesTracked).toBe(3);
    for (const [name, t] of Object.entries(target.stateDict())) expectAllclose(t, state[name]!, name, { atol: 0, rtol: 0 });

    const x = seededTensor([5, 4], 9);
    source.eval();
    target.eval();
    expectAllclose(target.forward(x), source.forward(x), 'eval output', { atol: 0, rtol: 0 });
  });

  it('stateDict holds copies: later training does not change a saved dict', () => {
    const model = new Model();
    const state = model.stateDict();
    const before = state['block.bn.runningMean']!.toFloat64Array();
    trainSteps(model, 1);
    expect(state['block.bn.runningMean']!.toFloat64Array()).toEqual(before);
    expect(model.block.bn.runningMean!.toFloat64Array()).not.toEqual(before);
  });

  it('strict loadStateDict names missing keys, unexpected keys and shape mismatches, and loads nothing', () => {
    const model = new Model();
    const state = model.stateDict();
    const runningMeanBefore = model.block.bn.runningMean!.toFloat64Array();
    const broken: Record<string, Tensor> = { ...state, 'block.extra': tensor([1]), 'heads.0.weight': tensor([[1, 2, 3]]) };
    delete broken['block.bn.runningVar'];
    broken['block.bn.runningMean'] = tensor([7, 7, 7], { dtype: 'float64' });
    let message = '';
    try {
      model.loadStateDict(broken);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('loadStateDict');
    expect(message).toContain('Missing key(s) in state_dict: "block.bn.runningVar"');
    expect(message).toContain('Unexpected key(s) in state_dict: "block.extra"');
    expect(message).toContain('size mismatch for heads.0.weight: copying a tensor of shape [1, 3] from the state dict, the shape in the current model is [2, 3]');
    expect(model.block.bn.runningMean!.toFloat64Array()).toEqual(runningMeanBefore);
  });

  it('non-strict loadStateDict ignores missing and unexpected keys but not shape mismatches', () => {
    const model = new Model();
    const partial = { 'block.bn.runningMean': tensor([1, 2, 3], { dtype: 'float64' }), 'other.key': tensor([0]) };
    model.loadStateDict(partial, { strict: false });
    expect(Array.from(model.block.bn.runningMean!.toFloat64Array())).toEqual([1, 2, 3]);
    expect(() => model.loadStateDict({ 'tail.2.bias': tensor([1, 2]) }, { strict: false })).toThrow(/size mismatch for tail\.2\.bias.*\[2\].*\[1\]/);
  });

  it('manualSeed makes initialization reproducible; Linear uses PyTorch bounds 1/sqrt(inFeatures)', () => {
    manualSeed(42);
    const a = new Linear(16, 8);
    manualSeed(42);
    const b = new Linear(16, 8);
    const c = new Linear(16, 8);
    expect(a.weight.toFloat64Array()).toEqual(b.weight.toFloat64Array());
    expect(a.bias!.toFloat64Array()).toEqual(b.bias!.toFloat64Array());
    expect(a.weight.toFloat64Array()).not.toEqual(c.weight.toFloat64Array());
    const weights = a.weight.toFloat64Array();
    expect(Math.max(...weights.map(Math.abs))).toBeLessThanOrEqual(0.25);
    expect(Math.max(...weights.map(Math.abs))).toBeGreaterThan(0.2); // spread over the whole interval
    expect(a.weight.dtype).toBe('float32');
  });
});
