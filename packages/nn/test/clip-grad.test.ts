import { readFileSync } from 'node:fs';
import { tensor, zeros, type Tensor } from '@normgrad/core';
import { describe, expect, it } from 'vitest';
import { Linear, clipGradNorm, clipGradValue } from '../src/index.js';

interface ClipCase {
  name: string;
  kind: 'norm' | 'value';
  normType?: number | 'inf';
  maxNorm?: number;
  clipValue?: number;
  grads: number[][];
  noGrad?: number[];
  totalNorm?: number;
  after: (number[] | null)[];
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/clip_grad.json', import.meta.url), 'utf8')) as {
  torch: string;
  shapes: number[][];
  cases: ClipCase[];
};

const RTOL = 1e-12;

function relativeError(actual: number, expected: number): number {
  return Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-300);
}

function setup(testCase: ClipCase): { params: Tensor[]; grads: (Tensor | null)[] } {
  const params = fixture.shapes.map((shape) => zeros(shape, { dtype: 'float64', requiresGrad: true }));
  const grads = params.map((param, index) => {
    if (testCase.noGrad?.includes(index)) return null;
    param.grad = tensor(testCase.grads[index]!.flat(3), { dtype: 'float64', shape: param.shape });
    return param.grad;
  });
  return { params, grads };
}

describe(`clipGradNorm / clipGradValue against torch.nn.utils ${fixture.torch} (float64, rtol ${RTOL})`, () => {
  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_name, testCase) => {
    const { params, grads } = setup(testCase);
    if (testCase.kind === 'norm') {
      const normType = testCase.normType === 'inf' ? Infinity : testCase.normType!;
      const total = clipGradNorm(params, testCase.maxNorm!, { normType });
      expect(relativeError(total, testCase.totalNorm!), 'total norm').toBeLessThanOrEqual(RTOL);
    } else {
      clipGradValue(params, testCase.clipValue!);
    }
    params.forEach((param, index) => {
      const expected = testCase.after[index];
      if (expected === null) {
        expect(param.grad).toBeNull();
        return;
      }
      // in place: the same gradient tensor, with new values
      expect(param.grad).toBe(grads[index]);
      const actual = param.grad!.toFloat64Array();
      expected!.forEach((value, i) => expect(relativeError(actual[i]!, value), `grad ${index}[${i}]`).toBeLessThanOrEqual(RTOL));
    });
  });

  it('the fixture clips and leaves alone, for every norm type', () => {
    for (const normType of [2, 1, 3, 0.5, 'inf']) {
      const cases = fixture.cases.filter((c) => c.kind === 'norm' && c.normType === normType);
      expect(cases.some((c) => c.totalNorm! > c.maxNorm!)).toBe(true);
      expect(cases.some((c) => c.totalNorm! < c.maxNorm!)).toBe(true);
    }
  });

  it('takes a single tensor or module.parameters(), returns 0 without gradients', () => {
    const layer = new Linear(3, 2, { dtype: 'float64' });
    expect(clipGradNorm(layer.parameters(), 1)).toBe(0);
    const p = tensor([3, 4], { dtype: 'float64', requiresGrad: true });
    p.grad = tensor([3, 4], { dtype: 'float64' });
    expect(clipGradNorm(p, 1)).toBe(5);
    expect(p.grad.toArray()).toEqual([3 / (5 + 1e-6), 4 / (5 + 1e-6)]);
    clipGradValue(p, 0.7);
    expect(p.grad.toArray()).toEqual([3 / (5 + 1e-6), 0.7]);
  });

  it('errorIfNonfinite', () => {
    const p = tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    p.grad = tensor([Infinity, 1], { dtype: 'float64' });
    expect(() => clipGradNorm([p], 1, { errorIfNonfinite: true })).toThrow(
      'clipGradNorm: the total norm of order 2 of the gradients is Infinity, so they cannot be clipped',
    );
    expect(clipGradNorm([p], 1)).toBe(Infinity);
  });

  it('rejects bad input naming the function', () => {
    const p = tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    expect(() => clipGradNorm([p], 1, { norm_type: 2 } as never)).toThrow("clipGradNorm: unknown option 'norm_type' (did you mean 'normType'?)");
    expect(() => clipGradNorm([p], 1, { normType: 0 })).toThrow('clipGradNorm: normType must be a number > 0 or Infinity, got 0');
    expect(() => clipGradNorm([p], Number.NaN)).toThrow('clipGradNorm: maxNorm must be a number, got NaN');
    expect(() => clipGradNorm([1, 2] as never, 1)).toThrow('clipGradNorm: parameter 0 is not a Tensor (got number)');
    expect(() => clipGradValue(null as never, 1)).toThrow(/^clipGradValue: params must be a Tensor or an iterable of Tensors/);
    expect(() => clipGradValue([p], '1' as never)).toThrow('clipGradValue: clipValue must be a number, got 1');
  });
});
