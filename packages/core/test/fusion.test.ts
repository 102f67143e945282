/**
 * Lazy elementwise fusion (fusion.ts) changes how many passes run, never what they compute:
 * float64 results and gradients are bit-identical with fusion on and off; float32 results agree
 * to rounding (a fused chain rounds to float32 once instead of after every op).
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as ng from '@normgrad/core';
import type { Tensor } from '@normgrad/core';
import { installMatchers, shapeArbitrary, tensorArbitrary } from '@normgrad/testing';

installMatchers();

// fuse every size here, so the small tensors of these tests take the fused path
beforeEach(() => ng.setElementwiseFusion(true, { minimumSize: 1 }));
afterEach(() => ng.setElementwiseFusion(true));

function withFusion<T>(enabled: boolean, fn: () => T): T {
  ng.setElementwiseFusion(enabled, { minimumSize: 1 });
  try {
    return fn();
  } finally {
    ng.setElementwiseFusion(true, { minimumSize: 1 });
  }
}

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
    ng.setElementwiseFusion(false);
    expect(ng.isElementwiseFusionEnabled()).toBe(false);
    expect(() => ng.setElementwiseFusion('yes' as never)).toThrow(/setElementwiseFusion: expected a boolean/);
    expect(() => ng.setElementwiseFusion(true, { minimumSize: 0 })).toThrow(/setElementwiseFusion: minimumSize .* 0/);
  });

  it('computes small results at once by default and fuses large ones', () => {
    ng.setElementwiseFusion(true);
    expect(ng.ones([10]).mul(2).pendingElementwise).toBeNull();
    expect(ng.ones([4096]).mul(2).pendingElementwise).toBeNull();
    expect(ng.ones([65536]).mul(2).pendingElementwise).not.toBeNull();
  });

  it('gives bit-identical float64 values and gradients (first and second order)', () => {
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
              return [value, gradX, gradW, second].map((t) => Array.from(t.toFloat64Array()));
            });
          expect(run(true)).toEqual(run(false));
        },
      ),
      { seed: 11, numRuns: 25 },
    );
  });

  it('agrees in float32 to rounding', () => {
    const x = ng.randn([64, 16], { seed: 1 });
    const w = ng.randn([16], { seed: 2 });
    const fused = withFusion(true, () => ng.grad(chain)(x, w));
    const unfused = withFusion(false, () => ng.grad(chain)(x, w));
    expect(fused).toBeAllclose(unfused, { rtol: 1e-5, atol: 1e-6 });
  });

  it('computes a pending result used twice, and chains longer than the fusion limits', () => {
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
  });

  it('reads pending results correctly through views, reductions, matmul and customOp', () => {
    const x = ng.arange(6, { dtype: 'float64' }).reshape([2, 3]);
    const pending = x.mul(2).add(1); // [[1, 3, 5], [7, 9, 11]]
    expect(pending.transpose().toArray()).toEqual([[1, 7], [3, 9], [5, 11]]);
    expect(x.mul(2).add(1).sum(1).toArray()).toEqual([9, 27]);
    expect(x.mul(2).add(1).matmul(ng.ones([3, 1], { dtype: 'float64' })).toArray()).toEqual([[9], [27]]);
    expect(x.mul(2).add(1).slice(null, [1, 3]).toArray()).toEqual([[3, 5], [9, 11]]);
    expect(x.add(1).broadcastTo([2, 2, 3]).mul(x).sum().item()).toBe(2 * (0 * 1 + 1 * 2 + 2 * 3 + 3 * 4 + 4 * 5 + 5 * 6));
  });

  it('reduces a pending result in scratch memory and still computes it correctly when read again', () => {
    const x = ng.arange(6, { dtype: 'float64' }).reshape([2, 3]);
    const product = x.mul(x); // pending [[0, 1, 4], [9, 16, 25]]
    const rowSums = product.sum(1); // computed into scratch
    const columnMax = x.add(1).max(0); // reuses the scratch buffer: rowSums must be unaffected
    expect(rowSums.toArray()).toEqual([5, 50]);
    expect(columnMax.toArray()).toEqual([4, 5, 6]);
    expect(product.toArray()).toEqual([[0, 1, 4], [9, 16, 25]]); // read again: computed in its own array
  });

  it('differentiates max of a pending input (its VJP reads the input again)', () => {
    const x = ng.tensor([[1, 5, 2], [7, 0, 7]], { dtype: 'float64' });
    const gradient = ng.grad((t: Tensor) => t.mul(2).max(1).sum())(x);
    expect(gradient.toArray()).toEqual([[0, 2, 0], [1, 0, 1]]);
  });
});

