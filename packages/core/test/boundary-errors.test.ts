import { describe, expect, it } from 'vitest';
import { ones, randn, rand, tensor, zeros, type NestedArray } from '../src/index.js';

describe('errors at the boundary, naming the entry point and the values', () => {
  it('a tensor too large for a typed array is refused up front (zeros, randn, rand, full)', () => {
    expect(() => zeros([1e6, 1e6])).toThrow(/^zeros: shape \[1000000, 1000000\] has 1000000000000 elements, more than the 4294967296/);
    expect(() => randn([1e5, 1e5])).toThrow(/^randn: shape \[100000, 100000\] has 10000000000 elements/);
    expect(() => rand([1e5, 1e5], { seed: 1 })).toThrow(/^rand: shape/);
    expect(() => ones([2 ** 20, 2 ** 20, 0])).not.toThrow(); // zero elements, whatever the other extents
  });

  it('a nested array 20,000 levels deep is an Error, not a stack overflow (also when the deep part is not first)', () => {
    let deep: NestedArray = 1;
    for (let level = 0; level < 20_000; level++) deep = [deep];
    expect(() => tensor(deep)).toThrow(/^tensor: nested array is more than 64 levels deep/);
    expect(() => tensor([[1], deep] as NestedArray)).toThrow(/^tensor: nested array is more than 64 levels deep at data\[1\]/);
    let sixtyFour: NestedArray = 1;
    for (let level = 0; level < 64; level++) sixtyFour = [sixtyFour];
    expect(tensor(sixtyFour).ndim).toBe(64);
  });

  it('backward given its options as the gradient says so', () => {
    const x = tensor([1, 2], { requiresGrad: true, dtype: 'float64' });
    const y = x.square().sum();
    expect(() => y.backward({ createGraph: true } as never)).toThrow(
      "backward: gradOutput must be a Tensor (or undefined for a scalar), got a plain object; options go second: backward(undefined, {\"createGraph\":true})",
    );
    expect(() => y.backward([1] as never)).toThrow(/^backward: gradOutput must be a Tensor .*got an array/);
    expect(() => y.backward(undefined, { creatGraph: true } as never)).toThrow(/^backward: unknown option 'creatGraph' \(did you mean 'createGraph'\?\)/);
    expect(() => y.backward(undefined, { retainGraph: 'yes' } as never)).toThrow(/^backward: retainGraph must be a boolean, got "yes"/);
    y.backward(null, { createGraph: true });
    expect(x.grad!.toArray()).toEqual([2, 4]);
  });

  it('sum([]) and the other reductions over an empty list of axes are an Error (PyTorch reduces all, NumPy none)', () => {
    const x = tensor([[1, 2], [3, 4]]);
    for (const [name, reduce] of [
      ['sum', () => x.sum([])],
      ['mean', () => x.mean([])],
      ['var', () => x.var([])],
      ['std', () => x.std([])],
      ['max', () => x.max([])],
      ['min', () => x.min([])],
      ['logsumexp', () => x.logsumexp([])],
    ] as const) {
      expect(reduce, name).toThrow(new RegExp(`^${name}: axis \\[\\] is ambiguous`));
    }
    expect(x.sum().item()).toBe(10);
    expect(tensor(5).sum([]).item()).toBe(5); // a 0-d tensor: both readings agree
  });
});

describe('Tensor.grad accepts only a gradient of the tensor\'s own shape and dtype', () => {
  it('a float32 gradient for a float64 parameter, or the wrong shape, or not a Tensor, is an Error', () => {
    const p = zeros([3], { dtype: 'float64', requiresGrad: true });
    expect(() => (p.grad = ones([3]))).toThrow('Tensor.grad: assigned a float32 gradient of shape [3] to a float64 tensor of shape [3]; it must match both');
    expect(() => (p.grad = ones([2], { dtype: 'float64' }))).toThrow(/^Tensor.grad: assigned a float64 gradient of shape \[2\] to a float64 tensor of shape \[3\]/);
    expect(() => (p.grad = [1, 2, 3] as never)).toThrow(/^Tensor.grad: expected a Tensor or null, got object/);
    p.grad = ones([3], { dtype: 'float64' });
    expect(p.grad.toArray()).toEqual([1, 1, 1]);
    p.grad = null;
    expect(p.grad).toBeNull();
  });

  it('backward still accumulates into .grad', () => {
    const p = tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    p.square().sum().backward();
    p.square().sum().backward();
    expect(p.grad!.toArray()).toEqual([4, 8]);
  });
});
