/**
 * A tensor's value is fixed when the op that made it returns: lazy (fused) results do not read
 * storage that is written afterwards, and backward through a node whose saved tensor was written
 * in place is an Error, as in PyTorch.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { randn, tensor, zeros, ones, noGrad, withSettings, type Tensor } from '@normgrad/core';
import { BatchNorm1d, BatchNorm2d } from '@normgrad/nn';
import { Adam, SGD } from '../src/index.js';

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

describe('value semantics under random programs', () => {
  type Step =
    | { kind: 'unary'; source: number; op: 'exp' | 'tanh' | 'neg' | 'sqrtAbs' }
    | { kind: 'binary'; left: number; right: number; op: 'add' | 'mul' | 'sub' | 'maximum' }
    | { kind: 'sum'; source: number }
    | { kind: 'optimizerStep'; seed: number }
    | { kind: 'trainForward'; source: number }
    | { kind: 'evalForward'; source: number }
    | { kind: 'read'; source: number };

  const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ kind: fc.constant('unary' as const), source: fc.nat(), op: fc.constantFrom('exp' as const, 'tanh' as const, 'neg' as const, 'sqrtAbs' as const) }),
    fc.record({ kind: fc.constant('binary' as const), left: fc.nat(), right: fc.nat(), op: fc.constantFrom('add' as const, 'mul' as const, 'sub' as const, 'maximum' as const) }),
    fc.record({ kind: fc.constant('sum' as const), source: fc.nat() }),
    fc.record({ kind: fc.constant('optimizerStep' as const), seed: fc.nat({ max: 1000 }) }),
    fc.record({ kind: fc.constant('trainForward' as const), source: fc.nat() }),
    fc.record({ kind: fc.constant('evalForward' as const), source: fc.nat() }),
    fc.record({ kind: fc.constant('read' as const), source: fc.nat() }),
  );

  /** Runs the program and returns every value it read, in order. */
  function runProgram(steps: readonly Step[]): number[][] {
    const shape = [6, 4, 8];
    const weight = randn([4, 1], { seed: 1 }).mul(0.5);
    weight.requiresGrad = true;
    const bias = randn([1, 8], { seed: 2 }).mul(0.1);
    bias.requiresGrad = true;
    const layer = new BatchNorm1d(4, { momentum: 0.3 });
    const optimizer = new Adam([weight, bias], { lr: 0.05 });
    const live: Tensor[] = [randn(shape, { seed: 3 }), weight, bias];
    const reads: number[][] = [];
    const pick = (index: number) => live[index % live.length]!;
    noGrad(() => {
      for (const step of steps) {
        switch (step.kind) {
          case 'unary': {
            const x = pick(step.source);
            live.push(step.op === 'sqrtAbs' ? x.abs().sqrt() : step.op === 'exp' ? x.tanh().exp() : x[step.op]());
            break;
          }
          case 'binary': {
            const a = pick(step.left);
            const b = pick(step.right);
            const compatible = a.ndim === 3 || b.ndim === 3 ? [a, b].map((t) => (t.ndim === 3 ? t : t.broadcastTo(shape))) : [a, b];
            live.push(compatible[0]![step.op](compatible[1]!));
            break;
          }
          case 'sum':
            live.push(pick(step.source).sum(-1, true));
            break;
          case 'optimizerStep':
            weight.grad = randn(weight.shape, { seed: step.seed });
            bias.grad = randn(bias.shape, { seed: step.seed + 1 });
            optimizer.step();
            break;
          case 'trainForward':
          case 'evalForward': {
            const source = pick(step.source);
            const input = source.ndim === 3 ? source : source.broadcastTo(shape);
            layer.train(step.kind === 'trainForward');
            live.push(layer.forward(input));
            break;
          }
          case 'read':
            reads.push(Array.from(pick(step.source).toFloat64Array()));
            break;
        }
      }
      // every tensor still alive, read at the end
      for (const t of live) reads.push(Array.from(t.toFloat64Array()));
    });
    return reads;
  }

  it('every read equals the eager (fusion off) run at the same point, bit for bit', () => {
    fc.assert(
      fc.property(fc.array(stepArbitrary, { minLength: 5, maxLength: 30 }), (steps) => {
        const lazy = withSettings({ fusion: true, fusionMinimumSize: 1 }, () => runProgram(steps));
        const eager = withSettings({ fusion: false }, () => runProgram(steps));
        expect(lazy.length).toBe(eager.length);
        lazy.forEach((values, index) => {
          const differing = values.findIndex((value, i) => !Object.is(value, eager[index]![i]));
          expect(differing, `read ${index}`).toBe(-1);
        });
      }),
      { seed: 20261201, numRuns: 40 },
    );
  });
});
