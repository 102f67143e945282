import { customOp, gradgradcheck, gradcheck, grad, noGrad, tensor, type Tensor } from '@normgrad/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchNorm, layerNorm } from '../src/index.js';
import { standardize } from '../src/functional/normalize.js';
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

/**
 * The check has teeth: an rsqrt whose first and second derivatives are right but whose second
 * derivative carries no history (the shape of PyTorch's bug: a hand-written double backward
 * from saved, history-less statistics) passes gradcheck and gradgradcheck, yet fails here.
 */
describe('a norm that is right only to second order', () => {
  const rsqrtDerivative = customOp({
    name: 'rsqrtDerivative',
    forward: (v) => noGrad(() => tensor(v).pow(-1.5).mul(-0.5)).data,
    // d/dv (-v^-1.5 / 2) = 0.75 v^-2.5, computed from a detached v: no third derivative
    vjp: (g, [v]) => [g.mul(v!.detach().pow(-2.5).mul(0.75))],
  });
  const rsqrtRightToSecondOrder = customOp({
    name: 'rsqrtRightToSecondOrder',
    forward: (v) => noGrad(() => tensor(v).rsqrt()).data,
    vjp: (g, [v]) => [g.mul(rsqrtDerivative(v!))],
  });
  const fusedLikeBatchNorm = (x: Tensor) => {
    const mean = x.mean([0, 2], true);
    const variance = x.var([0, 2], { correction: 0, keepdims: true });
    return x.sub(mean).mul(rsqrtRightToSecondOrder(variance.add(1e-3)));
  };

  it('passes gradcheck and gradgradcheck but fails the third-order check', () => {
    const x = seededTensor([3, 2, 2], 5, { scale: 2 });
    const reference = (xi: Tensor) => standardize(xi, xi.mean([0, 2], true), xi.var([0, 2], { correction: 0, keepdims: true }), 1e-3);
    expect(gradcheck(fusedLikeBatchNorm, [x]).ok).toBe(true);
    expect(gradgradcheck(fusedLikeBatchNorm, [x]).ok).toBe(true);
    expect(thirdOrderCheck(reference, x, 5).maxError).toBeLessThan(1e-5);
    expect(thirdOrderCheck(fusedLikeBatchNorm, x, 5).maxError).toBeGreaterThan(1e-2);
  });
});
