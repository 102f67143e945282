/**
 * A sum's order is the one its row-major layout gives (kernels/reduce.ts): the same bits whether
 * the summed values are an array, a fused expression over broadcast operands, or a strided view.
 * Values of widely different magnitudes make any other order visible.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as ng from '@normgrad/core';
import type { Settings, Tensor } from '@normgrad/core';

const unfused: Partial<Settings> = { fusion: false };
const fusedEverywhere: Partial<Settings> = { fusion: true, fusionMinimumSize: 1 };

/** Values from 1e-3 to 1e16 with random signs, so float64 sums depend on their order. */
function wideValues(shape: number[], seed: number): Tensor {
  const magnitude = ng.rand(shape, { dtype: 'float64', seed }).mul(19).sub(3);
  const sign = ng.rand(shape, { dtype: 'float64', seed: seed + 1 }).sub(0.5).sign();
  return ng.full(shape, 10, { dtype: 'float64' }).pow(magnitude).mul(sign);
}

const bitsOf = (t: Tensor): number[] => Array.from(t.toFloat64Array());

describe('the order of a sum', () => {
  it('is the same for a fused expression over a broadcast operand as for its array', () => {
    const x = ng.tensor([[1e16, 1, 1, 1], [-1e16, 1, 1, 1], [1, 1, 1, 1]], { dtype: 'float64' });
    const total = (settings: Partial<Settings>) => ng.withSettings(settings, () => x.add(ng.zeros([4], { dtype: 'float64' })).sum().item());
    expect(total(fusedEverywhere)).toBe(total(unfused));
    expect(total(unfused)).toBe(10);
  });

  it('of a transposed view is the one of its row-major copy', () => {
    const x = ng.tensor([[1e16, 1, 1, 1], [-1e16, 1, 1, 1], [1, 1, 1, 1]], { dtype: 'float64' });
    const view = x.transpose(0, 1);
    const copy = ng.tensor(view.toArray() as number[][], { dtype: 'float64' });
    expect(view.sum().item()).toBe(copy.sum().item());
    expect(view.sum().item()).toBe(6);
  });

  it('does not depend on fusion, broadcasting or views, over random shapes and axes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 0, max: 15 }),
        fc.integer({ min: 0, max: 15 }),
        (shape, seed, broadcastMask, axesMask) => {
          const x = wideValues(shape, seed);
          // a second operand of extent 1 on the masked axes, broadcast against x
          const bShape = shape.map((extent, axis) => ((broadcastMask >> axis) & 1 ? 1 : extent));
          const b = wideValues(bShape, seed + 7);
          const axes = shape.map((_, axis) => axis).filter((axis) => (axesMask >> axis) & 1);
          const reduced = axes.length > 0 ? axes : undefined;
          const sumOf = (settings: Partial<Settings>) => ng.withSettings(settings, () => bitsOf(x.add(b).mul(x).sum(reduced)));
          expect(sumOf(fusedEverywhere)).toEqual(sumOf(unfused));
          // the same values as a permuted view and as a row-major array
          const order = shape.map((_, axis) => shape.length - 1 - axis);
          const view = x.permute(order);
          const copy = ng.tensor(view.toArray() as number[], { dtype: 'float64' }).reshape(view.shape);
          const viewAxes = reduced?.map((axis) => shape.length - 1 - axis);
          expect(bitsOf(view.sum(viewAxes))).toEqual(bitsOf(copy.sum(viewAxes)));
        },
      ),
      { numRuns: 60, seed: 11 },
    );
  });
});

describe('a sum over rows whose length is a multiple of 4', () => {
  it('equals the sum of the row-major copy, for a broadcast operand over every axis and a transposed view', () => {
    const x = wideValues([6, 5, 8], 21);
    const row = wideValues([8], 23);
    const column = wideValues([6, 1, 1], 25);
    for (const b of [row, column]) {
      const fused = ng.withSettings(fusedEverywhere, () => x.mul(b).add(x).sum());
      const copied = ng.withSettings(unfused, () => x.mul(b).add(x)).sum();
      expect(fused.item()).toBe(copied.item());
    }
    const view = wideValues([8, 12], 27).transpose(0, 1);
    expect(view.sum().item()).toBe(ng.tensor(view.toArray() as number[][], { dtype: 'float64' }).sum().item());
  });
});

describe('running totals carried across the rows of a split run', () => {
  /** The values of t as a fresh row-major tensor (summed by the contiguous kernel). */
  const rowMajorCopy = (t: Tensor): Tensor => ng.tensor(Array.from(t.toFloat64Array()), { dtype: 'float64' }).reshape(t.shape);

  for (const backend of ['js', 'wasm'] as const) {
    const fused: Partial<Settings> = { ...fusedEverywhere, elementwiseBackend: backend };
    const plain: Partial<Settings> = { fusion: false, elementwiseBackend: backend };

    it(`sum as the row-major array, rows of any length (${backend} kernels)`, () => {
      fc.assert(
        fc.property(
          fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 2, maxLength: 4 }),
          fc.integer({ min: 0, max: 1000 }),
          fc.integer({ min: 0, max: 15 }),
          fc.integer({ min: 0, max: 15 }),
          (shape, seed, broadcastMask, axesMask) => {
            const x = wideValues(shape, seed);
            const b = wideValues(shape.map((extent, axis) => ((broadcastMask >> axis) & 1 ? 1 : extent)), seed + 3);
            const axes = shape.map((_, axis) => axis).filter((axis) => (axesMask >> axis) & 1);
            const reduced = axes.length > 0 ? axes : undefined;
            const values = ng.withSettings(plain, () => x.mul(b).add(x));
            const expected = ng.withSettings(plain, () => bitsOf(rowMajorCopy(values).sum(reduced)));
            expect(ng.withSettings(fused, () => bitsOf(x.mul(b).add(x).sum(reduced)))).toEqual(expected);
            const view = x.transpose(0, shape.length - 1);
            expect(ng.withSettings(plain, () => bitsOf(view.sum(reduced)))).toEqual(ng.withSettings(plain, () => bitsOf(rowMajorCopy(view).sum(reduced))));
          },
        ),
        { numRuns: 40, seed: 12 },
      );
    });

    it(`sum as the row-major array when a run is staged in several chunks (${backend} kernels)`, () => {
      // (150, 1001) float64 rows are three chunks of staged memory; 1001 is not a multiple of 4
      const x = wideValues([150, 1001], 31);
      const row = wideValues([1001], 33);
      const values = ng.withSettings(plain, () => x.mul(row));
      for (const axes of [undefined, [0, 1]]) {
        const expected = ng.withSettings(plain, () => rowMajorCopy(values).sum(axes).item());
        expect(ng.withSettings(fused, () => x.mul(row).sum(axes).item())).toBe(expected);
      }
      const grouped = wideValues([3, 40, 1001], 35);
      const groupRow = wideValues([1, 1, 1001], 37);
      const expected = ng.withSettings(plain, () => bitsOf(rowMajorCopy(grouped.mul(groupRow)).sum([1, 2])));
      expect(ng.withSettings(fused, () => bitsOf(grouped.mul(groupRow).sum([1, 2])))).toEqual(expected);
    });
  }
});
