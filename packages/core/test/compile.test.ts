/**
 * compile(fn): a replay of the recorded program equals eager execution bit for bit (float64 and
 * float32, with and without gradients), a new signature traces again, and what cannot be traced
 * is an Error naming compile.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compile, enableGrad, full, isTracing, noGrad, traceEffect, traceGuard, randn, tensor, valueAndGrad, withSettings, zeros, Tensor, assignInPlace, type DType,
} from '@normgrad/core';

/** The bits of a tensor's elements (so -0 and NaN payloads count). */
function bits(t: Tensor): number[] {
  const values = t.toTypedArray();
  return Array.from(new Uint32Array(values.buffer, values.byteOffset, values.byteLength / 4));
}

type Op =
  | { kind: 'unary'; which: number; at: number }
  | { kind: 'binary'; which: number; at: number; with: number }
  | { kind: 'reduce'; which: number; at: number; axis: number; keepdims: boolean }
  | { kind: 'matmul'; at: number }
  | { kind: 'shape'; which: number; at: number };

const unary = [
  (t: Tensor) => t.neg(),
  (t: Tensor) => t.tanh().exp(),
  (t: Tensor) => t.abs().add(1).sqrt(),
  (t: Tensor) => t.square(),
  (t: Tensor) => t.sigmoid(),
  (t: Tensor) => t.relu(),
  (t: Tensor) => t.abs().add(1).log(),
];
const binary = [
  (a: Tensor, b: Tensor) => a.add(b),
  (a: Tensor, b: Tensor) => a.mul(b),
  (a: Tensor, b: Tensor) => a.sub(b),
  (a: Tensor, b: Tensor) => a.div(b.abs().add(1)),
  (a: Tensor, b: Tensor) => a.maximum(b),
];

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('unary' as const), which: fc.nat(unary.length - 1), at: fc.nat() }),
  fc.record({ kind: fc.constant('binary' as const), which: fc.nat(binary.length - 1), at: fc.nat(), with: fc.nat() }),
  fc.record({ kind: fc.constant('reduce' as const), which: fc.nat(4), at: fc.nat(), axis: fc.nat(), keepdims: fc.boolean() }),
  fc.record({ kind: fc.constant('matmul' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('shape' as const), which: fc.nat(3), at: fc.nat() }),
);

function broadcastable(a: readonly number[], b: readonly number[]): boolean {
  for (let k = 1; k <= Math.min(a.length, b.length); k++) {
    const [x, y] = [a[a.length - k]!, b[b.length - k]!];
    if (x !== y && x !== 1 && y !== 1) return false;
  }
  return true;
}

/** Runs a random program on the inputs; every value it makes stays available to later ops; the result is the last one. */
function run(program: readonly Op[], inputs: readonly Tensor[]): Tensor {
  const values = [...inputs];
  const pick = (index: number) => values[index % values.length]!;
  for (const op of program) {
    const t = pick(op.at);
    let next: Tensor;
    switch (op.kind) {
      case 'unary':
        next = unary[op.which]!(t);
        break;
      case 'binary': {
        const other = pick(op.with);
        next = binary[op.which]!(t, broadcastable(t.shape, other.shape) ? other : other.mean());
        break;
      }
      case 'reduce':
        if (t.ndim === 0) next = t.mul(2);
        else if (op.which === 0) next = t.sum(op.axis % t.ndim, op.keepdims);
        else if (op.which === 1) next = t.mean(op.axis % t.ndim, op.keepdims);
        else if (op.which === 2) next = t.max(op.axis % t.ndim, op.keepdims);
        else if (op.which === 3) next = t.sum();
        else next = t.mean(null, op.keepdims);
        break;
      case 'matmul': {
        const matrix = t.ndim === 0 ? t.reshape([1, 1]) : t.reshape([-1, t.shape[t.ndim - 1]!]);
        next = matrix.matmul(matrix.transpose());
        break;
      }
      case 'shape':
        if (op.which === 0) next = t.flatten();
        else if (op.which === 1) next = t.transpose();
        else if (op.which === 2) next = t.unsqueeze(0).broadcastTo([2, ...t.shape]);
        else next = t.reshape([1, ...t.shape]).squeeze(0).add(0.5);
        break;
    }
    values.push(next);
  }
  return values[values.length - 1]!;
}

