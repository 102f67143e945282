/**
 * argsort's kernel (insertion sort for short lines, radix sort on order-preserving keys for long
 * ones) against a reference: a stable comparator sort with PyTorch's order (NaN above every
 * number, −0 equal to +0), on lines with many ties, NaN, ±0 and ±Infinity, both directions, any
 * axis, strided input and float32.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as ng from '@normgrad/core';

/** a before b in ascending order (NaN last); 0 when they are equal, so a stable sort keeps their order. */
function compareAscending(a: number, b: number): number {
  if (a !== a) return b !== b ? 0 : 1;
  if (b !== b) return -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The reference: per line along the last axis of a row-major (lines, extent) array. */
function referenceArgsort(values: ArrayLike<number>, lines: number, extent: number, descending: boolean): number[] {
  const out: number[] = [];
  for (let line = 0; line < lines; line++) {
    const row = Array.from({ length: extent }, (_, k) => values[line * extent + k]!);
    const order = row.map((_, k) => k);
    order.sort((i, j) => (descending ? compareAscending(row[j]!, row[i]!) : compareAscending(row[i]!, row[j]!)));
    out.push(...order);
  }
  return out;
}

const special = [Number.NaN, 0, -0, Infinity, -Infinity, 1, -1, 2.5, -2.5, 1e-310, -1e-310, Number.MAX_VALUE, -Number.MAX_VALUE];
/** Values from a small set (ties), the special values, or any double. */
const element = fc.oneof(fc.constantFrom(...special), fc.integer({ min: -3, max: 3 }), fc.double());

describe('argsort kernel', () => {
  it('matches a stable comparator sort on short and long lines, ascending and descending (float64)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.oneof(fc.integer({ min: 1, max: 70 }), fc.integer({ min: 60, max: 400 })),
        fc.boolean(),
        fc.infiniteStream(element),
        (lines, extent, descending, stream) => {
          const values = Float64Array.from(stream.take(lines * extent));
          const x = ng.tensor(values, { shape: [lines, extent], dtype: 'float64' });
          expect(Array.from(x.argsort(-1, { descending }).toTypedArray())).toEqual(referenceArgsort(values, lines, extent, descending));
        },
      ),
      { seed: 15, numRuns: 60 },
    );
  });

  it('sorts along a leading axis of a strided (transposed) view, and float32', () => {
    const lines = 5;
    const extent = 300;
    const values = Float64Array.from({ length: lines * extent }, (_, i) => (i % 7 === 0 ? Number.NaN : Math.round(Math.sin(i) * 20) / 4));
    const rows = ng.tensor(values, { shape: [lines, extent], dtype: 'float64' });
    for (const descending of [false, true]) {
      const expected = referenceArgsort(values, lines, extent, descending);
      const alongAxis0 = rows.transpose(0, 1).argsort(0, { descending }); // (extent, lines), sorted down the columns
      expect(Array.from(alongAxis0.transpose(0, 1).toTypedArray())).toEqual(expected);
      const float32 = ng.tensor(values, { shape: [lines, extent], dtype: 'float32' });
      expect(Array.from(float32.argsort(1, { descending }).toTypedArray())).toEqual(referenceArgsort(Float32Array.from(values), lines, extent, descending));
    }
  });

  it('keeps the order of equal elements (stable) in a long line of one repeated value and of ±0', () => {
    const n = 500;
    const same = ng.tensor(new Float64Array(n).fill(3), { shape: [n], dtype: 'float64' });
    expect(Array.from(same.argsort(0, { descending: true }).toTypedArray())).toEqual(Array.from({ length: n }, (_, k) => k));
    const zeros = ng.tensor(Float64Array.from({ length: n }, (_, k) => (k % 2 ? -0 : 0)), { shape: [n], dtype: 'float64' });
    expect(Array.from(zeros.argsort(0).toTypedArray())).toEqual(Array.from({ length: n }, (_, k) => k));
  });
});
