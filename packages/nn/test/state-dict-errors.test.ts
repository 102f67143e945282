import { tensor } from '@normgrad/core';
import { describe, expect, it } from 'vitest';
import { BatchNorm1d, InstanceNorm1d, Linear } from '../src/index.js';

describe('loadStateDict says what it expected', () => {
  it('a plain array, null, a number or a Tensor instead of a state dict', () => {
    const m = new Linear(2, 3);
    expect(() => m.loadStateDict([] as never)).toThrow('loadStateDict: expected a state dict (an object of Tensors by name, as stateDict() returns), got an array');
    expect(() => m.loadStateDict(null as never)).toThrow(/^loadStateDict: expected a state dict .*got null$/);
    expect(() => m.loadStateDict(3 as never)).toThrow(/^loadStateDict: expected a state dict .*got number 3$/);
    expect(() => m.loadStateDict(tensor([1]) as never)).toThrow(/^loadStateDict: expected a state dict .*got a Tensor$/);
  });

  it('a plain number or null for a tensor', () => {
    const m = new Linear(2, 3);
    const state = m.stateDict();
    expect(() => m.loadStateDict({ ...state, bias: 3 } as never)).toThrow("loadStateDict: 'bias' must be a Tensor (an object of Tensors by name, as stateDict() returns), got the number 3");
    expect(() => m.loadStateDict({ ...state, weight: null } as never)).toThrow(/^loadStateDict: 'weight' must be a Tensor .*got null$/);
  });

  it('a state dict through JSON (the tensors lose their values)', () => {
    const m = new Linear(2, 3);
    const roundTripped = JSON.parse(JSON.stringify(m.stateDict())) as never;
    expect(() => m.loadStateDict(roundTripped)).toThrow(
      /^loadStateDict: expected a Tensor for every key, got a plain object for "weight" \(parsed JSON\? rebuild each entry with tensor\(value.data/,
    );
  });

  it('unknown options and a non-boolean strict', () => {
    const m = new Linear(2, 3);
    expect(() => m.loadStateDict(m.stateDict(), { stirct: false } as never)).toThrow(/^loadStateDict: unknown option 'stirct' \(did you mean 'strict'\?\)/);
    expect(() => m.loadStateDict(m.stateDict(), { strict: 'no' } as never)).toThrow(/^loadStateDict: strict must be a boolean, got "no"/);
  });

  it('numBatchesTracked 2.5, negative or NaN is an Error, and nothing is loaded', () => {
    for (const layer of [new BatchNorm1d(2, { dtype: 'float64' }), new InstanceNorm1d(2, { trackRunningStats: true, dtype: 'float64' })]) {
      for (const bad of [2.5, -1, NaN]) {
        const state = { ...layer.stateDict(), runningMean: tensor([5, 6], { dtype: 'float64' }), numBatchesTracked: tensor(bad, { dtype: 'float64' }) };
        expect(() => layer.loadStateDict(state)).toThrow(`invalid value for numBatchesTracked: expected a non-negative integer (a count), got ${bad}`);
        expect(layer.runningMean!.toArray()).toEqual([0, 0]);
        expect(layer.numBatchesTracked).toBe(0);
      }
      layer.loadStateDict({ ...layer.stateDict(), numBatchesTracked: tensor(7, { dtype: 'float64' }) });
      expect(layer.numBatchesTracked).toBe(7);
    }
  });
});
