// crossEntropy with class indices in an int32 tensor under core's compile: the indices are an
// argument, so each replay reads the new ones, and a replay with an index out of range gets
// crossEntropy's own Error (its check is a branch on values, which replays take again).
import { compile, tensor, type Tensor } from '@normgrad/core';
import { describe, expect, it } from 'vitest';
import { crossEntropy } from '../src/index.js';

const logits = tensor([[0.5, -1, 2], [1, 0.25, -0.5], [0, 0, 1]], { dtype: 'float64' });
const labels = (values: number[]): Tensor => tensor(Int32Array.from(values), { dtype: 'int32' });

describe('crossEntropy under compile', () => {
  it('replays read the labels passed in', () => {
    const loss = compile((x: Tensor, target: Tensor) => crossEntropy(x, target));
    for (const values of [[2, 0, 2], [0, 1, 2], [1, 1, 0]]) {
      expect(loss(logits, labels(values)).item()).toBe(crossEntropy(logits, values).item());
    }
  });

  it('a replay with a label out of range throws crossEntropy\'s Error', () => {
    const loss = compile((x: Tensor, target: Tensor) => crossEntropy(x, target));
    loss(logits, labels([2, 0, 2]));
    loss(logits, labels([0, 1, 2]));
    expect(() => loss(logits, labels([0, 3, 1]))).toThrow('crossEntropy: target[1] = 3 is not a class index in [0, 3) for logits of shape [3, 3]');
    expect(() => loss(logits, labels([-1, 0, 1]))).toThrow('crossEntropy: target[0] = -1 is not a class index');
    expect(loss(logits, labels([1, 2, 0])).item()).toBe(crossEntropy(logits, [1, 2, 0]).item());
  });

  it('names an index of a strided label tensor by its row-major position', () => {
    const target = tensor(Int32Array.from([0, 5, 1, 2]), { shape: [2, 2], dtype: 'int32' }).permute([1, 0]); // [[0, 1], [5, 2]]
    const spatialLogits = tensor(new Float64Array(12), { shape: [2, 3, 2], dtype: 'float64' });
    expect(() => crossEntropy(spatialLogits, target)).toThrow('crossEntropy: target[2] = 5 is not a class index in [0, 3)');
  });
});
