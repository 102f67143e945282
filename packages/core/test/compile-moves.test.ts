/**
 * compile's argument and result moves in programs with writes and effects: a write or an effect
 * that declares what it reaches lets the program read its arguments where they are and hand over
 * its results, and replays still equal eager calls bit for bit; one that does not keeps the
 * program copying, so the arrays such a step captured keep holding the values it reads.
 */
import { describe, expect, it } from 'vitest';
import { E, assignInPlace, compile, elementwiseInto, full, noGrad, randn, storageVersion, traceEffect, withSettings, writeStorage, zeros, type Tensor } from '@normgrad/core';
import ndarray from 'ndarray';
import type { FloatArray } from '../src/dtype.js';
import type { FloatNdArray } from '../src/kernels/layout.js';
import { keptOutOfPool } from '../src/storage-pool.js';

const bitsOf = (t: Tensor): number[] => Array.from(new Uint8Array(t.toTypedArray().buffer.slice(0)));

/** A training-mode step like BatchNorm's: running statistics and a count updated, the input normalized. */
function makeStep(state: { running: Tensor; last: Tensor; count: number }) {
  return (x: Tensor) => {
    const mean = x.mean(0);
    noGrad(() => {
      assignInPlace(state.running, state.running.mul(0.9).add(mean.mul(0.1)));
      assignInPlace(state.last, x);
    });
    traceEffect(() => {
      state.count += 1;
    }, { arrays: [] });
    const centered = x.sub(mean);
    // a result written in place after it was computed
    const shifted = centered.mul(2);
    noGrad(() => assignInPlace(shifted, shifted.add(1)));
    return [centered.square().sum(), shifted];
  };
}

const newState = () => ({ running: zeros([8], { dtype: 'float64' }), last: zeros([16, 8], { dtype: 'float64' }), count: 0 });

