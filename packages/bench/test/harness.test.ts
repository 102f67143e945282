import { describe, expect, it } from 'vitest';
import { compareResults } from '../src/compare.js';
import { judge, summarize, type Cell } from '../src/harness.js';
import { mean, median, plannedRuns, rotated, wantsWarmup } from '../src/stats.js';
import { makeWorkload, quickSizes } from '../src/workloads.js';

describe('harness math', () => {
  it('medians, means, rotations, planned runs and warm-ups', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
    expect(mean([1, 2, 6])).toBe(3);
    expect(mean([])).toBeNaN();
    expect(rotated(['a', 'b', 'c'], 0)).toEqual(['a', 'b', 'c']);
    expect(rotated(['a', 'b', 'c'], 1)).toEqual(['b', 'c', 'a']);
    expect(rotated(['a', 'b', 'c'], 5)).toEqual(['c', 'a', 'b']);
    expect(rotated([], 2)).toEqual([]);
    expect(plannedRuns(100, 15, 4000)).toBe(15); // 40 fit in the budget, capped at 15
    expect(plannedRuns(500, 15, 4000)).toBe(8);
    expect(plannedRuns(3000, 15, 4000)).toBe(3); // never fewer than 3
    expect(plannedRuns(0, 15, 4000)).toBe(15);
    // how many warm-ups run after a first iteration of `firstMs` when each takes `stepMs`
    const warmups = (firstMs: number, stepMs: number, quick = false): number => {
      let done = 0;
      while (wantsWarmup(done, done * stepMs, done === 0 ? firstMs : stepMs, quick)) done++;
      return done;
    };
    expect([warmups(5, 250), warmups(5, 50), warmups(5, 1), warmups(2000, 1), warmups(300, 300), warmups(2000, 2000), warmups(5, 1, true)]).toEqual([1, 10, 100, 100, 1, 1, 1]);
  });

  it('summarizes a cell: median, mean, page faults per iteration and throughput (bytes per element from the name)', () => {
    const w5 = makeWorkload('W5', quickSizes); // 2·64³ flops
    const cell = summarize({ system: 'normgrad', workload: 'W5', status: 'ok', runsMs: [2, 1, 6], runsFaults: [0, 3, 6] }, w5);
    expect(cell).toMatchObject({ medianMs: 2, meanMs: 3, faultsPerIteration: 3 });
    expect(cell.rate).toBeCloseTo((2 * 64 ** 3) / 2e6, 12);
    const w6 = makeWorkload('W6', quickSizes); // 5 · n · bytes
    expect(summarize({ system: 'torch-2T-f64', workload: 'W6', status: 'ok', runsMs: [1] }, w6).rate).toBeCloseTo((5 * 4096 * 8) / 1e6, 12);
    expect(summarize({ system: 'torch-2T', workload: 'W6', status: 'ok', runsMs: [1] }, w6).rate).toBeCloseTo((5 * 4096 * 4) / 1e6, 12);
  });

  it('judges agreement against normgrad float32 (the criterion) and float64, with relative and absolute errors', () => {
    const references = new Map([
      ['normgrad', { y: new Float32Array([1, -2, 4]) }],
      ['normgrad-f64', { y: new Float64Array([1, -2, 4.0000001]) }],
    ]);
    const close: Cell = { system: 'torch-1T', workload: 'W1', status: 'ok' };
    judge(close, { y: new Float64Array([1, -2.0001, 4]) }, references);
    expect(close.agrees).toBe(true); // |−2.0001 − (−2)| / max |b| = 1e-4 / 4
    expect(close.vsNormgrad!.maxRelError).toBeCloseTo(2.5e-5, 9);
    expect(close.vsNormgrad!.maxAbsError).toBeCloseTo(1e-4, 9);
    expect(close.vsFloat64!.worst).toBe('y');
    const far: Cell = { system: 'torch-1T', workload: 'W1', status: 'ok' };
    judge(far, { y: new Float64Array([1, -2.001, 4]) }, references);
    expect(far.agrees).toBe(false); // 2.5e-4
    const missing: Cell = { system: 'torch-1T', workload: 'W1', status: 'ok' };
    judge(missing, { z: new Float64Array([1, -2, 4]) }, references);
    expect(missing).toMatchObject({ agrees: false, vsNormgrad: { missing: ['y'] } });
    const reference: Cell = { system: 'normgrad', workload: 'W1', status: 'ok' };
    judge(reference, { y: new Float32Array([1, -2, 4]) }, references);
    expect(reference.vsNormgrad).toBeUndefined(); // the reference is not compared with itself
  });

  it('compares outputs by name: max |a − b| / max |b|, max |a − b|, the worst output, missing outputs', () => {
    const agreement = compareResults({ a: new Float64Array([1, 2]), b: new Float64Array([0, 10.5]) }, { a: new Float64Array([1, 2]), b: new Float64Array([0, 10]), c: new Float64Array([1]) });
    expect(agreement).toEqual({ maxRelError: 0.05, maxAbsError: 0.5, worst: 'b', missing: ['c'] });
    expect(compareResults({ a: new Float64Array([NaN]) }, { a: new Float64Array([1]) }).maxRelError).toBeNaN();
  });
});
