/**
 * compile's refillResults option: a replay writes its results into the tensors the trace's previous
 * call returned, in place, and returns those same tensors, so a step allocates no result arrays.
 * The write is an ordinary in-place write (storage.ts): views see it, lazy results keep their
 * values, and backward through an op that saved an overwritten result is an Error.
 */
import { describe, expect, it } from 'vitest';
import { branchOnValues, compile, grad, randn, tensor, withSettings, Tensor } from '@normgrad/core';
import { allocateFresh, setAllocationSource, type DataArray, type DType } from '../src/dtype.js';

const bitsOf = (t: Tensor): number[] => Array.from(new Uint8Array(t.toTypedArray().buffer.slice(0)));

/** How many arrays `allocate` hands out while fn runs. */
function allocationCount(fn: () => void): number {
  let count = 0;
  const previous = setAllocationSource((dtype: DType, length: number): DataArray => {
    count++;
    return allocateFresh(dtype, length);
  });
  try {
    fn();
  } finally {
    setAllocationSource(previous);
  }
  return count;
}

const spread = (x: Tensor): Tensor[] => [x.sub(x.mean(0)).square().sum(0).sqrt(), x.tanh().permute([1, 0])];

describe('compile: refillResults', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`returns the same tensors on every call, holding that call's values bit for bit, ${dtype}`, () => {
      const step = compile(spread, { refillResults: true });
      const first = step(randn([64, 8], { seed: 1, dtype }));
      for (let seed = 2; seed < 6; seed++) {
        const x = randn([64, 8], { seed, dtype });
        const [replayed, eager] = [step(x), spread(x)];
        replayed.forEach((t, k) => {
          expect(t).toBe(first[k]);
          expect(t.data.data).toBe(first[k]!.data.data);
          expect(t.shape).toEqual(eager[k]!.shape);
          expect(bitsOf(t)).toEqual(bitsOf(eager[k]!));
        });
      }
    });
  }

  it('without the option every call returns new tensors in new arrays; with it, the same arrays', () => {
    const x = randn([64, 8], { seed: 1, dtype: 'float64' });
    const refilling = compile(spread, { refillResults: true });
    const plain = compile(spread);
    const [refilled, fresh] = [refilling(x), plain(x)];
    for (let k = 0; k < 3; k++) {
      refilling(x).forEach((t, i) => expect(t.data.data).toBe(refilled[i]!.data.data));
      plain(x).forEach((t, i) => expect(t.data.data).not.toBe(fresh[i]!.data.data));
    }
    // the memory plan: no kernel of a replay allocates
    expect(allocationCount(() => refilling(x))).toBe(0);
  });

  it('views of a result see the next call; lazy results computed from it keep their values', () => {
    const step = compile((x: Tensor) => x.mul(3), { refillResults: true });
    const first = step(tensor([1, 2, 3], { dtype: 'float64' }));
    const view = first.reshape([3, 1]);
    // a pending (fused, not yet computed) result of the first call's values
    const lazy = withSettings({ fusion: true, fusionMinimumSize: 1 }, () => first.add(1));
    step(tensor([10, 20, 30], { dtype: 'float64' }));
    expect(first.toArray()).toEqual([30, 60, 90]);
    expect(view.toArray()).toEqual([[30], [60], [90]]);
    expect(lazy.toArray()).toEqual([4, 7, 10]);
  });

  it('backward through an op that saved an overwritten result is an Error', () => {
    const step = compile((x: Tensor) => x.exp(), { refillResults: true });
    const result = step(tensor([0.5, 1], { dtype: 'float64' }));
    const weight = tensor([2, 3], { dtype: 'float64', requiresGrad: true });
    const loss = result.mul(weight).sum(); // saves result for weight's gradient
    step(tensor([1, 2], { dtype: 'float64' }));
    expect(() => loss.backward()).toThrow(/modified in place/);
  });

  it('a gradient program: the returned gradients are refilled and equal eager gradients', () => {
    const loss = (w: Tensor, x: Tensor): Tensor => x.matmul(w).tanh().square().sum();
    const step = compile((w: Tensor, x: Tensor) => grad(loss)(w, x), { refillResults: true });
    const w = randn([6, 3], { seed: 9, dtype: 'float64' });
    const first = step(w, randn([5, 6], { seed: 0, dtype: 'float64' }));
    for (let seed = 1; seed < 4; seed++) {
      const x = randn([5, 6], { seed, dtype: 'float64' });
      const replayed = step(w, x);
      expect(replayed).toBe(first);
      expect(bitsOf(replayed)).toEqual(bitsOf(grad(loss)(w, x)));
    }
  });

  it('an argument that is the previous result (x = step(x)) iterates as eager code does', () => {
    const update = (x: Tensor): Tensor => x.mul(0.5).add(x.square().mul(0.25)).tanh();
    const step = compile(update, { refillResults: true });
    let [compiled, eager] = [tensor([0.3, -1.2, 2], { dtype: 'float64' }), tensor([0.3, -1.2, 2], { dtype: 'float64' })];
    for (let k = 0; k < 5; k++) [compiled, eager] = [step(compiled), update(eager)];
    expect(bitsOf(compiled)).toEqual(bitsOf(eager));
  });

  it('results that are copies (a returned .grad) and results that share an array are refilled too', () => {
    const w = tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });
    const step = compile((x: Tensor) => {
      w.grad = null;
      const y = x.mul(w).square();
      y.sum().backward();
      const z = y.detach().mul(2);
      return { gradient: w.grad!, z, again: z };
    }, { refillResults: true });
    const first = step(tensor([1, 1, 1], { dtype: 'float64' }));
    const second = step(tensor([2, 0, 1], { dtype: 'float64' }));
    expect(second.gradient).toBe(first.gradient);
    expect(second.z).toBe(first.z);
    expect(second.again).toBe(second.z);
    // d/dw sum((x w)^2) = 2 x^2 w
    expect(second.gradient.toArray()).toEqual([8, 0, 6]);
    expect(second.z.toArray()).toEqual([8, 0, 18]);
  });

  it('a call that takes another branch runs eagerly and refills the same tensors with its values', () => {
    const positive = (values: { data: ArrayLike<number> }): boolean => Array.from(values.data).every((v) => v > 0);
    const fn = (x: Tensor): Tensor[] => {
      const first = x.exp();
      // the replay has written `first` when this branch diverges
      return [first, branchOnValues(x, positive) ? x.log() : x.abs().add(1).log()];
    };
    const step = compile(fn, { refillResults: true });
    const traced = step(tensor([1, 2], { dtype: 'float64' }));
    const x = tensor([-1, 2], { dtype: 'float64' });
    const diverged = step(x);
    expect(diverged[0]).toBe(traced[0]);
    expect(diverged[1]).toBe(traced[1]);
    fn(x).forEach((t, k) => expect(bitsOf(diverged[k]!)).toEqual(bitsOf(t)));
  });

  it('unknown options and a non-boolean refillResults are Errors naming compile', () => {
    const fn = (x: Tensor): Tensor => x;
    expect(() => compile(fn, { refillResult: true } as never)).toThrow(/compile: unknown option 'refillResult' \(did you mean 'refillResults'\?\)/);
    expect(() => compile(fn, { refillResults: 'yes' } as never)).toThrow(/compile: refillResults must be a boolean, got/);
  });
});
