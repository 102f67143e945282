/**
 * compile (core) on a training step: forward through a BatchNorm MLP, backward, and an Adam
 * update, replayed from one trace, equals eager execution bit for bit — values, gradients,
 * parameters, running statistics and the batch count — and retraces on a new shape or mode.
 */
import { describe, expect, it } from 'vitest';
import { compile, manualSeed, noGrad, randn, type DType, type Tensor } from '@normgrad/core';
import { BatchNorm1d, BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential, crossEntropy, mseLoss } from '@normgrad/nn';
import { Adam, SGD } from '../src/index.js';

function makeMlp(dtype: DType): Sequential {
  manualSeed(7);
  return new Sequential(new Linear(6, 16, { dtype }), new BatchNorm1d(16, { dtype }), new ReLU(), new Linear(16, 3, { dtype }));
}

function bits(t: Tensor): number[] {
  return Array.from(t.toTypedArray());
}

/** Everything a step changes: parameters, gradients, running statistics and counts. */
function state(model: Sequential): unknown {
  const bn = model.namedChildren()[1]![1] as BatchNorm1d;
  return {
    params: model.parameters().map(bits),
    grads: model.parameters().map((p) => (p.grad === null ? null : bits(p.grad))),
    buffers: model.buffers().map(bits),
    count: bn.numBatchesTracked,
  };
}

function trainingStep(model: Sequential, optimizer: Adam) {
  return (x: Tensor, y: Tensor): Tensor => {
    optimizer.zeroGrad();
    const loss = mseLoss(model.forward(x), y);
    loss.backward();
    optimizer.step();
    return loss;
  };
}

describe('compile: a training step', () => {
  for (const dtype of ['float64', 'float32'] as const) {
    it(`BatchNorm MLP + Adam, ${dtype}: 5 compiled steps equal 5 eager steps bit for bit`, () => {
      const eagerModel = makeMlp(dtype);
      const compiledModel = makeMlp(dtype);
      const eagerStep = trainingStep(eagerModel, new Adam(eagerModel.parameters(), { lr: 0.01 }));
      const compiledStep = compile(trainingStep(compiledModel, new Adam(compiledModel.parameters(), { lr: 0.01 })));
      for (let step = 0; step < 5; step++) {
        const x = randn([10, 6], { seed: 100 + step, dtype });
        const y = randn([10, 3], { seed: 200 + step, dtype });
        const expected = eagerStep(x, y);
        const actual = compiledStep(x, y);
        expect({ step, loss: bits(actual) }).toEqual({ step, loss: bits(expected) });
        expect(actual.requiresGrad).toBe(false);
        expect(state(compiledModel)).toEqual(state(eagerModel));
      }
    });
  }

  it('retraces when a module switches between train and eval, and replays each mode', () => {
    const eagerModel = makeMlp('float64');
    const compiledModel = makeMlp('float64');
    let traces = 0;
    const forward = (model: Sequential) => (x: Tensor): Tensor => model.forward(x);
    const compiled = compile((x: Tensor) => {
      traces++;
      return forward(compiledModel)(x);
    });
    const modes = ['train', 'eval', 'train', 'eval', 'train'] as const;
    modes.forEach((mode, k) => {
      const x = randn([10, 6], { seed: 300 + k, dtype: 'float64' });
      for (const model of [eagerModel, compiledModel]) model[mode]();
      const expected = noGrad(() => forward(eagerModel)(x));
      const actual = noGrad(() => compiled(x));
      expect(bits(actual)).toEqual(bits(expected));
      expect(state(compiledModel)).toEqual(state(eagerModel));
    });
    expect(traces).toBe(2);
  });

  it('retraces on a new batch size', () => {
    const eagerModel = makeMlp('float32');
    const compiledModel = makeMlp('float32');
    const eagerStep = trainingStep(eagerModel, new Adam(eagerModel.parameters(), { lr: 0.01 }));
    let traces = 0;
    const inner = trainingStep(compiledModel, new Adam(compiledModel.parameters(), { lr: 0.01 }));
    const compiledStep = compile((x: Tensor, y: Tensor) => {
      traces++;
      return inner(x, y);
    });
    [10, 10, 7, 7, 10].forEach((batch, k) => {
      const x = randn([batch, 6], { seed: 400 + k });
      const y = randn([batch, 3], { seed: 500 + k });
      expect(bits(compiledStep(x, y))).toEqual(bits(eagerStep(x, y)));
      expect(state(compiledModel)).toEqual(state(eagerModel));
    });
    expect(traces).toBe(2);
  });

  it('a small convnet step (Conv2d, BatchNorm2d, MaxPool2d, cross-entropy, SGD with momentum) equals eager for 3 steps', () => {
    const make = () => {
      manualSeed(11);
      const model = new Sequential(
        new Conv2d(2, 4, 3, { padding: 1, dtype: 'float64' }), new BatchNorm2d(4, { dtype: 'float64' }), new ReLU(),
        new MaxPool2d(2), new Flatten(), new Linear(4 * 3 * 3, 5, { dtype: 'float64' }),
      );
      const optimizer = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
      const labels = new Int32Array([0, 3, 1, 4]);
      return { model, step: (x: Tensor): Tensor => {
        optimizer.zeroGrad();
        const loss = crossEntropy(model.forward(x), labels);
        loss.backward();
        optimizer.step();
        return loss;
      } };
    };
    const eager = make();
    const compiled = make();
    const compiledStep = compile(compiled.step);
    for (let k = 0; k < 3; k++) {
      const x = randn([4, 2, 6, 6], { seed: 600 + k, dtype: 'float64' });
      expect(bits(compiledStep(x))).toEqual(bits(eager.step(x)));
      expect(compiled.model.parameters().map(bits)).toEqual(eager.model.parameters().map(bits));
      expect(compiled.model.buffers().map(bits)).toEqual(eager.model.buffers().map(bits));
    }
  });
});
