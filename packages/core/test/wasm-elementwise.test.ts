/**
 * The WebAssembly SIMD elementwise loops and sums give the compiled JavaScript loops' results bit
 * for bit, in float64 and float32 (both round after every operator and sum in one order);
 * expressions and layouts they do not cover run in JavaScript.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as ng from '@normgrad/core';
import type { DType, Tensor } from '@normgrad/core';
import { shapeArbitrary } from '@normgrad/testing';
import { installMatchers } from '@normgrad/testing/vitest';

installMatchers();

const withBackend = <T>(backend: ng.ElementwiseBackend, fn: () => T): T => ng.withSettings({ elementwiseBackend: backend }, fn);

/** Positions where two arrays differ bit for bit (NaN equals NaN, -0 differs from 0). */
const differences = (a: Float64Array, b: Float64Array): number[] => {
  const found: number[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (!Object.is(a[i], b[i])) found.push(i);
  return found;
};

/** Fused arithmetic chains with broadcasting, a reduction of each kind of layout, and reuse of intermediates. */
function workload(x: Tensor, row: Tensor, column: Tensor): Tensor[] {
  const centred = x.sub(column).mul(row).add(1.5);
  const scaled = centred.div(row.mul(row).add(2)).neg();
  const chosen = ng.where(centred.gt(0), centred, scaled).add(ng.maximum(x, row)).sub(x.sign()).mul(x.relu());
  return [
    centred, scaled, chosen, scaled.sum(), centred.sum(0), centred.sum(x.ndim - 1), scaled.mul(x).sum([0, x.ndim - 1], true), chosen.sum(0),
    // maxima over outer axes (rows combined into a kept inner axis) and over the inner axis
    chosen.max(0), scaled.mul(row).max(x.ndim - 2), centred.max(x.ndim - 1),
  ];
}

describe('WebAssembly elementwise kernels', () => {
  it('rejects an unknown backend by name', () => {
    expect(() => ng.setElementwiseBackend('gpu' as never)).toThrow(/setElementwiseBackend: elementwiseBackend must be 'auto', 'wasm' or 'js', got "gpu"/);
    expect(() => ng.withSettings({ elementwiseBackend: 'gpu' as never }, () => 0)).toThrow(/withSettings: elementwiseBackend must be/);
    expect(ng.getElementwiseBackend()).toBe('auto');
  });

  for (const dtype of ['float64', 'float32'] as DType[]) {
    it(`give the JavaScript loops' results bit for bit in ${dtype}, fused and unfused, on broadcast and strided operands`, () => {
      fc.assert(
        fc.property(
          shapeArbitrary({ minRank: 2, maxRank: 4, minExtent: 1, maxExtent: 9 }),
          fc.integer({ min: 1, max: 10_000 }),
          fc.boolean(),
          fc.boolean(),
          (shape, seed, fused, transposed) => ng.withSettings({ fusion: true, fusionMinimumSize: fused ? 1 : 1 << 30 }, () => {
            const base = ng.randn(transposed ? [...shape].reverse() : shape, { seed, dtype });
            const x = transposed ? base.transpose() : base;
            const row = ng.rand([shape[shape.length - 1]!], { seed: seed + 1, dtype }).add(0.5);
            const column = ng.randn([shape[0]!, ...shape.slice(1).map(() => 1)], { seed: seed + 2, dtype });
            const wasm = withBackend('wasm', () => workload(x, row, column).map((t) => t.toFloat64Array()));
            const js = withBackend('js', () => workload(x, row, column).map((t) => t.toFloat64Array()));
            wasm.forEach((values, index) => expect(differences(values, js[index]!), `output ${index}`).toEqual([]));
          }),
        ),
        { seed: 31, numRuns: 40 },
      );
    });
  }

  it('give the JavaScript loops\' results bit for bit on arrays staged in several chunks of rows', () => {
    for (const dtype of ['float32', 'float64'] as DType[]) {
      for (const shape of [[200, 1000], [6, 16, 4096], [2, 3, 50000]]) {
        const x = ng.randn(shape, { seed: shape.length, dtype });
        const row = ng.rand([shape[shape.length - 1]!], { seed: 2, dtype }).add(0.5);
        const first = ng.randn([shape[0]!, ...shape.slice(1).map(() => 1)], { seed: 3, dtype });
        const middle = ng.randn(shape.map((extent, axis) => (axis === 1 ? extent : 1)), { seed: 4, dtype });
        const run = () => {
          const value = x.sub(first).mul(row).add(middle);
          return [value, value.sum(0), value.sum(1), value.sum(shape.length - 1), value.sum([0, shape.length - 1]), value.max(0), x.mul(x).sum()].map((t) => t.toFloat64Array());
        };
        const wasm = withBackend('wasm', run);
        const js = withBackend('js', run);
        wasm.forEach((values, index) => expect(differences(values, js[index]!), `${dtype} ${shape.join('×')} output ${index}`).toEqual([]));
      }
    }
  }, 30_000);

  it('standardize float32 data with a large mean and a small spread exactly as the JavaScript loops do (8192 elements)', () => {
    const shape = [8, 4, 16, 16];
    const standardize = (x: Tensor): Tensor => {
      const { deviation, variance } = ng.moments(x, [0, 2, 3], { correction: 0 });
      return deviation.mul(variance.add(1e-12).rsqrt());
    };
    const x = ng.randn(shape, { seed: 5 }).mul(1e-2).add(1e4);
    const [wasm, js] = (['wasm', 'js'] as const).map((backend) => withBackend(backend, () => ng.tensor(standardize(x).toFloat64Array(), { shape, dtype: 'float64' })));
    expect(differences(wasm!.toFloat64Array(), js!.toFloat64Array())).toEqual([]);
    // unit spread per channel: the variance's cancellation-free two-pass form holds in float32 lanes too
    for (const value of wasm!.std([0, 2, 3], { correction: 0 }).toArray() as number[]) expect(value).toBeCloseTo(1, 3);
  });

  it('keep JavaScript semantics of comparisons with NaN, signed zeros and infinities', () => {
    const special = [NaN, -0, 0, 1, -1, Infinity, -Infinity, 2.5];
    for (const dtype of ['float32', 'float64'] as DType[]) {
      const a = ng.tensor(Array.from({ length: 4096 }, (_, i) => special[i % 8]!), { dtype });
      const b = ng.tensor(Array.from({ length: 4096 }, (_, i) => special[(i >> 3) % 8]!), { dtype });
      const results = (backend: ng.ElementwiseBackend) =>
        withBackend(backend, () => [ng.maximum(a, b), a.sign(), a.relu(), ng.where(a.eq(b), a, b.neg()), a.ge(b), a.le(0), a.ne(b)].map((t) => Array.from(t.toFloat64Array())));
      expect(results('wasm')).toEqual(results('js'));
      // maxima over rows with NaN, signed zeros and infinities: the columns of [a; b] hold every pair of them, in both orders
      const maxima = (backend: ng.ElementwiseBackend) =>
        withBackend(backend, () => [ng.stack([a, b]).max(0), ng.stack([b, a]).max(0), ng.stack([a, b, a.neg()]).max(0), b.reshape([64, 64]).max(0)].map((t) => t.toFloat64Array()));
      const [wasm, js] = [maxima('wasm'), maxima('js')];
      wasm.forEach((values, index) => expect(differences(values, js[index]!), `${dtype} maxima ${index}`).toEqual([]));
    }
  });

  it('leave other expressions and layouts to the JavaScript loops', () => {
    const x = ng.randn([64, 64], { seed: 9 });
    withBackend('wasm', () => {
      expect(x.exp().sum().item()).toBe(withBackend('js', () => x.exp().sum().item()));
      expect(x.tanh().mul(x).toArray()).toEqual(withBackend('js', () => x.tanh().mul(x).toArray()));
      const strided = x.slice(null, [0, 64, 2]);
      expect(strided.mul(3).toArray()).toEqual(withBackend('js', () => strided.mul(3).toArray()));
    });
  });
});
