import { grad, tensor, type Tensor } from '@normgrad/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchNorm, layerNorm } from '../src/index.js';
import { seededTensor } from './helpers.js';

/**
 * Third derivatives against finite differences of the second-order gradient. With
 *   L(x)  = sum(norm(x) * g)
 *   S2(x) = <grad L(x), u>          (first-order gradient, contracted)
 *   S3(x) = <grad S2(x), v>         (second-order gradient = Hessian-vector product, contracted)
 * grad S3(x) is a third derivative, which must equal the central differences of S3, element by
 * element. PyTorch's fused batch/layer norm backward gets this wrong (its saved statistics have
 * no history); a composite must not.
 */
const RUNS = 15;

function thirdOrderCheck(norm: (x: Tensor) => Tensor, x: Tensor, seed: number): { maxError: number; scale: number } {
  const g = seededTensor(x.shape, seed + 1);
  const u = seededTensor(x.shape, seed + 2);
  const v = seededTensor(x.shape, seed + 3);
  const loss = (xi: Tensor) => norm(xi).mul(g).sum();
  const s2 = (xi: Tensor) => grad(loss)(xi).mul(u).sum();
  const s3 = (xi: Tensor) => grad(s2)(xi).mul(v).sum();
  const analytic = grad(s3)(x).toFloat64Array();

  const base = x.toFloat64Array();
  const h = 1e-5;
  let maxError = 0;
  let scale = 0;
  for (let i = 0; i < base.length; i++) {
    const at = (delta: number) => {
      const shifted = base.slice();
      shifted[i]! += delta;
      const xi = tensor(shifted, { shape: x.shape, dtype: 'float64', requiresGrad: true });
      return s3(xi).item();
    };
    const numeric = (at(h) - at(-h)) / (2 * h);
    maxError = Math.max(maxError, Math.abs(analytic[i]! - numeric) / (1 + Math.abs(numeric)));
    scale = Math.max(scale, Math.abs(numeric));
  }
  return { maxError, scale };
}

describe('third-order gradients match finite differences of the second-order gradient (float64)', () => {
  it(`batchNorm in training mode, with affine weight and bias (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 1e6 }), (n, c, l, seed) => {
        const weight = seededTensor([c], seed + 4, { offset: 1, scale: 0.5 });
        const bias = seededTensor([c], seed + 5);
        const x = seededTensor([n, c, l], seed, { scale: 2 });
        const { maxError, scale } = thirdOrderCheck((xi) => batchNorm(xi, null, null, { weight, bias, training: true, eps: 1e-3 }), x, seed);
        expect(scale).toBeGreaterThan(0); // a non-trivial third derivative
        expect(maxError, `x shape [${n}, ${c}, ${l}]`).toBeLessThan(1e-5);
      }),
      { numRuns: RUNS, seed: 21 },
    );
  });

  it(`layerNorm over one or two trailing axes, with elementwise affine (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.array(fc.integer({ min: 2, max: 4 }), { minLength: 1, maxLength: 2 }), fc.integer({ min: 0, max: 1e6 }), (batch, normalizedShape, seed) => {
        const weight = seededTensor(normalizedShape, seed + 4, { offset: 1, scale: 0.5 });
        const bias = seededTensor(normalizedShape, seed + 5);
        const x = seededTensor([batch, ...normalizedShape], seed, { scale: 2 });
        const { maxError, scale } = thirdOrderCheck((xi) => layerNorm(xi, normalizedShape, { weight, bias, eps: 1e-3 }), x, seed);
        expect(scale).toBeGreaterThan(0);
        expect(maxError, `x shape [${batch}, ${normalizedShape.join(', ')}]`).toBeLessThan(1e-5);
      }),
      { numRuns: RUNS, seed: 22 },
    );
  });
});
