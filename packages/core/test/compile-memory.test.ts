/**
 * compile's static memory plan: a replay hands each kernel the arrays it allocated before, so it
 * allocates no array through `allocate` (its results are block copies); no array of the program
 * is ever user-visible or enters the storage pool, and results keep their values across calls.
 */
import { describe, expect, it } from 'vitest';
import ndarray from 'ndarray';
import { assignInPlace, compile, customOp, full, grad, noGrad, randn, tensor, Tensor } from '@normgrad/core';
import { allocate, allocateFresh, setAllocationSource, type DataArray, type DType } from '../src/dtype.js';
import { AllocationTape } from '../src/compile/trace.js';
import { createNd } from '../src/kernels/layout.js';
import { keptOutOfPool, poolCounts, returnToPool } from '../src/storage-pool.js';

/** The lengths of the arrays `allocate` hands out while fn runs. */
function allocatedLengths(fn: () => void): number[] {
  const lengths: number[] = [];
  const previous = setAllocationSource((dtype: DType, length: number): DataArray => {
    lengths.push(length);
    return allocateFresh(dtype, length);
  });
  try {
    fn();
  } finally {
    setAllocationSource(previous);
  }
  return lengths;
}

const bitsOf = (t: Tensor): number[] => Array.from(new Uint8Array(t.toTypedArray().buffer.slice(0)));