const shapeArbitrary = fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 });

describe('compile: random programs', () => {
  for (const dtype of ['float64', 'float32'] as DType[]) {
    it(`replays equal eager execution bit for bit, ${dtype}, with and without gradients`, () => {
      fc.assert(
        fc.property(
          fc.array(opArbitrary, { minLength: 1, maxLength: 12 }), shapeArbitrary, fc.boolean(), fc.boolean(), fc.integer({ min: 1, max: 1000 }),
          (program, shape, withGrad, lowThreshold, seed) => {
            const forward = (a: Tensor, b: Tensor) => run(program, [a, b]);
            const fn = withGrad
              ? (a: Tensor, b: Tensor) => {
                  const [value, gradients] = valueAndGrad((x: Tensor, y: Tensor) => forward(x, y).square().sum(), { argnums: [0, 1], allowUnused: true })(a, b);
                  return [value, ...gradients];
                }
              : (a: Tensor, b: Tensor) => [forward(a, b)];
            // a low fusion threshold makes the reductions read fused inputs at these sizes too
            withSettings({ fusionMinimumSize: lowThreshold ? 4 : 65536 }, () => {
              const compiled = compile(fn);
              const earlier: [Tensor[], number[][]][] = [];
              for (let call = 0; call < 4; call++) {
                const a = randn(shape, { seed: seed + call, dtype });
                const b = randn(shape.slice(1), { seed: seed + 100 + call, dtype });
                const expected = fn(a, b).map(bits);
                const actual = compiled(a, b);
                expect(actual.map(bits)).toEqual(expected);
                earlier.push([actual, expected]);
              }
              // later calls leave earlier results as they were
              for (const [actual, expected] of earlier) expect(actual.map(bits)).toEqual(expected);
            });
          },
        ),
        { numRuns: 40, seed: 18 },
      );
    });
  }
});

describe('compile: signatures', () => {
  it('traces once per shape, dtype, requiresGrad and grad mode, and replays otherwise', () => {
    let traces = 0;
    const compiled = compile((x: Tensor) => {
      traces++;
      return x.mul(2).add(1).sum(0);
    });
    const x = randn([3, 4], { seed: 1 });
    expect(bits(compiled(x))).toEqual(bits(x.mul(2).add(1).sum(0)));
    compiled(randn([3, 4], { seed: 2 }));
    expect(traces).toBe(1);
    const wider = randn([3, 5], { seed: 3 });
    expect(bits(compiled(wider))).toEqual(bits(wider.mul(2).add(1).sum(0)));
    expect(traces).toBe(2);
    compiled(randn([3, 4], { seed: 4, dtype: 'float64' }));
    expect(traces).toBe(3);
    noGrad(() => compiled(x));
    expect(traces).toBe(4);
    compiled(randn([3, 5], { seed: 5 }));
    expect(traces).toBe(4);
  });

  it('a reduction of a small fused input sums in the order eager does (the order follows the operands\' layout)', () => {
    // summed as one row of 12 (eager: the sum is computed first) this is 10; row by row, 8
    const a = tensor([[1e16, 1, 1, 1], [-1e16, 1, 1, 1], [1, 1, 1, 1]], { dtype: 'float64' });
    const b = zeros([4], { dtype: 'float64' });
    const fn = (x: Tensor, y: Tensor) => x.add(y).sum();
    expect(fn(a, b).item()).toBe(10);
    const compiled = compile(fn);
    expect(compiled(a, b).item()).toBe(10);
    expect(compiled(a, b).item()).toBe(10);
  });

  it('numbers are part of the signature', () => {
    let traces = 0;
    const compiled = compile((x: Tensor, scale: number) => {
      traces++;
      return x.mul(scale);
    });
    const x = tensor([1, 2, 3]);
    expect(compiled(x, 2).toArray()).toEqual([2, 4, 6]);
    expect(compiled(x, 3).toArray()).toEqual([3, 6, 9]);
    expect(compiled(x, 2).toArray()).toEqual([2, 4, 6]);
    expect(traces).toBe(2);
  });

  it('results are fresh tensors: a later call does not change an earlier result', () => {
    const compiled = compile((x: Tensor) => x.exp().add(1));
    const first = compiled(tensor([0, 1]));
    const kept = bits(first);
    compiled(tensor([5, 6]));
    expect(bits(first)).toEqual(kept);
  });

  it('writes into captured tensors replay (side effects are part of the program)', () => {
    const total = zeros([2], { dtype: 'float64' });
    const accumulate = compile((x: Tensor) => {
      noGrad(() => assignInPlace(total, total.add(x)));
      return total.sum();
    });
    for (const value of [1, 2, 3]) expect(accumulate(full([2], value, { dtype: 'float64' })).item()).toBe(2 * (value * (value + 1)) / 2);
    expect(total.toArray()).toEqual([6, 6]);
  });
});

