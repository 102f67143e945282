import { tensor, type Tensor } from '@normgrad/core';
import { describe, expect, it } from 'vitest';
import { Adam, AdamW, SGD, readElements, storagePositions, writeElements, type StridedView } from '../src/index.js';

describe('step', () => {
  it('updates parameters in place, under no-grad, building no graph', () => {
    const weight = tensor([[1, 2], [3, 4]], { dtype: 'float64', requiresGrad: true });
    const storage = weight.data.data;
    const loss = weight.square().sum();
    loss.backward();
    const optimizer = new Adam([weight], { lr: 0.1 });
    optimizer.step();
    expect(weight.data.data).toBe(storage); // same storage, written in place
    expect(weight.isLeaf).toBe(true);
    expect(weight.node).toBeNull();
    expect(weight.requiresGrad).toBe(true);
    expect(weight.grad?.requiresGrad ?? false).toBe(false);
    // Adam's first step moves every element by lr against the sign of its gradient.
    const moved = Array.from(weight.toFloat64Array()).map((v, i) => v - (i + 1));
    for (const delta of moved) expect(delta).toBeCloseTo(-0.1, 7);
    // The updated parameter still differentiates as a leaf.
    weight.grad = null;
    weight.mul(3).sum().backward();
    expect(Array.from(weight.grad!.toFloat64Array())).toEqual([3, 3, 3, 3]);
  });

  it('skips parameters whose grad is null, and zeroGrad sets grads to null (PyTorch 2 default)', () => {
    const a = tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });
    const b = tensor([4, 5], { dtype: 'float64', requiresGrad: true });
    const optimizer = new SGD([a, b], { lr: 0.5, momentum: 0.9 });
    a.grad = tensor([1, 1, 1], { dtype: 'float64' });
    optimizer.step();
    expect(Array.from(a.toFloat64Array())).toEqual([0.5, 1.5, 2.5]);
    expect(Array.from(b.toFloat64Array())).toEqual([4, 5]);
    expect(optimizer.state.has(b)).toBe(false);
    optimizer.zeroGrad();
    expect(a.grad).toBeNull();
    expect(b.grad).toBeNull();
    optimizer.step(); // nothing to do
    expect(Array.from(a.toFloat64Array())).toEqual([0.5, 1.5, 2.5]);
  });

  it('keeps float32 parameters and state in float32', () => {
    const w = tensor([0.1, 0.2, 0.3], { requiresGrad: true });
    expect(w.dtype).toBe('float32');
    const optimizer = new Adam([w], { lr: 0.01 });
    w.grad = tensor([1, -1, 0.5]);
    optimizer.step();
    expect(w.dtype).toBe('float32');
    expect(w.data.data).toBeInstanceOf(Float32Array);
    expect(optimizer.state.get(w)!.expAvg).toBeInstanceOf(Float32Array);
  });

  it('accepts a broadcast (stride-0) gradient view and returns the closure loss', () => {
    const w = tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float64', requiresGrad: true });
    const optimizer = new SGD([w], { lr: 1 });
    w.grad = tensor([1, 2, 3], { dtype: 'float64' }).broadcastTo([2, 3]);
    const loss = optimizer.step(() => 42);
    expect(loss).toBe(42);
    expect(w.toArray()).toEqual([[0, 0, 0], [3, 3, 3]]);
  });
});

describe('strided element access', () => {
  const storage = Float64Array.from({ length: 12 }, (_, i) => i);

  it('reads and writes a view with an offset and non-unit strides', () => {
    // A (2, 3) view starting at 1 with strides (6, 2): elements 1 3 5 / 7 9 11.
    const view: StridedView = { data: storage.slice(), shape: [2, 3], stride: [6, 2], offset: 1 };
    expect(Array.from(storagePositions(view))).toEqual([1, 3, 5, 7, 9, 11]);
    expect(Array.from(readElements(view))).toEqual([1, 3, 5, 7, 9, 11]);
    writeElements(view, [10, 30, 50, 70, 90, 110]);
    expect(Array.from(view.data as Float64Array)).toEqual([0, 10, 2, 30, 4, 50, 6, 70, 8, 90, 10, 110]);
  });

  it('handles transposed, negative-stride and zero-dimensional views', () => {
    const transposed: StridedView = { data: storage, shape: [3, 2], stride: [1, 3], offset: 0 };
    expect(Array.from(readElements(transposed))).toEqual([0, 3, 1, 4, 2, 5]);
    const reversed: StridedView = { data: storage, shape: [4], stride: [-1], offset: 10 };
    expect(Array.from(readElements(reversed))).toEqual([10, 9, 8, 7]);
    const scalar: StridedView = { data: storage, shape: [], stride: [], offset: 5 };
    expect(Array.from(readElements(scalar))).toEqual([5]);
    const contiguousWithOffset: StridedView = { data: storage, shape: [2, 2], stride: [2, 1], offset: 4 };
    expect(Array.from(readElements(contiguousWithOffset))).toEqual([4, 5, 6, 7]);
  });

  it('reads into the front of a given target, and rejects one too short', () => {
    const target = new Float64Array(8).fill(-1);
    const transposed: StridedView = { data: storage, shape: [3, 2], stride: [1, 3], offset: 0 };
    const values = readElements(transposed, undefined, target);
    expect(values.buffer).toBe(target.buffer);
    expect(Array.from(target)).toEqual([0, 3, 1, 4, 2, 5, -1, -1]);
    const contiguous: StridedView = { data: storage, shape: [2], stride: [1], offset: 9 };
    expect(Array.from(readElements(contiguous, undefined, target))).toEqual([9, 10]);
    expect(() => readElements(transposed, undefined, new Float64Array(5))).toThrow(/readElements: target holds 5 elements, the view has 6/);
  });
});

