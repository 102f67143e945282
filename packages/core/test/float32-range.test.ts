import { describe, expect, it } from 'vitest';
import { grad, moments, randn, tensor, type Tensor } from '../src/index.js';

/** float32 data at a magnitude, and its exact float64 statistics. */
function dataAt(magnitude: number, mean = 0): { x: Tensor; exactVar: number; values: Float64Array } {
  const z = randn([64], { dtype: 'float64', seed: 11 }).toFloat64Array();
  const values = Float64Array.from(Float32Array.from(z, (value) => mean + magnitude * value));
  const average = values.reduce((a, b) => a + b, 0) / values.length;
  const exactVar = values.reduce((total, value) => total + (value - average) ** 2, 0) / (values.length - 1);
  return { x: tensor(Float32Array.from(values)), exactVar, values };
}

describe('float32 var, std and moments do not overflow or underflow where the result is representable', () => {
  for (const magnitude of [1e-19, 1e-15, 1e-3, 1, 1e3, 1e15, 1e18, 1e19]) {
    it(`var and std at data scale ${magnitude}`, () => {
      const { x, exactVar } = dataAt(magnitude);
      expect(exactVar).toBeLessThan(3.4e38);
      expect(Math.abs(x.var().item() / exactVar - 1)).toBeLessThan(1e-5);
      expect(Math.abs(x.std().item() / Math.sqrt(exactVar) - 1)).toBeLessThan(1e-5);
    });
  }

  it('std at data scale 1e30 is finite although the variance (1e60) is not representable', () => {
    const { x, exactVar } = dataAt(1e30);
    expect(x.var().item()).toBe(Infinity);
    expect(Math.abs(x.std().item() / Math.sqrt(exactVar) - 1)).toBeLessThan(1e-5);
  });

  it('moments(...).normalized(eps) at 1e30 and 1e-30 against float64', () => {
    for (const magnitude of [1e30, 1e-30, 1e-20]) {
      for (const eps of [0, 1e-5]) {
        const { x, values } = dataAt(magnitude, 3 * magnitude);
        const y = moments(x, 0, { correction: 0 }).normalized(eps).toFloat64Array();
        const average = values.reduce((a, b) => a + b, 0) / values.length;
        const variance = values.reduce((total, value) => total + (value - average) ** 2, 0) / values.length;
        const expected = values.map((value) => (value - average) / Math.sqrt(variance + eps));
        const scale = Math.max(...expected.map(Math.abs));
        y.forEach((value, i) => expect(Math.abs(value - expected[i]!) / scale).toBeLessThan(1e-6));
      }
    }
  });

  it('the gradient of std at 1e25 is (x − mean) / ((n − 1) std), finite', () => {
    const { x, values } = dataAt(1e25);
    const g = grad((t: Tensor) => t.std())(x).toFloat64Array();
    const average = values.reduce((a, b) => a + b, 0) / values.length;
    const std = Math.sqrt(values.reduce((total, value) => total + (value - average) ** 2, 0) / (values.length - 1));
    g.forEach((value, i) => expect(value).toBeCloseTo((values[i]! - average) / ((values.length - 1) * std), 5));
  });

  it('var of subnormal-range float64 data has finite first and second derivatives', () => {
    const x = tensor([0, -1e-323, 2e-320], { dtype: 'float64' });
    const second = grad((t: Tensor) => grad((u: Tensor) => u.var())(t).square().sum())(x).toFloat64Array();
    expect(second.every(Number.isFinite)).toBe(true);
  });
});
