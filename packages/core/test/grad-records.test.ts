/**
 * grad and valueAndGrad with records as arguments (plain objects and arrays of Tensors, nested,
 * as vmap takes them): the gradient of a record argument is a record of the same shape, equal to
 * the gradients taken with every leaf as an argument of its own; records compose with grad and
 * vmap, and Errors name the leaf by its path.
 */
import { describe, expect, it } from 'vitest';
import { Tensor, grad, randn, tensor, valueAndGrad, vmap, type NestedArray } from '@normgrad/core';
import { installMatchers } from '@normgrad/testing/vitest';

installMatchers();

const f64 = (data: NestedArray): Tensor => tensor(data, { dtype: 'float64' });
const tight = { rtol: 1e-12, atol: 1e-12 };

type Layer = { w: Tensor; b: Tensor };

const w = randn([3, 4], { dtype: 'float64', seed: 1 });
const b = randn([3], { dtype: 'float64', seed: 2 });
const x = randn([5, 4], { dtype: 'float64', seed: 3 });
/** A loss of separate tensors, and the same loss of a record. */
const lossOf = (weight: Tensor, bias: Tensor, input: Tensor): Tensor => input.matmul(weight.transpose()).add(bias).tanh().square().sum();
const recordLoss = (params: Layer, input: Tensor): Tensor => lossOf(params.w, params.b, input);

describe('grad with records', () => {
  it('gives a record of the same keys, equal to the gradients of the leaves as separate arguments', () => {
    const gradients = grad(recordLoss)({ w, b }, x);
    expect(Object.keys(gradients)).toEqual(['w', 'b']);
    const [dw, db] = grad(lossOf, { argnums: [0, 1] })(w, b, x);
    expect(gradients.w.toArray()).toEqual(dw!.toArray());
    expect(gradients.b.toArray()).toEqual(db!.toArray());
  });

  it('keeps nested arrays and objects, and mixes with Tensor arguments in argnums', () => {
    const f = (params: [{ scale: Tensor }, Tensor[]], input: Tensor) => params[1][0]!.mul(params[0].scale).add(params[1][1]!).mul(input).sum();
    const params: [{ scale: Tensor }, Tensor[]] = [{ scale: f64([2]) }, [f64([1, 2]), f64([3, 4])]];
    const input = f64([5, 6]);
    const [dParams, dInput] = grad(f, { argnums: [0, 1] })(params, input) as [[{ scale: Tensor }, Tensor[]], Tensor];
    expect(dParams[0].scale.toArray()).toEqual([5 * 1 + 6 * 2]);
    expect(dParams[1].map((g) => g.toArray())).toEqual([[10, 12], [5, 6]]);
    expect(dInput.toArray()).toEqual([2 * 1 + 3, 2 * 2 + 4]);
  });

  it('valueAndGrad returns the value and the record', () => {
    const [value, gradients] = valueAndGrad(recordLoss)({ w, b }, x);
    expect(value.item()).toBe(lossOf(w, b, x).item());
    expect(gradients.b.toArray()).toEqual(grad(lossOf, { argnums: 1 })(w, b, x).toArray());
  });

  it('composes: the gradient of a record gradient’s norm equals the tensor form’s (second order)', () => {
    const recordSecond = grad((params: Layer) => grad(recordLoss)(params, x).w.square().sum())({ w, b });
    const tensorSecond = grad((weight: Tensor, bias: Tensor) => grad(lossOf)(weight, bias, x).square().sum(), { argnums: [0, 1] })(w, b);
    expect(recordSecond.w).toBeAllclose(tensorSecond[0]!, tight);
    expect(recordSecond.b).toBeAllclose(tensorSecond[1]!, tight);
  });

  it('under vmap gives per-example records equal to a loop of gradients', () => {
    const exampleLoss = (params: Layer, example: Tensor) => recordLoss(params, example.unsqueeze(0));
    const perExample = vmap(grad(exampleLoss), { inDims: [null, 0] })({ w, b }, x);
    expect(perExample.w.shape).toEqual([5, 3, 4]);
    for (let i = 0; i < 5; i++) {
      const single = grad(exampleLoss)({ w, b }, x.slice([i, i + 1]).squeeze(0));
      expect(perExample.w.slice([i, i + 1]).squeeze(0)).toBeAllclose(single.w, tight);
      expect(perExample.b.slice([i, i + 1]).squeeze(0)).toBeAllclose(single.b, tight);
    }
  });

  it('names a leaf by its path: not a Tensor, int32, or unused (then allowUnused gives zeros)', () => {
    const sumW = (params: { w: Tensor; extra: unknown }) => params.w.sum();
    expect(() => grad(sumW)({ w, extra: null })).toThrow(/^grad: argument 0\.extra must be a Tensor \(or a record of Tensors\) to differentiate with respect to it, got null/);
    expect(() => grad(sumW)({ w, extra: tensor([1, 2], { dtype: 'int32' }) })).toThrow(/^grad: argument 0\.extra is an int32 tensor of shape \[2\]/);
    expect(() => valueAndGrad(sumW)({ w, extra: f64([1, 2]) })).toThrow(/^valueAndGrad: the function's output does not depend on argument 0\.extra \(shape \[2\]\)/);
    const gradients = grad(sumW, { allowUnused: true })({ w, extra: [f64([1, 2])] }) as { w: Tensor; extra: Tensor[] };
    expect(gradients.extra[0]!.toArray()).toEqual([0, 0]);
    expect(() => grad((list: Tensor[]) => list[0]!.sum())([w, 3 as unknown as Tensor])).toThrow(/^grad: argument 0\[1\] must be a Tensor .*got number/);
  });
});

describe('grad with records: types', () => {
  it('types a record argument’s gradient as the argument, and several argnums over tensors and labels as Tensor[]', () => {
    const labels = new Int32Array([0, 1]);
    const withLabels = (weight: Tensor, bias: Tensor, _labels: Int32Array) => weight.sum().add(bias.sum());
    const [dw, db] = grad(withLabels, { argnums: [0, 1] })(w, b, labels);
    // compile-time: Tensor[] (an Int32Array argument is not a record)
    expect([dw!.shape, db!.shape]).toEqual([[3, 4], [3]]);
    const single: Layer = grad(recordLoss)({ w, b }, x);
    expect(single.b.shape).toEqual([3]);
  });
});
