/**
 * Storage reuse (storage-pool.ts): a backward pass returns the storage of cotangents it proves dead
 * to a pool that later allocations take from. Reuse must never change a value: random programs
 * (fan-out through add, views, reductions, matmul, fused chains) give bit-identical gradients with
 * reuse on and off, every tensor a test still holds keeps its value while later passes reuse
 * storage, and hooks, customOps, recorded graphs and forward over reverse keep theirs too.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import * as ng from '@normgrad/core';
import type { Tensor } from '@normgrad/core';
import { poolCounts, pooledByteCount, setStorageReuse } from '../src/storage-pool.js';

afterEach(() => setStorageReuse(true));

// 48 × 96 float64: 36 KiB per array, above the pool's minimum
const shape = [48, 96];

type Step = (t: Tensor, w: Tensor) => Tensor;
const steps: Step[] = [
  (t, w) => t.mul(w).add(t), // fan-out of t's cotangent
  (t) => t.add(t), // add passes one cotangent to both inputs
  (t) => t.reshape([96, 48]).mul(2).reshape(shape), // views of cotangents
  (t) => t.transpose().mul(t.transpose()).transpose(),
  (t, w) => t.sub(t.mean(1, true)).mul(w.exp()), // reductions and broadcasts
  (t, w) => t.matmul(w.transpose()).matmul(w).mul(1e-2), // cotangents read by matmul
  (t) => ng.where(t.gt(0), t, t.mul(0.1)).tanh(),
  (t) => t.slice([0, 48], [0, 96, 2]).pad([[0, 0], [0, 48]], 0).add(t.mul(0.5)),
];

function program(choices: number[]): (x: Tensor, w: Tensor, g: Tensor) => Tensor {
  return (x, w, g) => {
    let t = x;
    for (const choice of choices) t = steps[choice]!(t, w);
    return t.mul(g).sum();
  };
}

const inputs = () => [
  ng.randn(shape, { dtype: 'float64', seed: 1 }),
  ng.randn(shape, { dtype: 'float64', seed: 2 }).mul(0.3),
  ng.randn(shape, { dtype: 'float64', seed: 3 }),
] as const;

const gradients = (fn: ReturnType<typeof program>): Tensor[] => {
  const [x, w, g] = inputs();
  return ng.grad(fn, { argnums: [0, 1], allowUnused: true })(x, w, g);
};

describe('storage reuse within backward passes', () => {
  it('gives bit-identical gradients with reuse on and off, and held tensors keep their values', () => {
    const before = poolCounts();
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: steps.length - 1 }), { minLength: 1, maxLength: 6 }), (choices) => {
        const fn = program(choices);
        setStorageReuse(false);
        const reference = gradients(fn).map((t) => t.toArray());
        setStorageReuse(true);
        const held = [gradients(fn), gradients(fn)];
        const heldValues = held.map((pair) => pair.map((t) => t.toArray()));
        // later passes take the pooled storage
        for (let repeat = 0; repeat < 2; repeat++) expect(gradients(fn).map((t) => t.toArray())).toEqual(reference);
        held.forEach((pair, index) => expect(pair.map((t) => t.toArray())).toEqual(heldValues[index]));
        expect(heldValues[0]).toEqual(reference);
      }),
      { numRuns: 15, seed: 181 },
    );
    // storage really was reused
    expect(poolCounts().taken - before.taken).toBeGreaterThan(15);
  });

  it('backward() into leaves: .grad keeps its value while later passes reuse storage', () => {
    const [x, w, g] = inputs();
    const fn = program([0, 5, 2, 1]);
    const leaf = x.detach();
    leaf.requiresGrad = true;
    fn(leaf, w, g).backward();
    const first = leaf.grad!;
    const value = first.toArray();
    for (let repeat = 0; repeat < 3; repeat++) ng.grad(fn)(x, w, g);
    expect(first.toArray()).toEqual(value);
  });

  it('a gradient a hook keeps is never reused', () => {
    const [x, w, g] = inputs();
    const square = ng.randn([96, 96], { dtype: 'float64', seed: 5 }).mul(0.1);
    const kept: Tensor[] = [];
    const fn = (input: Tensor) => {
      // matmul's VJP reads the hooked cotangent at once, so only the hook still holds it afterwards
      const hidden = input.matmul(square);
      hidden.registerHook((gradient) => void kept.push(gradient));
      return hidden.matmul(w.transpose()).matmul(w).mul(g).sum();
    };
    ng.grad(fn)(x);
    const value = kept[0]!.toArray();
    for (let repeat = 0; repeat < 3; repeat++) ng.grad(fn)(x);
    expect(kept[0]!.toArray()).toEqual(value);
  });

  it('a cotangent a customOp VJP keeps is never reused', () => {
    const [x, w, g] = inputs();
    const identityMatrix = ng.eye(96, { dtype: 'float64' });
    const seen: Tensor[] = [];
    const identity = ng.customOp({
      name: 'keepingIdentity',
      forward: (a) => a,
      vjp: (gradOut) => {
        seen.push(gradOut);
        return [gradOut.matmul(identityMatrix)];
      },
    });
    const fn = (input: Tensor) => identity(input.matmul(w.transpose()).matmul(w)).mul(w).mul(g).sum();
    ng.grad(fn)(x);
    const value = seen[0]!.toArray();
    for (let repeat = 0; repeat < 3; repeat++) ng.grad(fn)(x);
    expect(seen[0]!.toArray()).toEqual(value);
  });

  it('storage of a tensor made before the pass (a pending gradient seed computed during it) is never reused', () => {
    const [x, w, g] = inputs();
    const leaf = x.detach();
    leaf.requiresGrad = true;
    // a lazily fused seed: computed only when reshape's VJP reads it, during the pass
    const seed = g.reshape([96, 48]).mul(2);
    const value = g.reshape([96, 48]).mul(2).toArray();
    expect(seed.pendingElementwise).not.toBeNull();
    leaf.matmul(w.transpose()).matmul(w).reshape([96, 48]).backward(seed);
    expect(seed.toArray()).toEqual(value);
    for (let repeat = 0; repeat < 3; repeat++) ng.grad((input: Tensor) => input.matmul(w.transpose()).matmul(w).mul(g).sum())(x);
    expect(seed.toArray()).toEqual(value);
  });

  it('second order (a recorded backward pass) and forward over reverse are unchanged by reuse', () => {
    const [x, w, g] = inputs();
    const fn = program([5, 6, 0, 4, 1]);
    const run = () => {
      const second = ng.grad((input: Tensor) => ng.grad(fn)(input, w, g).square().sum())(x).toArray();
      const product = ng.hvp((input: Tensor) => fn(input, w, g), [x], [g])[0]!.toArray();
      return [second, product];
    };
    setStorageReuse(false);
    const reference = run();
    setStorageReuse(true);
    ng.grad(fn)(x, w, g);
    expect(run()).toEqual(reference);
  });

  it('a recorded backward pass (createGraph) keeps its cotangents for the next one', () => {
    const [x, w] = inputs();
    const run = () => {
      const leaf = x.detach();
      leaf.requiresGrad = true;
      const a = ng.randn([96, 200], { dtype: 'float64', seed: 6, requiresGrad: true });
      const b = ng.randn([200, 96], { dtype: 'float64', seed: 7, requiresGrad: true });
      // matmul's VJP reads each cotangent at once, and the recorded graph saves it for the weights' gradients
      leaf.matmul(a.mul(0.1)).tanh().matmul(b.mul(0.1)).tanh().mul(w).sum().backward(undefined, { createGraph: true });
      const first = leaf.grad!;
      leaf.grad = null;
      a.grad = null;
      b.grad = null;
      first.matmul(ng.randn([96, 96], { dtype: 'float64', seed: 8 })).tanh().square().sum().backward();
      return [first, leaf.grad!, a.grad!, b.grad!].map((t) => t.toArray());
    };
    setStorageReuse(false);
    const reference = run();
    setStorageReuse(true);
    expect(run()).toEqual(reference);
  });

  it('forward over reverse (hvp) on random programs: bit-identical with reuse on and off', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: steps.length - 1 }), { minLength: 1, maxLength: 5 }), (choices) => {
        const fn = program(choices);
        const [x, w, g] = inputs();
        const run = () => ng.hvp((input: Tensor, weight: Tensor) => fn(input, weight, g), [x, w], [g, x.mul(0.5)]);
        setStorageReuse(false);
        const reference = run().map((t) => t.toArray());
        setStorageReuse(true);
        const held = run();
        const heldValues = held.map((t) => t.toArray());
        expect(run().map((t) => t.toArray())).toEqual(reference);
        expect(held.map((t) => t.toArray())).toEqual(heldValues);
        expect(heldValues).toEqual(reference);
      }),
      { numRuns: 10, seed: 182 },
    );
  });

  it('a compile trace keeps its arrays: tensors made after it are never written by its replays', () => {
    const [x] = inputs();
    const v = ng.randn([96, 200], { dtype: 'float64', seed: 4 });
    // eagerly, this pass leaves the (48, 200) cotangent of tanh's input in the pool
    const step = ng.compile((input: Tensor) => ng.grad((t: Tensor) => t.matmul(v).tanh().sum())(input));
    step(x);
    const later = x.matmul(v);
    const value = later.toArray();
    for (let repeat = 0; repeat < 2; repeat++) step(x);
    expect(later.toArray()).toEqual(value);
  });

  it('a fused sum over a run of reduced axes split by a broadcast column makes no scratch copy, and the sum is unchanged', () => {
    const [x] = inputs();
    const column = ng.randn([48, 1], { dtype: 'float64', seed: 9 });
    // the broadcast column splits the run of reduced axes: the kernels carry the running totals across its rows
    const sum = () => x.mul(column).add(1).sum();
    setStorageReuse(false);
    const reference = sum().toArray();
    setStorageReuse(true);
    const before = poolCounts();
    expect(sum().toArray()).toEqual(reference);
    expect(sum().toArray()).toEqual(reference);
    expect(poolCounts().returned - before.returned).toBe(0);
    expect(poolCounts().taken - before.taken).toBe(0);
  });

  it('releaseScratchMemory empties the pool', () => {
    const [x] = inputs();
    const v = ng.randn([96, 200], { dtype: 'float64', seed: 4 });
    // the (48, 200) cotangent of tanh's input is returned after matmul's VJP; nothing later takes it
    ng.grad((input: Tensor) => input.matmul(v).tanh().sum())(x);
    expect(pooledByteCount()).toBeGreaterThan(0);
    ng.releaseScratchMemory();
    expect(pooledByteCount()).toBe(0);
  });
});
