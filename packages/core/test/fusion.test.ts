/**
 * Lazy elementwise fusion (fusion.ts) changes how many passes run, not what they compute:
 * float64 elementwise results are bit-identical with fusion on and off, and reductions agree to
 * the last bits (a fused reduction reading broadcast operands may add in rows of another length);
 * float32 results are bit-identical too (a fused chain rounds after every operator, as the ops do one by one).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as ng from '@normgrad/core';
import type { Tensor } from '@normgrad/core';
import { shapeArbitrary, tensorArbitrary } from '@normgrad/testing';
import { installMatchers } from '@normgrad/testing/vitest';

installMatchers();

// fuse every size here, so the small tensors of these tests take the fused path
const withFusion = <T>(enabled: boolean, fn: () => T): T => ng.withSettings({ fusion: enabled, fusionMinimumSize: 1 }, fn);

/** A BatchNorm-like chain with broadcasting, comparisons, where, reductions and reuse of intermediates. */
function chain(x: Tensor, w: Tensor): Tensor {
  const { mean, variance, deviation } = ng.moments(x, 0, { correction: 0 });
  const normalized = deviation.mul(variance.add(1e-5).rsqrt());
  const activated = ng.where(normalized.gt(0), normalized.mul(w), normalized.mul(0.1)).sigmoid();
  return activated.mul(activated).add(mean).sub(x.exp().mul(0.01)).sum();
}