describe('compile: JavaScript state', () => {
  it('traceGuard declares a value the program depends on; traceEffect repeats a JavaScript effect on every replay', () => {
    const settingsOfLayer = { scale: 2, calls: 0 };
    let traces = 0;
    let tracingInside = false;
    const compiled = compile((x: Tensor) => {
      traces++;
      tracingInside = isTracing();
      traceGuard(() => settingsOfLayer.scale);
      traceEffect(() => {
        settingsOfLayer.calls += 1;
      });
      return x.mul(settingsOfLayer.scale);
    });
    const x = tensor([1, 2]);
    expect(compiled(x).toArray()).toEqual([2, 4]);
    expect(compiled(x).toArray()).toEqual([2, 4]);
    settingsOfLayer.scale = 3;
    expect(compiled(x).toArray()).toEqual([3, 6]);
    expect(compiled(x).toArray()).toEqual([3, 6]);
    expect([traces, settingsOfLayer.calls, tracingInside, isTracing()]).toEqual([2, 4, true, false]);
  });
});

describe('compile: state made before the trace', () => {
  it('a lazy tensor made before the trace is state, not a value of the program', () => {
    const state = withSettings({ fusionMinimumSize: 1 }, () => tensor([1, 2], { dtype: 'float64' }).mul(10));
    const accumulate = compile((x: Tensor) => {
      noGrad(() => assignInPlace(state, state.add(x)));
      return state.sum();
    });
    for (let call = 0; call < 3; call++) accumulate(full([2], 1, { dtype: 'float64' }));
    expect(state.toArray()).toEqual([13, 23]);
  });

  it('a lazy tensor made before the trace that reads old contents of written storage is a constant', () => {
    const w = tensor([1, 2], { dtype: 'float64' });
    const tripled = withSettings({ fusionMinimumSize: 1 }, () => w.mul(3));
    noGrad(() => assignInPlace(w, 0));
    const compiled = compile((x: Tensor) => x.add(tripled));
    for (let call = 0; call < 2; call++) expect(compiled(full([2], call, { dtype: 'float64' })).toArray()).toEqual([3 + call, 6 + call]);
  });
});

