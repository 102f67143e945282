import { grad, type Tensor } from '@normgrad/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchNorm, groupNorm, instanceNorm, layerNorm } from '../src/index.js';
import { product, seededTensor } from './helpers.js';

const RUNS = 50;

interface Case {
  name: string;
  /** Random input shapes the norm accepts (float64). */
  shape: fc.Arbitrary<number[]>;
  /** The norm without affine, eps = 0 unless given. */
  norm: (x: Tensor, eps: number) => Tensor;
  /** x reshaped so that each row of the result is one normalized set (one statistic). */
  normalizedSets: (x: Tensor) => Tensor;
}

const dims = (min: number, max: number, minLength: number, maxLength: number) =>
  fc.array(fc.integer({ min, max }), { minLength, maxLength });

const cases: Case[] = [
  {
    name: 'batchNorm (training)',
    shape: fc.tuple(fc.integer({ min: 2, max: 4 }), fc.integer({ min: 1, max: 3 }), dims(1, 3, 0, 2)).map(([n, c, s]) => [n, c, ...s]),
    norm: (x, eps) => batchNorm(x, null, null, { training: true, eps }),
    // channel-major rows: (C, N * spatial)
    normalizedSets: (x) => x.transpose(0, 1).reshape([x.shape[1]!, x.size / x.shape[1]!]),
  },
  {
    name: 'layerNorm over the last two axes',
    shape: fc.tuple(dims(1, 3, 1, 2), dims(2, 4, 2, 2)).map(([b, s]) => [...b, ...s]),
    norm: (x, eps) => layerNorm(x, x.shape.slice(-2), { eps }),
    normalizedSets: (x) => x.reshape([x.size / product(x.shape.slice(-2)), product(x.shape.slice(-2))]),
  },
  {
    name: 'instanceNorm',
    shape: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), dims(2, 4, 1, 2)).map(([n, c, s]) => [n, c, ...s]),
    norm: (x, eps) => instanceNorm(x, { eps }),
    normalizedSets: (x) => x.reshape([x.shape[0]! * x.shape[1]!, product(x.shape.slice(2))]),
  },
  {
    name: 'groupNorm with 2 groups',
    shape: fc
      .tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }), dims(1, 3, 0, 2))
      .filter(([, cpg, s]) => cpg * product(s) > 1) // at least two values per group
      .map(([n, cpg, s]) => [n, 2 * cpg, ...s]),
    norm: (x, eps) => groupNorm(x, 2, { eps }),
    normalizedSets: (x) => x.reshape([x.shape[0]! * 2, x.size / (x.shape[0]! * 2)]),
  },
];

describe.each(cases.map((c) => [c.name, c] as const))('%s invariants (float64)', (_, c) => {
  const input = fc.tuple(c.shape, fc.integer({ min: 0, max: 1e6 })).map(([shape, seed]) => seededTensor(shape, seed, { scale: 3, offset: 2 }));

  it(`each normalized set has mean 0 and biased variance 1 (eps = 0) (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(input, (x) => {
        const rows = c.normalizedSets(c.norm(x, 0));
        const mean = rows.mean(1).toFloat64Array();
        const variance = rows.var(1, { correction: 0 }).toFloat64Array();
        for (const m of mean) expect(Math.abs(m)).toBeLessThan(1e-12);
        for (const v of variance) expect(v).toBeCloseTo(1, 10);
      }),
      { numRuns: RUNS, seed: 11 },
    );
  });

  it(`is invariant to x -> a x + b for a > 0 (eps = 0) (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(input, fc.double({ min: 0.1, max: 10, noNaN: true }), fc.double({ min: -5, max: 5, noNaN: true }), (x, a, b) => {
        const y = c.norm(x, 0).toFloat64Array();
        const yShifted = c.norm(x.mul(a).add(b), 0).toFloat64Array();
        y.forEach((value, i) => expect(yShifted[i]!).toBeCloseTo(value, 9));
      }),
      { numRuns: RUNS, seed: 12 },
    );
  });

  it(`the gradient of sum(norm(x)) w.r.t. x is 0 (eps = 1e-5) (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(input, (x) => {
        const gradient = grad((xi: Tensor) => c.norm(xi, 1e-5).sum())(x).toFloat64Array();
        for (const value of gradient) expect(Math.abs(value)).toBeLessThan(1e-10);
      }),
      { numRuns: RUNS, seed: 13 },
    );
  });
});

describe('normalization is sound in float32 for a large mean and a small spread', () => {
  it('batchNorm, layerNorm and groupNorm of 1e4 + U(-1, 1) data stay within 1e-2 of the float64 result', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e6 }), (seed) => {
        const x64 = seededTensor([8, 4, 6], seed, { scale: 1, offset: 1e4 }).to('float32').to('float64');
        const x32 = x64.to('float32');
        for (const norm of [
          (x: Tensor) => batchNorm(x, null, null, { training: true }),
          (x: Tensor) => layerNorm(x, [6]),
          (x: Tensor) => groupNorm(x, 2),
        ]) {
          const reference = norm(x64).toFloat64Array();
          const actual = norm(x32).toFloat64Array();
          // ulp(1e4) in float32 is 2^-10, so the stored mean is off by up to ~5e-4; E[x^2] - E[x]^2
          // would have lost everything (ulp(1e8) = 8 against a variance of 1/3: it gives 0 or -8)
          const maxError = reference.reduce((worst, value, i) => Math.max(worst, Math.abs(actual[i]! - value)), 0);
          expect(maxError).toBeLessThan(1e-2);
          expect(actual.every(Number.isFinite)).toBe(true);
        }
      }),
      { numRuns: 10, seed: 14 },
    );
  });
});
