/**
 * The fast kernels agree with the plain-JS fallbacks: WebAssembly SIMD matmul vs the JS loop
 * (both dtypes, odd sizes that need padding, batches), and the compiled elementwise loops on
 * strided and broadcast views vs element-by-element reference values, and the compiled
 * reductions (plain and fused) vs sums and maxima taken element by element.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as ng from '@normgrad/core';
import { shapeArbitrary } from '@normgrad/testing';
import { installMatchers } from '@normgrad/testing/vitest';
import { getMatmulBackend, setMatmulBackend } from '@normgrad/core';
import { wasmMatmul } from '../src/kernels/wasm-matmul.js';

installMatchers();

function productWith(backend: 'js' | 'wasm', a: ng.Tensor, b: ng.Tensor): ng.Tensor {
  return ng.withSettings({ matmulBackend: backend }, () => a.matmul(b));
}

describe('matmul kernels', () => {
  it('has WebAssembly SIMD on this Node', () => {
    expect(wasmMatmul()).not.toBeNull();
    expect(getMatmulBackend()).toBe('auto');
  });

  for (const dtype of ['float32', 'float64'] as const) {
    it(`wasm and js agree in ${dtype} on odd, padded and batched shapes`, () => {
      const shapes: [number[], number[]][] = [
        [[1, 1], [1, 1]],
        [[3, 5], [5, 7]],
        [[2, 64, 33], [2, 33, 17]],
        [[17, 1], [1, 3]],
        [[4, 9, 31], [31, 2]],
        [[40, 40], [40, 40]],
        // 16 rows and more take the blocked kernel (rows padded to 4, columns to two vectors, a and b packed)
        [[130, 33], [33, 17]],
        [[2, 128, 5], [2, 5, 9]],
        [[131, 1], [1, 3]],
      ];
      for (const [shapeA, shapeB] of shapes) {
        const a = ng.randn(shapeA, { seed: 1, dtype });
        const b = ng.randn(shapeB, { seed: 2, dtype });
        const tolerance = dtype === 'float32' ? { rtol: 1e-5, atol: 1e-5 } : { rtol: 1e-12, atol: 1e-12 };
        expect(productWith('wasm', a, b)).toBeAllclose(productWith('js', a, b), tolerance);
      }
    });
  }

  it('the JS fallback gives exact small products', () => {
    const a = ng.tensor([[1, 2], [3, 4]], { dtype: 'float64' });
    const b = ng.tensor([[5, 6], [7, 8]], { dtype: 'float64' });
    expect(productWith('js', a, b).toArray()).toEqual([[19, 22], [43, 50]]);
    expect(productWith('wasm', a, b).toArray()).toEqual([[19, 22], [43, 50]]);
  });

  it('rejects an unknown backend by name', () => {
    expect(() => setMatmulBackend('gpu' as never)).toThrow(/setMatmulBackend: .*"gpu"/);
  });
});

describe('compiled elementwise kernels on views', () => {
  it('match per-element reference values on permuted, sliced and broadcast operands', () => {
    const x = ng.randn([2, 3, 4, 5], { seed: 3, dtype: 'float64' });
    const channel = ng.randn([1, 3, 1, 1], { seed: 4, dtype: 'float64' });
    const permuted = x.permute([0, 2, 1, 3]).slice(null, [1, 4], null, [0, 5, 2]); // (2, 3, 3, 3) strided
    const product = x.mul(channel);
    const difference = permuted.sub(permuted.exp());
    const xs = x.toArray() as number[][][][];
    const cs = channel.toArray() as number[][][][];
    const products = product.toArray() as number[][][][];
    const differences = difference.toArray() as number[][][][];
    for (let n = 0; n < 2; n++)
      for (let c = 0; c < 3; c++)
        for (let h = 0; h < 4; h++)
          for (let w = 0; w < 5; w++) expect(products[n]![c]![h]![w]).toBe(xs[n]![c]![h]![w]! * cs[0]![c]![0]![0]!);
    for (let n = 0; n < 2; n++)
      for (let h = 0; h < 3; h++)
        for (let c = 0; c < 3; c++)
          for (let w = 0; w < 3; w++) {
            const value = xs[n]![c]![h + 1]![w * 2]!;
            expect(differences[n]![h]![c]![w]).toBe(value - Math.exp(value));
          }
  });
});

/** Row-major multi-indices of a shape. */
function indices(shape: readonly number[]): number[][] {
  return shape.reduce<number[][]>((prefixes, extent) => prefixes.flatMap((prefix) => Array.from({ length: extent }, (_, i) => [...prefix, i])), [[]]);
}

describe('compiled reductions', () => {
  it('match element-by-element sums and maxima over any axes, on permuted, broadcast and fused operands', () => {
    fc.assert(
      fc.property(
        shapeArbitrary({ minRank: 1, maxRank: 4, minExtent: 1, maxExtent: 6 }).chain((shape) =>
          fc.tuple(fc.constant(shape), fc.subarray(shape.map((_, axis) => axis), { minLength: 1 }), fc.integer({ min: 1, max: 1000 }), fc.boolean()),
        ),
        ([shape, axes, seed, fused]) => {
          ng.withSettings({ fusion: true, fusionMinimumSize: fused ? 1 : 65536 }, () => {
            // a permuted view of x, and a per-(last axis) vector broadcast over the others
            const x = ng.randn([...shape].reverse(), { seed, dtype: 'float64' }).transpose();
            const row = ng.randn([shape[shape.length - 1]!], { seed: seed + 1, dtype: 'float64' });
            const value = x.mul(row).add(x);
            const values = value.toArray() as unknown;
            const at = (index: number[]): number => index.reduce<unknown>((nested, i) => (nested as unknown[])[i], values) as number;
            const kept = shape.map((_, axis) => axis).filter((axis) => !axes.includes(axis));
            const expectedSum = new Map<string, number>();
            const expectedMax = new Map<string, number>();
            for (const index of indices(shape)) {
              const key = kept.map((axis) => index[axis]).join(',');
              expectedSum.set(key, (expectedSum.get(key) ?? 0) + at(index));
              expectedMax.set(key, Math.max(expectedMax.get(key) ?? -Infinity, at(index)));
            }
            const sums = x.mul(row).add(x).sum(axes).toFloat64Array();
            const maxima = x.mul(row).add(x).max(axes).toFloat64Array();
            const keys = indices(kept.map((axis) => shape[axis]!)).map((index) => index.join(','));
            keys.forEach((key, k) => {
              expect(sums[k]).toBeCloseTo(expectedSum.get(key)!, 10);
              expect(maxima[k]).toBe(expectedMax.get(key));
            });
          });
        },
      ),
      { seed: 21, numRuns: 80 },
    );
  });
});
