import { randn, tensor, type DType, type Tensor } from '@normgrad/core';
import { BatchNorm2d, Linear, Sequential } from '@normgrad/nn';
import { describe, expect, it } from 'vitest';

// A tensor never serializes silently wrong: JSON.stringify gives its values or throws.
describe('Tensor.toJSON and loadStateDict of parsed JSON', () => {
  it('JSON.stringify(tensor) writes dtype, shape and the row-major values, which rebuild the tensor exactly', () => {
    for (const dtype of ['float32', 'float64'] as DType[]) {
      const t = randn([3, 4], { dtype, seed: 5 }).transpose(1, 0);
      const json = JSON.parse(JSON.stringify(t)) as { dtype: DType; shape: number[]; data: number[] };
      expect(json.dtype).toBe(dtype);
      expect(json.shape).toEqual([4, 3]);
      const rebuilt = tensor(json.data, { shape: json.shape, dtype: json.dtype });
      expect(Array.from(rebuilt.toTypedArray())).toEqual(Array.from(t.toTypedArray()));
    }
    expect(JSON.stringify(tensor(2.5))).toBe('{"dtype":"float32","shape":[],"data":[2.5]}');
  });

  it('a tensor holding NaN or Infinity throws instead of writing null', () => {
    expect(() => JSON.stringify({ w: tensor([1, NaN, 3]) })).toThrow('Tensor.toJSON: element 1 of a tensor of shape [3] is NaN, which JSON cannot hold');
    expect(() => JSON.stringify(tensor([[0, -Infinity]]))).toThrow('is -Infinity');
  });

  it('loadStateDict of JSON.parse(JSON.stringify(stateDict)) says it expected Tensors and how to rebuild them', () => {
    const model = new Sequential(new Linear(3, 2), new BatchNorm2d(2));
    const parsed = JSON.parse(JSON.stringify(model.stateDict())) as Record<string, { dtype: DType; shape: number[]; data: number[] }>;
    expect(() => model.loadStateDict(parsed as unknown as Record<string, Tensor>)).toThrow(
      'loadStateDict: expected a Tensor for every key, got a plain object for "0.weight" (parsed JSON? rebuild each entry with tensor(value.data, { shape: value.shape, dtype: value.dtype })',
    );
    const copy = new Sequential(new Linear(3, 2), new BatchNorm2d(2));
    copy.loadStateDict(Object.fromEntries(Object.entries(parsed).map(([key, value]) => [key, tensor(value.data, { shape: value.shape, dtype: value.dtype })])));
    expect(copy.stateDict()['0.weight']!.toArray()).toEqual(model.stateDict()['0.weight']!.toArray());
  });
});