describe('scratch copies shared between parameters', () => {
  it('give each parameter of a group its own update (large then small then large)', () => {
    const make = (values: number[]) => tensor(values, { dtype: 'float64', requiresGrad: true });
    const run = (params: Tensor[]) => {
      const optimizer = new Adam(params, { lr: 0.1 });
      for (let step = 0; step < 3; step++) {
        params.forEach((p, index) => (p.grad = tensor(p.toFloat64Array().map((v) => v * (index + 1) + step), { dtype: 'float64' })));
        optimizer.step();
      }
      return params.map((p) => Array.from(p.toFloat64Array()));
    };
    const together = run([make([1, 2, 3, 4, 5]), make([6]), make([7, 8, 9])]);
    // each parameter alone, with the gradient rule it had as parameter 1, 2, 3 of the group
    const separately = [0, 1, 2].map((index) => {
      const values = [[1, 2, 3, 4, 5], [6], [7, 8, 9]][index]!;
      const p = make(values);
      const optimizer = new Adam([p], { lr: 0.1 });
      for (let step = 0; step < 3; step++) {
        p.grad = tensor(p.toFloat64Array().map((v) => v * (index + 1) + step), { dtype: 'float64' });
        optimizer.step();
      }
      return Array.from(p.toFloat64Array());
    });
    expect(together).toEqual(separately);
  });
});

describe('Adam on the parameter storage', () => {
  /** The same optimizers with the in-place storage path turned off: every step goes through the float64 copies. */
  class CopyingAdam extends Adam {
    protected override updateStorage(): boolean {
      return false;
    }
  }
  class CopyingAdamW extends AdamW {
    protected override updateStorage(): boolean {
      return false;
    }
  }

  const trajectory = (make: (params: Tensor[]) => Adam, dtype: 'float32' | 'float64', size: number) => {
    const param = tensor(Array.from({ length: size }, (_, i) => Math.sin(i)), { dtype, requiresGrad: true });
    const optimizer = make([param]);
    for (let step = 0; step < 5; step++) {
      param.grad = tensor(Array.from({ length: size }, (_, i) => Math.cos(i * (step + 1))), { dtype });
      optimizer.step();
    }
    return Array.from(param.toFloat64Array());
  };

  const variants = [
    { name: 'Adam', options: { lr: 0.01 } },
    { name: 'Adam with L2 weight decay, maximize', options: { lr: 0.01, weightDecay: 0.1, maximize: true } },
    { name: 'AdamW', options: { lr: 0.01, weightDecay: 0.05 }, decoupled: true },
  ] as const;

  for (const variant of variants) {
    it(`${variant.name}: float64 equals the copying path exactly; float32 (SIMD lanes for 4096 elements) to rounding`, () => {
      const fast = (params: Tensor[]) => ('decoupled' in variant ? new AdamW(params, variant.options) : new Adam(params, variant.options));
      const copying = (params: Tensor[]) => ('decoupled' in variant ? new CopyingAdamW(params, variant.options) : new CopyingAdam(params, variant.options));
      expect(trajectory(fast, 'float64', 4096)).toEqual(trajectory(copying, 'float64', 4096));
      const fast32 = trajectory(fast, 'float32', 4096);
      const copying32 = trajectory(copying, 'float32', 4096);
      fast32.forEach((value, i) => expect(Math.abs(value - copying32[i]!)).toBeLessThan(1e-6));
    });
  }
});