describe('compile: moves in programs with writes', () => {
  it('a program whose writes and effects declare what they reach equals eager calls bit for bit, and earlier results keep their values', () => {
    const [eagerState, compiledState] = [newState(), newState()];
    const [eager, compiled] = [makeStep(eagerState), compile(makeStep(compiledState))];
    const calls = [0, 1, 2, 3, 4].map((seed) => {
      const x = randn([16, 8], { seed, dtype: 'float64' });
      const [expected, results] = [eager(x), compiled(x)];
      expect(results.map(bitsOf)).toEqual(expected.map(bitsOf));
      expect(bitsOf(compiledState.running)).toEqual(bitsOf(eagerState.running));
      expect(bitsOf(compiledState.last)).toEqual(bitsOf(x));
      return { results, kept: results.map(bitsOf) };
    });
    for (const { results, kept } of calls) expect(results.map(bitsOf)).toEqual(kept);
    expect(compiledState.count).toBe(5);
    expect(eagerState.count).toBe(5);
  });

  it('such a program reads its arguments where they are and hands over its computed results', () => {
    let traced: Tensor | null = null;
    const state = newState();
    const step = makeStep(state);
    const compiled = compile((x: Tensor) => {
      traced = x;
      return step(x);
    });
    const [, first] = compiled(randn([16, 8], { seed: 1, dtype: 'float64' })) as Tensor[];
    const version = storageVersion(first!.data.data);
    const x = randn([16, 8], { seed: 2, dtype: 'float64' });
    const [, shifted] = compiled(x) as Tensor[];
    // the trace's copy of the argument now views the caller's array, and the result is the program's array
    expect(traced!.data.data).toBe(x.data.data);
    expect(keptOutOfPool(shifted!.data.data)).toBe(true);
    // the replay wrote into the array the result had moved to, not into the one handed over before
    expect(storageVersion(first!.data.data)).toBe(version);
  });

  it('elementwiseInto in a compiled function reads the values of this call (its inputs move with the program\'s values)', () => {
    const make = (buffer: Tensor) => (x: Tensor) => {
      const doubled = x.mul(2);
      noGrad(() => elementwiseInto((a, b) => E.add(a, b), [doubled.data.data as FloatArray, buffer.data.data as FloatArray], buffer.data.data as FloatArray));
      return doubled;
    };
    const [eagerBuffer, compiledBuffer] = [zeros([64], { dtype: 'float64' }), zeros([64], { dtype: 'float64' })];
    const [eager, compiled] = [make(eagerBuffer), compile(make(compiledBuffer))];
    for (let seed = 0; seed < 4; seed++) {
      const x = randn([64], { seed, dtype: 'float64' });
      expect(bitsOf(compiled(x))).toEqual(bitsOf(eager(x)));
      expect(bitsOf(compiledBuffer)).toEqual(bitsOf(eagerBuffer));
    }
  });

  it('an argument whose storage the program writes is copied, as the traced call read it (before the write)', () => {
    const buffer = full([32], 1, { dtype: 'float64' });
    const compiled = compile((x: Tensor) => {
      noGrad(() => assignInPlace(buffer, buffer.add(1)));
      return x.mul(3);
    });
    compiled(full([32], 5, { dtype: 'float64' }));
    for (let call = 0; call < 3; call++) {
      const before = buffer.toArray() as number[];
      const result = compiled(buffer);
      expect(result.toArray()).toEqual(before.map((value) => value * 3));
    }
  });

  it('a .grad the step assigns and returns stays where it is: refilled in place, returned as a copy, lazy results from it keep their values', () => {
    const make = (w: Tensor, state: { running: Tensor }) => (x: Tensor) => {
      noGrad(() => assignInPlace(state.running, state.running.add(1)));
      w.grad = null;
      const loss = x.mul(w).square().sum();
      loss.backward();
      return [loss, w.grad!];
    };
    const [w, eagerW] = [0, 1].map(() => randn([32], { seed: 3, dtype: 'float64', requiresGrad: true }));
    const [compiled, eager] = [compile(make(w!, newState())), make(eagerW!, newState())];
    const gradients: Tensor[] = [];
    const lazy: Tensor[] = [];
    const expected: number[][] = [];
    for (let seed = 0; seed < 4; seed++) {
      const x = randn([32], { seed: seed + 10, dtype: 'float64' });
      const [, gradient] = compiled(x) as Tensor[];
      gradients.push(gradient!);
      lazy.push(withSettings({ fusionMinimumSize: 1 }, () => w!.grad!.mul(1)));
      expected.push(eager(x)[1]!.toArray() as number[]);
    }
    expect(gradients.includes(w!.grad!)).toBe(false);
    expect(gradients.map((gradient) => gradient.toArray())).toEqual(expected);
    expect(lazy.map((gradient) => gradient.toArray())).toEqual(expected);
    expect(w!.grad!.toArray()).toEqual(expected[3]);
  });

  it('an effect that declares its arrays reads each call\'s values through them while the values move', () => {
    const seen: number[][] = [];
    let traced: Tensor | null = null;
    const compiled = compile((x: Tensor) => {
      traced = x;
      const scaled = x.mul(2);
      // views of their own, which only the effect's declaration names
      const [argument, result] = [ndarray(x.data.data, [16]), ndarray(scaled.data.data, [16])] as [FloatNdArray, FloatNdArray];
      traceEffect(() => {
        seen.push([argument.data[0]!, result.data[0]!]);
      }, { arrays: [argument, result] });
      return scaled;
    });
    const calls = [1, 2, 3].map((value) => {
      const x = full([16], value, { dtype: 'float64' });
      return { x, result: compiled(x) };
    });
    expect(seen).toEqual([[1, 2], [2, 4], [3, 6]]);
    expect(calls.map(({ result }) => result.toTypedArray()[0])).toEqual([2, 4, 6]);
    expect(traced!.data.data).toBe(calls[2]!.x.data.data);
  });

  it('an effect that does not declare its arrays keeps the program copying: the arrays it captured hold each call\'s values', () => {
    const seen: number[][] = [];
    const compiled = compile((x: Tensor) => {
      const scaled = x.mul(2);
      const [argumentArray, resultArray] = [x.data.data, scaled.data.data];
      traceEffect(() => {
        seen.push([argumentArray[0]!, resultArray[0]!]);
      });
      return scaled;
    });
    const results = [1, 2, 3].map((value) => compiled(full([16], value, { dtype: 'float64' })));
    expect(seen).toEqual([[1, 2], [2, 4], [3, 6]]);
    expect(results.map((result) => result.toTypedArray()[0])).toEqual([2, 4, 6]);
  });

  it('a write without access keeps the program copying; its closure reads the values of each call', () => {
    const buffer = zeros([16], { dtype: 'float64' });
    const compiled = compile((x: Tensor) => {
      const scaled = x.mul(2);
      const source = scaled.data.data;
      noGrad(() => writeStorage(buffer.data.data, () => (buffer.data.data as Float64Array).set(source)));
      return scaled;
    });
    for (const value of [1, 2, 3]) {
      compiled(full([16], value, { dtype: 'float64' }));
      expect(buffer.toTypedArray()[0]).toBe(2 * value);
    }
  });

  it('bad access and effect options are Errors naming the entry point', () => {
    const target = zeros([4], { dtype: 'float64' });
    const other = zeros([4], { dtype: 'float64' });
    expect(() => writeStorage(target.data.data, () => {}, { target: other.data, reads: [] })).toThrow(/^writeStorage: access\.target must view the written array/);
    expect(() => traceEffect(() => {}, { array: [] } as never)).toThrow(/^traceEffect: unknown option 'array' \(did you mean 'arrays'\?\)/);
    expect(() => traceEffect(() => {}, { arrays: [new Float64Array(2)] } as never)).toThrow(/^traceEffect: arrays must be an array of ndarrays/);
  });
});