describe('elementwise fusion', () => {
  it('is on by default and can be switched off', () => {
    expect(ng.isElementwiseFusionEnabled()).toBe(true);
    ng.withSettings({ fusion: false }, () => expect(ng.isElementwiseFusionEnabled()).toBe(false));
    expect(ng.isElementwiseFusionEnabled()).toBe(true);
    ng.setElementwiseFusion(false);
    expect(ng.settings.fusion).toBe(false);
    ng.setElementwiseFusion(true);
    expect(() => ng.setElementwiseFusion('yes' as never)).toThrow(/setElementwiseFusion: expected a boolean/);
    expect(() => ng.setElementwiseFusion(true, { minimumSize: 0 })).toThrow(/setElementwiseFusion: minimumSize .* 0/);
  });

  it('computes small results at once by default and fuses large ones', () => {
    expect(ng.ones([10]).mul(2).pendingElementwise).toBeNull();
    expect(ng.ones([2047]).mul(2).pendingElementwise).toBeNull();
    expect(ng.ones([2048]).mul(2).pendingElementwise).not.toBeNull();
    expect(ng.settings.fusionMinimumSize).toBe(2048);
  });

  it('gives float64 values and gradients equal to the last bits (first and second order)', () => {
    fc.assert(
      fc.property(
        shapeArbitrary({ minRank: 2, maxRank: 3, minExtent: 2, maxExtent: 4 }).chain((shape) =>
          fc.tuple(tensorArbitrary(shape), tensorArbitrary(shape.slice(1))),
        ),
        ([x, w]) => {
          const run = (enabled: boolean) =>
            withFusion(enabled, () => {
              const [value, [gradX, gradW]] = ng.valueAndGrad(chain, { argnums: [0, 1] })(x, w);
              const second = ng.grad((input: Tensor) => ng.grad(chain)(input, w).square().sum())(x);
              return [value, gradX!, gradW!, second];
            });
          const fused = run(true);
          run(false).forEach((unfused, index) => expect(fused[index]).toBeAllclose(unfused, { rtol: 1e-12, atol: 1e-12 }));
        },
      ),
      { seed: 11, numRuns: 25 },
    );
  });

  it('gives the same float32 values bit for bit (every operator rounds, fused or not)', () => {
    const x = ng.randn([64, 16], { seed: 1 });
    const w = ng.randn([16], { seed: 2 });
    const fused = withFusion(true, () => ng.grad(chain)(x, w));
    const unfused = withFusion(false, () => ng.grad(chain)(x, w));
    expect(Array.from(fused.toFloat64Array())).toEqual(Array.from(unfused.toFloat64Array()));
  });

  it('computes a pending result used twice, and chains longer than the fusion limits', () => withFusion(true, () => {
    const x = ng.tensor([1, 2, 3], { dtype: 'float64' });
    const shared = x.mul(2).add(1); // pending
    expect(shared.pendingElementwise).not.toBeNull();
    const first = shared.mul(3); // inlines shared
    const second = shared.sub(1); // shared is consumed already: materialized instead
    expect(first.toArray()).toEqual([9, 15, 21]);
    expect(second.toArray()).toEqual([2, 4, 6]);
    let long = x;
    for (let i = 0; i < 200; i++) long = long.add(ng.full([3], i, { dtype: 'float64' })).mul(1);
    expect(long.toArray()).toEqual([19901, 19902, 19903]);
  }));

  it('reads pending results correctly through views, reductions, matmul and customOp', () => withFusion(true, () => {
    const x = ng.arange(6, { dtype: 'float64' }).reshape([2, 3]);
    const pending = x.mul(2).add(1); // [[1, 3, 5], [7, 9, 11]]
    expect(pending.transpose().toArray()).toEqual([[1, 7], [3, 9], [5, 11]]);
    expect(x.mul(2).add(1).sum(1).toArray()).toEqual([9, 27]);
    expect(x.mul(2).add(1).matmul(ng.ones([3, 1], { dtype: 'float64' })).toArray()).toEqual([[9], [27]]);
    expect(x.mul(2).add(1).slice(null, [1, 3]).toArray()).toEqual([[3, 5], [9, 11]]);
    expect(x.add(1).broadcastTo([2, 2, 3]).mul(x).sum().item()).toBe(2 * (0 * 1 + 1 * 2 + 2 * 3 + 3 * 4 + 4 * 5 + 5 * 6));
  }));

  it('reduces a pending result from its operands and keeps it pending for other consumers', () => withFusion(true, () => {
    const x = ng.arange(6, { dtype: 'float64' }).reshape([2, 3]);
    const product = x.mul(x); // pending [[0, 1, 4], [9, 16, 25]]
    const rowSums = product.sum(1); // reads x directly
    expect(product.pendingElementwise).not.toBeNull();
    const shifted = product.add(1); // plain arithmetic: inlined although a reduction read it
    const exponential = x.exp(); // a function call: inlined once, then computed
    const first = exponential.mul(2);
    expect(exponential.pendingElementwise?.inlined).toBe(true);
    const second = exponential.add(1);
    expect(rowSums.toArray()).toEqual([5, 50]);
    expect(x.add(1).max(0).toArray()).toEqual([4, 5, 6]);
    expect(x.mul(-1).max(1).toArray()).toEqual([-0, -3]);
    expect(shifted.toArray()).toEqual([[1, 2, 5], [10, 17, 26]]);
    expect(product.toArray()).toEqual([[0, 1, 4], [9, 16, 25]]);
    const rows = x.toArray() as number[][];
    expect(first.toArray()).toEqual(rows.map((row) => row.map((v) => 2 * Math.exp(v))));
    expect(second.toArray()).toEqual(rows.map((row) => row.map((v) => Math.exp(v) + 1)));
  }));

  it('fuses the expression of a pending input inside a reduction over any axes (broadcast and strided operands)', () => {
    fc.assert(
      fc.property(
        shapeArbitrary({ minRank: 1, maxRank: 4, minExtent: 1, maxExtent: 5 }).chain((shape) =>
          fc.tuple(fc.constant(shape), tensorArbitrary(shape), tensorArbitrary(shape.map((extent, axis) => (axis % 2 === 0 ? 1 : extent))), fc.subarray(shape.map((_, axis) => axis), { minLength: 1 })),
        ),
        ([shape, x, rowScale, axes]) => {
          const reduce = (enabled: boolean, kind: 'sum' | 'max') =>
            withFusion(enabled, () => {
              const value = x.transpose().transpose().mul(rowScale).sub(x.square());
              return kind === 'sum' ? value.sum(axes) : value.max(axes, true);
            });
          expect(shape.length).toBeGreaterThan(0);
          expect(reduce(true, 'sum')).toBeAllclose(reduce(false, 'sum'), { rtol: 1e-12, atol: 1e-12 });
          expect(reduce(true, 'max').toArray()).toEqual(reduce(false, 'max').toArray());
        },
      ),
      { seed: 12, numRuns: 60 },
    );
  });

  it('differentiates max of a pending input (its VJP reads the input again)', () => withFusion(true, () => {
    const x = ng.tensor([[1, 5, 2], [7, 0, 7]], { dtype: 'float64' });
    const gradient = ng.grad((t: Tensor) => t.mul(2).max(1).sum())(x);
    expect(gradient.toArray()).toEqual([[0, 2, 0], [1, 0, 1]]);
  }));
});