describe('compile: the memory plan', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`a replay allocates no array, ${dtype} (every kernel writes into the arrays of the trace; results are block copies)`, () => {
      const step = compile((a: Tensor, b: Tensor) => {
        const product = a.matmul(b);
        return [product.tanh().sum(0), product.mul(b).sum()];
      });
      const [a, b] = [randn([48, 48], { seed: 1, dtype }), randn([48, 48], { seed: 2, dtype })];
      step(a, b);
      step(a, b);
      expect(allocatedLengths(() => step(a, b))).toEqual([]);
    });
  }

  it('replays equal eager calls when every kernel writes into the arrays of the trace', () => {
    const fn = (a: Tensor, b: Tensor) => {
      const product = a.matmul(b);
      return [product.tanh().sum(0), product.mul(b).sum(), product.permute([1, 0]).sum(1)];
    };
    const step = compile(fn);
    for (let seed = 0; seed < 4; seed++) {
      const [a, b] = [randn([40, 40], { seed, dtype: 'float32' }), randn([40, 40], { seed: seed + 10, dtype: 'float32' })];
      const [replayed, eager] = [step(a, b) as Tensor[], fn(a, b)];
      replayed.forEach((t, k) => expect(bitsOf(t)).toEqual(bitsOf(eager[k]!)));
    }
  });

  it('a kernel that adds into its zero-filled output gets it zero-filled on every replay', () => {
    // gather's gradient adds each picked row's cotangent into a zero array (x[1][0] and x[0][2] are picked twice)
    const index = tensor([[1, 1, 0], [1, 0, 0]], { dtype: 'int32' });
    const gradient = grad((x: Tensor) => x.gather(0, index).mul(x.sum()).sum());
    const step = compile(gradient);
    for (let seed = 0; seed < 4; seed++) {
      const x = randn([3, 3], { seed, dtype: 'float64' });
      expect(bitsOf(step(x))).toEqual(bitsOf(gradient(x)));
    }
  });

  it('a kernel that adds into an array it allocates gets it zero-filled on every replay of its tape', () => {
    // a kernel that adds into the array it allocates
    const kernel = () => {
      const array = allocate('float64', 8) as Float64Array;
      for (let k = 0; k < 8; k++) array[k] = array[k]! + k;
      return createNd('float64', [8], array);
    };
    const out = kernel();
    const tape = new AllocationTape(out, []);
    for (let call = 0; call < 4; call++) {
      const result = tape.run(kernel);
      expect(Array.from(result.data)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    }
  });

  it('a constant made while the function is traced keeps its values through replays', () => {
    let constant: Tensor | null = null;
    const step = compile((x: Tensor) => {
      constant = full([64, 64], 2, { dtype: 'float64' });
      return x.matmul(constant).sum();
    });
    const x = randn([64, 64], { seed: 3, dtype: 'float64' });
    for (let k = 0; k < 4; k++) step(x.mul(k));
    expect(new Set(constant!.toTypedArray())).toEqual(new Set([2]));
  });

  it('results of one call keep their values through later calls (value semantics)', () => {
    const step = compile((a: Tensor, b: Tensor) => [a.matmul(b), a.matmul(b).exp().sum(1)]);
    const calls = [0, 1, 2, 3].map((seed) => {
      const [a, b] = [randn([40, 40], { seed, dtype: 'float32' }), randn([40, 40], { seed: seed + 20, dtype: 'float32' })];
      const results = step(a, b) as Tensor[];
      return { results, kept: results.map(bitsOf), expected: [a.matmul(b), a.matmul(b).exp().sum(1)].map(bitsOf) };
    });
    for (const { results, kept, expected } of calls) {
      expect(results.map(bitsOf)).toEqual(kept);
      expect(kept).toEqual(expected);
    }
  });

  it('a result passed back as the next call\'s argument is read as it is (the next call computes into other arrays)', () => {
    const fn = (x: Tensor) => x.matmul(x).tanh().add(x);
    const step = compile(fn);
    let [compiled, eager] = [randn([32, 32], { seed: 6, dtype: 'float64' }), randn([32, 32], { seed: 6, dtype: 'float64' })];
    for (let k = 0; k < 5; k++) {
      [compiled, eager] = [step(compiled), fn(eager)];
      expect(bitsOf(compiled)).toEqual(bitsOf(eager));
    }
  });

  it('an array of the program passed as an argument (an intermediate the function let out) is copied, not read in place', () => {
    let kept: Tensor | null = null;
    const step = compile((x: Tensor) => {
      // computed elementwise from the transpose: written in place over its own argument, it would read overwritten elements
      const doubled = x.permute([1, 0]).mul(2);
      kept = doubled;
      return doubled.matmul(doubled).sum();
    });
    step(randn([32, 32], { seed: 8, dtype: 'float64' }));
    step(randn([32, 32], { seed: 9, dtype: 'float64' }));
    const argument = kept!;
    const value = tensor(argument.toTypedArray() as Float64Array, { shape: [32, 32], dtype: 'float64' });
    const doubled = value.permute([1, 0]).mul(2);
    expect(bitsOf(step(argument))).toEqual(bitsOf(doubled.matmul(doubled).sum()));
  });

  it('an array a kernel returns without allocating it (a customOp\'s kept array) is not the program\'s to move', () => {
    const keptArray = new Float64Array([1, 2, 3, 4]);
    const kept = ndarray(keptArray, [4]);
    const constantOp = customOp({ name: 'kept', forward: () => kept, vjp: (_gradOut, inputs) => inputs.map(() => null) });
    const step = compile((x: Tensor) => [constantOp(x), x.exp()]);
    for (let k = 0; k < 4; k++) {
      const [constant] = step(randn([4], { seed: k, dtype: 'float64' })) as Tensor[];
      expect(Array.from(constant!.toTypedArray())).toEqual([1, 2, 3, 4]);
    }
    expect(kept.data).toBe(keptArray);
  });

  it('an argument changed in place between calls is read with its new values', () => {
    const fn = (x: Tensor) => [x.exp().sum(), x.reshape([16, 64]).sum(0)];
    const step = compile(fn);
    const x = randn([32, 32], { seed: 7, dtype: 'float32' });
    for (let k = 0; k < 4; k++) {
      noGrad(() => assignInPlace(x, x.mul(0.5)));
      expect(step(x).map(bitsOf)).toEqual(fn(x).map(bitsOf));
    }
  });

  it('a program\'s arrays never enter the storage pool, so eager code never gets them', () => {
    const total = (x: Tensor) => x.matmul(x).tanh();
    const x = randn([128, 128], { seed: 4, dtype: 'float64' });
    const step = compile(total);
    const allocated: DataArray[] = [];
    const previous = setAllocationSource((dtype: DType, length: number): DataArray => {
      const array = allocateFresh(dtype, length);
      allocated.push(array);
      return array;
    });
    try {
      step(x);
      step(x);
    } finally {
      setAllocationSource(previous);
    }
    // the matmul's output (128·128 float64, large enough for the pool) is one of the program's
    const programs = allocated.filter((array) => keptOutOfPool(array) && array.length === 128 * 128);
    expect(programs.length).toBeGreaterThan(0);
    const before = poolCounts();
    for (const array of programs) returnToPool(array);
    expect(poolCounts().returned).toBe(before.returned);
    expect(bitsOf(step(x.add(1)))).toEqual(bitsOf(total(x.add(1))));
  });
});
