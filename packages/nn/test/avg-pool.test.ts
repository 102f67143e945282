import { readFileSync } from 'node:fs';
import { grad, gradcheck, gradgradcheck, tensor, type Tensor } from '@normgrad/core';
import { describe, expect, it } from 'vitest';
import { AvgPool2d, avgPool2d, type AvgPool2dOptions } from '../src/index.js';
import { expectAllclose, fromFixture, seededTensor, type FixtureTensor } from './helpers.js';

interface PoolCase {
  name: string;
  options: AvgPool2dOptions & { kernelSize: number | [number, number] };
  inputs: { x: FixtureTensor };
  y: FixtureTensor;
  g: FixtureTensor;
  grads: { x: FixtureTensor };
}
const fixtures = JSON.parse(readFileSync(new URL('./fixtures/pooling.json', import.meta.url), 'utf8')) as { functions: PoolCase[] };

describe('avgPool2d ceilMode, countIncludePad, divisorOverride against PyTorch 1.13 (float64)', () => {
  for (const c of fixtures.functions) {
    it(`${c.name}: output and input gradient, functional and layer`, () => {
      const { kernelSize, ...options } = c.options;
      const x = fromFixture(c.inputs.x);
      const g = fromFixture(c.g);
      expectAllclose(avgPool2d(x, kernelSize, options), c.y, `${c.name} output`, { atol: 1e-14, rtol: 1e-12 });
      expectAllclose(new AvgPool2d(kernelSize, options).forward(x), c.y, `${c.name} layer output`, { atol: 1e-14, rtol: 1e-12 });
      const dx = grad((input: Tensor) => avgPool2d(input, kernelSize, options).mul(g).sum())(x) as Tensor;
      expectAllclose(dx, c.grads.x, `${c.name} d/dx`, { atol: 1e-14, rtol: 1e-12 });
    });
  }

  it('gradcheck and gradgradcheck with every option', () => {
    const x = seededTensor([1, 1, 4, 5], 7, { requiresGrad: true });
    const cases: AvgPool2dOptions[] = [
      { stride: 2, padding: 1, ceilMode: true, countIncludePad: false },
      { stride: 2, padding: 1, ceilMode: true },
      { stride: 1, padding: 1, divisorOverride: 4 },
    ];
    for (const options of cases) {
      const fn = (input: Tensor): Tensor => avgPool2d(input, 3, options);
      expect(gradcheck(fn, [x], { checkForwardAd: true }).ok, JSON.stringify(options)).toBe(true);
      expect(gradgradcheck(fn, [x]).ok, JSON.stringify(options)).toBe(true);
    }
  });

  it('the defaults are countIncludePad true, ceilMode false, no override', () => {
    const x = seededTensor([1, 1, 5, 5], 3);
    const plain = avgPool2d(x, 3, { stride: 2, padding: 1 }).toFloat64Array();
    expect(avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: true, ceilMode: false, divisorOverride: null }).toFloat64Array()).toEqual(plain);
    // a corner window holds 4 input elements of its 9 places
    const ones = avgPool2d(tensor(new Float64Array(25).fill(1), { shape: [1, 1, 5, 5], dtype: 'float64' }), 3, { stride: 2, padding: 1 });
    expect(ones.toFloat64Array()[0]).toBeCloseTo(4 / 9, 15);
  });

  it('prints as PyTorch (kernel_size, stride, padding only)', () => {
    expect(String(new AvgPool2d(3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false, divisorOverride: 5 }))).toBe(
      'AvgPool2d(kernel_size=3, stride=2, padding=1)',
    );
  });

  it('bad options are errors naming the entry point and the value', () => {
    const x = seededTensor([1, 1, 4, 4], 1);
    const bad = (options: unknown) => () => avgPool2d(x, 2, options as AvgPool2dOptions);
    expect(bad({ countIncludePad: 1 })).toThrow(/^avgPool2d: countIncludePad must be a boolean, got 1/);
    expect(bad({ ceilMode: 'yes' })).toThrow(/^avgPool2d: ceilMode must be a boolean, got "yes"/);
    expect(bad({ divisorOverride: 0 })).toThrow(/^avgPool2d: divisorOverride must be a nonzero integer or null, got 0/);
    expect(bad({ divisorOverride: 1.5 })).toThrow(/^avgPool2d: divisorOverride must be a nonzero integer or null, got 1.5/);
    expect(bad({ countIncludePads: false })).toThrow(/^avgPool2d: .*countIncludePads/);
    expect(() => new AvgPool2d(2, { divisor: 2 } as AvgPool2dOptions)).toThrow(/^AvgPool2d: .*divisor/);
    expect(() => new AvgPool2d(2, { divisorOverride: 0 }).forward(x)).toThrow(/^AvgPool2d: divisorOverride must be a nonzero integer or null, got 0/);
  });
});
