/**
 * A tensor's value is fixed when the op that made it returns: lazy (fused) results do not read
 * storage that is written afterwards, and backward through a node whose saved tensor was written
 * in place is an Error, as in PyTorch.
 */
import { describe, expect, it } from 'vitest';
import { randn, tensor, zeros, ones, noGrad, withSettings } from '@normgrad/core';
import { BatchNorm2d } from '@normgrad/nn';
import { SGD } from '../src/index.js';

describe('value semantics of lazy results', () => {
  it('a pending x + b keeps the value it had before an optimizer step writes b', () => {
    const x = ones([70000]);
    const b = tensor(new Float32Array(70000).fill(-0.335), { requiresGrad: true });
    const y = x.add(b);
    b.grad = ones([70000]);
    new SGD([b], { lr: 1 }).step();
    expect(y.toTypedArray()[0]).toBeCloseTo(0.665, 6);
    expect(y.toTypedArray()[69999]).toBeCloseTo(0.665, 6);
  });

  it('a BatchNorm2d eval output keeps its value after a later training forward updates the running statistics', () => {
    const layer = new BatchNorm2d(4);
    const x = randn([8, 4, 64, 64], { seed: 1 }).mul(2).add(3);
    layer.train();
    noGrad(() => layer.forward(x));
    layer.eval();
    const evalOut = noGrad(() => layer.forward(x));
    const expected = withSettings({ fusion: false }, () => {
      const reference = new BatchNorm2d(4);
      reference.loadStateDict(layer.stateDict());
      reference.eval();
      return noGrad(() => reference.forward(x)).toTypedArray();
    });
    layer.train();
    noGrad(() => layer.forward(x.mul(5)));
    const values = evalOut.toTypedArray();
    expect(values[0]).toBe(expected[0]);
    expect(values[values.length - 1]).toBe(expected[expected.length - 1]);
  });
});

describe('version counters on saved tensors', () => {
  it('backward through a node whose saved input was updated in place throws, naming the op, shape and versions', () => {
    const w = tensor([1, 2, 3], { requiresGrad: true, dtype: 'float64' });
    const x = tensor([1, 2, 3], { requiresGrad: true, dtype: 'float64' });
    const loss = w.mul(x).sum();
    loss.backward(undefined, { retainGraph: true });
    expect(x.grad!.toArray()).toEqual([1, 2, 3]);
    new SGD([w], { lr: 1 }).step();
    x.grad = null;
    expect(() => loss.backward()).toThrow(/backward: .*'mul'.*shape \[3\].*modified in place.*version 0.*version 1/s);
  });

  it('does not complain when the written tensor is not saved by the op (add reads no input)', () => {
    const w = tensor([1, 2, 3], { requiresGrad: true, dtype: 'float64' });
    const x = tensor([1, 2, 3], { requiresGrad: true, dtype: 'float64' });
    const loss = w.add(x).sum();
    loss.backward(undefined, { retainGraph: true });
    new SGD([w], { lr: 1 }).step();
    x.grad = null;
    loss.backward();
    expect(x.grad!.toArray()).toEqual([1, 1, 1]);
    expect(zeros([1]).toArray()).toEqual([0]);
  });
});
