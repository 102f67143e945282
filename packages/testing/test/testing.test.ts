import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { broadcastShapes, customOp, tensor, type Tensor } from '@normgrad/core';
import {
  allclose,
  axesArbitrary,
  axisArbitrary,
  broadcastShapesArbitrary,
  checkVjp,
  shapeArbitrary,
  tensorArbitrary,
} from '../src/index.js';
import { installMatchers } from '../src/vitest.js';

installMatchers();

const settings = { seed: 7, numRuns: 50 };

describe('arbitraries', () => {
  it('shapes respect the rank and extent bounds', () => {
    fc.assert(
      fc.property(shapeArbitrary({ minRank: 1, maxRank: 3, minExtent: 2, maxExtent: 5 }), (shape) => {
        expect(shape.length).toBeGreaterThanOrEqual(1);
        expect(shape.length).toBeLessThanOrEqual(3);
        for (const extent of shape) expect(extent >= 2 && extent <= 5).toBe(true);
      }),
      settings,
    );
  });

  it('broadcast shape pairs are broadcast-compatible', () => {
    fc.assert(
      fc.property(broadcastShapesArbitrary(), ([left, right]) => {
        expect(() => broadcastShapes('test', left, right)).not.toThrow();
      }),
      settings,
    );
  });

  it('axes are distinct and in range, positive or negative', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }).chain((rank) => fc.tuple(fc.constant(rank), axesArbitrary(rank), axisArbitrary(rank))), ([rank, axes, axis]) => {
        const normalized = axes.map((a) => (a < 0 ? a + rank : a));
        expect(new Set(normalized).size).toBe(axes.length);
        for (const a of [...normalized, axis < 0 ? axis + rank : axis]) expect(a >= 0 && a < rank).toBe(true);
      }),
      settings,
    );
  });

  it('tensors have the shape, dtype and value range asked for', () => {
    fc.assert(
      fc.property(tensorArbitrary([2, 3], { min: 0.5, max: 1.5 }), (x) => {
        expect(x.shape).toEqual([2, 3]);
        expect(x.dtype).toBe('float64');
        for (const value of x.toFloat64Array()) expect(value >= 0.5 && value <= 1.5).toBe(true);
      }),
      settings,
    );
    fc.assert(
      fc.property(tensorArbitrary([4], { awayFromZero: 0.25 }), (x) => {
        for (const value of x.toFloat64Array()) expect(Math.abs(value)).toBeGreaterThanOrEqual(0.25);
      }),
      settings,
    );
  });
});

function cubeWith(factor: number): (x: Tensor) => Tensor {
  return customOp({
    name: `cube×${factor}`,
    forward: (x) => {
      const values = tensor(x).toFloat64Array().map((value) => value ** 3);
      return tensor(values, { shape: x.shape, dtype: 'float64' }).data;
    },
    vjp: (g, [x]) => [g.mul(x!.square()).mul(factor)],
  });
}

describe('checkVjp', () => {
  it('accepts a correct VJP rule', () => {
    const x = tensor([0.5, -1, 2], { dtype: 'float64' });
    const result = checkVjp(cubeWith(3), [x]);
    expect(result.ok).toBe(true);
    expect(result.analytic).toBeCloseTo(result.numeric, 6);
  });

  it('rejects a wrong VJP rule', () => {
    const x = tensor([0.5, -1, 2], { dtype: 'float64' });
    expect(checkVjp(cubeWith(2), [x]).ok).toBe(false);
  });
});

describe('toBeAllclose and allclose', () => {
  it('compares tensors, nested arrays and typed arrays within tolerance', () => {
    expect(tensor([[1, 2], [3, 4]], { dtype: 'float64' })).toBeAllclose([[1, 2], [3, 4 + 1e-9]]);
    expect(Float64Array.of(1, 2)).toBeAllclose([1, 2.0001], { rtol: 1e-3 });
    expect(tensor([1, 2])).not.toBeAllclose([1, 2.1]);
  });

  it('reports shape mismatches and the worst element', () => {
    expect(allclose(tensor([1, 2]), tensor([[1, 2]])).message).toMatch(/shapes differ: \[2\] vs \[1, 2\]/);
    const report = allclose([1, 2, 3], [1, 2.5, 3]);
    expect(report.pass).toBe(false);
    expect(report.message).toMatch(/worst at flat index 1: 2 vs 2.5/);
  });

  it('treats NaN as equal to NaN unless told otherwise', () => {
    expect(allclose([NaN], [NaN]).pass).toBe(true);
    expect(allclose([NaN], [NaN], { equalNan: false }).pass).toBe(false);
  });
});