describe('compile: gradients for the caller', () => {
  it('inputs that require grad under grad mode run eagerly, so the result has its graph', () => {
    let runs = 0;
    const compiled = compile((x: Tensor) => {
      runs++;
      return x.square().sum();
    });
    const x = tensor([1, 2, 3], { requiresGrad: true, dtype: 'float64' });
    compiled(x).backward();
    compiled(x).backward();
    expect(runs).toBe(2);
    expect(x.grad!.toArray()).toEqual([4, 8, 12]);
  });

  it('a result whose graph reaches captured parameters keeps being computed eagerly', () => {
    const w = tensor([1, 2], { requiresGrad: true, dtype: 'float64' });
    let runs = 0;
    const compiled = compile((x: Tensor) => {
      runs++;
      return x.mul(w).sum();
    });
    for (let call = 0; call < 2; call++) {
      w.grad = null;
      compiled(tensor([3, 4], { dtype: 'float64' })).backward();
      expect(w.grad!.toArray()).toEqual([3, 4]);
    }
    expect(runs).toBe(2);
  });

  it('a step that runs backward inside refills .grad on every replay; lazy results read from it keep their values', () => {
    const w = tensor([1, 2], { requiresGrad: true, dtype: 'float64' });
    const step = compile((x: Tensor) => {
      w.grad = null;
      const loss = x.mul(w).square().sum();
      loss.backward();
      return loss;
    });
    const grads: number[][] = [];
    const doubled: Tensor[] = [];
    withSettings({ fusionMinimumSize: 1 }, () => {
      for (const value of [1, 2, 3]) {
        step(full([2], value, { dtype: 'float64' }));
        grads.push(w.grad!.toArray() as number[]);
        doubled.push(w.grad!.mul(2));
      }
    });
    expect(grads).toEqual([[2, 4], [8, 16], [18, 36]]);
    expect(doubled.map((t) => t.toArray())).toEqual([[4, 8], [16, 32], [36, 72]]);
  });
});

describe('compile: what cannot be traced', () => {
  it.each([
    ['item()', (x: Tensor) => tensor(x.sum().item())],
    ['toArray()', (x: Tensor) => tensor(x.toArray())],
    ['toFloat64Array()', (x: Tensor) => tensor(x.toFloat64Array())],
    ['randn', (x: Tensor) => x.add(randn(x.shape))],
  ])('%s inside the function is an Error naming compile', (what, fn) => {
    expect(() => compile(fn)(tensor([1, 2]))).toThrow(new RegExp(`^compile: ${what.replace(/[()]/g, '\\$&')}`));
  });

  it('a lazy result of the trace read after a write into its storage is an Error naming compile', () => {
    const w = tensor([1, 2]);
    const compiled = compile((x: Tensor) => {
      const tripled = w.mul(3);
      noGrad(() => assignInPlace(w, x));
      return tripled;
    });
    expect(() => compiled(tensor([5, 6]))).toThrow(/^compile: a lazy result is read after a write into the storage it reads/);
  });

  it('writing into an argument, or into its .grad, is an Error naming compile', () => {
    expect(() => compile((x: Tensor) => noGrad(() => assignInPlace(x, 0)))(tensor([1, 2]))).toThrow(/^compile: a write into the storage of an argument/);
    const backwardIntoArgument = compile((x: Tensor) => enableGrad(() => {
      const y = x.mul(x).sum();
      y.backward();
      return y;
    }));
    const x = tensor([1, 2], { requiresGrad: true });
    expect(() => noGrad(() => backwardIntoArgument(x))).toThrow(/^compile: a gradient assigned to the \.grad of an argument/);
  });

  it('bad arguments and results are Errors naming compile', () => {
    expect(() => compile(42 as unknown as () => Tensor)).toThrow(/^compile: expected a function, got/);
    expect(() => compile((x: unknown) => x as Tensor)([1, 2])).toThrow(/^compile: argument 0 is/);
    expect(() => compile((x: Tensor) => new Map([['x', x]]))(tensor([1]))).toThrow(/^compile: the function returned/);
  });

  it('a replay whose values take another branch than the trace runs eagerly instead', () => {
    // moments() checks in JavaScript whether the variance is within the range where squares are exact
    // (squares of 1e-170 underflow to 0, so tiny data takes the scaled branch)
    const compiled = compile((x: Tensor) => x.std(0, { correction: 0 }));
    compiled(tensor([1, 2, 3, 4], { dtype: 'float64' }));
    const tiny = tensor([1e-170, -1e-170, 3e-170, 0], { dtype: 'float64' });
    const expected = tiny.std(0, { correction: 0 });
    expect(expected.item()).toBeGreaterThan(1e-171);
    expect(bits(compiled(tiny))).toEqual(bits(expected));
  });
});
