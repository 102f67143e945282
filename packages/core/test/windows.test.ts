import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as ng from '@normgrad/core';
import { installMatchers } from '@normgrad/testing/vitest';

installMatchers();

interface UnfoldCase {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  unfoldShape: number[];
  unfold: number[];
  fold: number[];
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/unfold.json', import.meta.url), 'utf8')) as {
  input: number[];
  inputShape: number[];
  cases: UnfoldCase[];
};

describe('unfold / fold match PyTorch F.unfold / F.fold', () => {
  const x = ng.tensor(Float64Array.from(fixture.input), { shape: fixture.inputShape });
  for (const c of fixture.cases) {
    it(`kernel ${c.kernel} stride ${c.stride} padding ${c.padding}`, () => {
      const options = { stride: c.stride, padding: c.padding };
      const columns = ng.unfold(x, c.kernel, options);
      expect(columns.shape).toEqual(c.unfoldShape);
      expect(columns).toBeAllclose(c.unfold, { rtol: 0, atol: 0 });
      expect(ng.fold(columns, [5, 6], c.kernel, options)).toBeAllclose(c.fold, { rtol: 1e-14, atol: 1e-14 });
    });
  }

  it('conv2d as unfold + matmul equals a direct loop', () => {
    const input = ng.randn([1, 2, 4, 4], { dtype: 'float64', seed: 5 });
    const weight = ng.randn([3, 2, 3, 3], { dtype: 'float64', seed: 6 });
    const output = weight.reshape([3, 18]).matmul(ng.unfold(input, 3, { padding: 1 })).reshape([1, 3, 4, 4]);
    const xs = input.toArray() as number[][][][];
    const ws = weight.toArray() as number[][][][];
    let expected = 0;
    for (let c = 0; c < 2; c++) for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
      const [h, w] = [1 - 1 + i, 2 - 1 + j];
      expected += ws[1]![c]![i]![j]! * xs[0]![c]![h]![w]!;
    }
    expect((output.toArray() as number[][][][])[0]![1]![1]![2]).toBeCloseTo(expected, 12);
  });

  it('rejects bad shapes and options by name', () => {
    expect(() => ng.unfold(ng.zeros([2, 3, 4]), 2)).toThrow(/unfold: .*\[2, 3, 4\]/);
    expect(() => ng.unfold(ng.zeros([1, 1, 2, 2]), 3)).toThrow(/unfold: kernel \[3, 3\] .* \[2, 2\]/);
    expect(() => ng.unfold(ng.zeros([1, 1, 4, 4]), 2, { stride: 0 })).toThrow(/unfold: stride .* 0/);
    expect(() => ng.fold(ng.zeros([1, 5, 9]), [4, 4], 2)).toThrow(/fold: columns of shape \[1, 5, 9\]/);
  });
});
