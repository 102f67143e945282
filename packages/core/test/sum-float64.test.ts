/**
 * sumFloat64: a sum's float64 totals without the rounding to the input's dtype (the sum primitive
 * with a float64 result), so a float32 mean's rounding is known without another pass.
 */
import { describe, expect, it } from 'vitest';
import * as ng from '@normgrad/core';
import type { Tensor } from '@normgrad/core';

const f32 = (data: number[]): Tensor => ng.tensor(data, { dtype: 'float32' });

describe('sumFloat64', () => {
  it('keeps the float64 total of float32 values that a float32 sum rounds away', () => {
    const x = f32([1, 2 ** -30, 2 ** -30, 3]);
    const total = ng.sumFloat64(x);
    expect(total.dtype).toBe('float64');
    expect(total.item()).toBe(4 + 2 ** -29);
    expect(x.sum().item()).toBe(4);
  });

  it('over axes, kept or not, and over a fused input, equals the float32 sum once rounded', () => {
    const a = ng.randn([4, 8, 96], { seed: 3 }).mul(1e3).add(1e4);
    const b = ng.randn([4, 8, 96], { seed: 4 });
    for (const [axes, keepdims] of [[[0, 2], true], [[2], false], [null, false]] as const) {
      // a.mul(b) has 3,072 elements: a pending result, summed straight from a and b
      const wide = ng.sumFloat64(a.mul(b), axes, keepdims);
      const plain = a.mul(b).sum(axes, keepdims);
      expect(wide.shape).toEqual(plain.shape);
      expect(Array.from(wide.to('float32').toFloat64Array())).toEqual(Array.from(plain.toFloat64Array()));
      // and more exactly than float32: the float64 totals of the float32 products
      const products = ng.tensor(Array.from(a.mul(b).toFloat64Array()), { dtype: 'float64' }).reshape(a.shape);
      const reference = products.sum(axes, keepdims).toFloat64Array();
      wide.toFloat64Array().forEach((value, i) => expect(Math.abs(value - reference[i]!)).toBeLessThanOrEqual(Math.abs(reference[i]!) * 2 ** -50));
    }
  });

  it('has gradients in the input dtype, of every order (float64 gradcheck), forward mode and vmap', () => {
    const x = ng.randn([3, 5], { seed: 5, requiresGrad: true });
    const dx = ng.grad((t: Tensor) => ng.sumFloat64(t, [1]).mul(ng.tensor([1, 2, 3], { dtype: 'float64' })).sum())(x) as Tensor;
    expect(dx!.dtype).toBe('float32');
    expect(Array.from(dx!.toFloat64Array())).toEqual([1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3]);
    const x64 = ng.randn([3, 4], { dtype: 'float64', seed: 6 });
    expect(ng.gradcheck((t: Tensor) => ng.sumFloat64(t.square(), [0]), [x64]).ok).toBe(true);
    expect(ng.gradgradcheck((t: Tensor) => ng.sumFloat64(t.square().mul(t), [0]), [x64]).ok).toBe(true);
    const [out, tangent] = ng.jvp((t: Tensor) => ng.sumFloat64(t, [0]), [x.detach()], [ng.ones([3, 5])]);
    expect(out!.dtype).toBe('float64');
    expect(Array.from((tangent as Tensor).toFloat64Array())).toEqual([3, 3, 3, 3, 3]);
    const batched = ng.vmap((t: Tensor) => ng.sumFloat64(t))(x.detach()) as Tensor;
    expect(Array.from(batched.toFloat64Array())).toEqual(Array.from(ng.sumFloat64(x.detach(), [1]).toFloat64Array()));
  });

  it('compiled equals eager', () => {
    const a = ng.randn([16, 256], { seed: 7 });
    const f = (t: Tensor) => ng.sumFloat64(t.mul(t), [1]);
    const compiled = ng.compile(f);
    compiled(a);
    expect(Array.from((compiled(a) as Tensor).toFloat64Array())).toEqual(Array.from(f(a).toFloat64Array()));
  });

  it('names itself and the dtype for non-float input', () => {
    expect(() => ng.sumFloat64(ng.tensor([1, 2], { dtype: 'int32' }))).toThrow(/^sumFloat64: /);
  });
});
