import { noGrad, tensor, type Tensor } from '@normgrad/core';
import { describe, expect, it } from 'vitest';
import { Conv2d, Linear, Sequential, assignInPlace, functionalCall, spectralNorm, weightNorm } from '../src/index.js';
import { seededTensor } from './helpers.js';

const f64 = { dtype: 'float64' } as const;

describe('weightNorm and spectralNorm recompute the weight in a forward pre-hook', () => {
  it('a weightNorm-ed module takes forward hooks, which see the recomputed weight', () => {
    const layer = weightNorm(new Linear(3, 2, { bias: false, ...f64 }));
    const seen: Float64Array[] = [];
    layer.registerForwardPreHook((module) => void seen.push((module as Linear).weight.toFloat64Array()));
    const outputs: Tensor[] = [];
    const handle = layer.registerForwardHook((_module, _inputs, output) => void outputs.push(output));
    const x = seededTensor([4, 3], 1);
    const before = layer.forward(x).toFloat64Array();
    noGrad(() => assignInPlace(layer.weightG, layer.weightG.mul(2))); // doubles the weight
    const after = layer.forward(x).toFloat64Array();
    expect(outputs).toHaveLength(2);
    expect(outputs[1]!.toFloat64Array()).toEqual(after);
    after.forEach((value, i) => expect(value).toBeCloseTo(2 * before[i]!, 12));
    // weightNorm's pre-hook, registered first, ran before the user's: the user's hook saw the doubled weight
    seen[1]!.forEach((w, i) => expect(w).toBeCloseTo(2 * seen[0]![i]!, 12));
    handle.remove();
    layer.forward(x);
    expect(outputs).toHaveLength(2);
  });

  it('a spectralNorm-ed module takes forward hooks, inside a Sequential too', () => {
    const conv = spectralNorm(new Conv2d(2, 3, 3, f64));
    let calls = 0;
    conv.registerForwardHook(() => void calls++);
    const model = new Sequential(conv);
    const x = seededTensor([1, 2, 4, 4], 2);
    model.forward(x);
    model.eval();
    const y = model.forward(x);
    expect(calls).toBe(2);
    expect(y.shape).toEqual([1, 3, 2, 2]);
  });

  it('functionalCall with replaced g and v recomputes the weight from them', () => {
    const layer = weightNorm(new Linear(2, 2, f64));
    const x = tensor([[1, 0], [0, 1]], f64);
    const v = tensor([[3, 4], [0, 2]], f64);
    const g = tensor([[10], [1]], f64);
    const y = functionalCall(layer, { weightV: v, weightG: g, bias: tensor([0, 0], f64) }, x);
    // weight = g · v / ‖v‖ per row: [[6, 8], [0, 1]]; y = x Wᵀ
    expect(Array.from(y.toFloat64Array())).toEqual([6, 0, 8, 1].map((value) => expect.closeTo(value, 14)));
  });
});
