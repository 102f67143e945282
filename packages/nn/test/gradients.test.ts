import { gradcheck, gradgradcheck } from '@normgrad/core';
import { checkVjp } from '@normgrad/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normSpecs } from './norm-specs.js';

/**
 * Property runs per norm and mode. gradcheck compares the whole Jacobian w.r.t. x, weight and
 * bias with central differences; gradgradcheck does the same for the VJP (second order).
 */
export const RUNS = { vjp: 100, gradcheck: 60, gradgradcheck: 40 } as const;

describe.each(normSpecs.map((spec) => [spec.name, spec] as const))('%s derivatives (float64, random shapes and options)', (_, spec) => {
  describe.each(spec.modes.map((mode) => [mode] as const))('%s mode', (mode) => {
    it(`VJP dot-product test (${RUNS.vjp} runs)`, () => {
      fc.assert(
        fc.property(spec.config, fc.integer({ min: 0, max: 1e6 }), (config, seed) => {
          const { fn, inputs, description } = spec.build(config, mode, seed);
          const result = checkVjp(fn, inputs, { seed });
          expect(result.ok, `${description}: ${JSON.stringify(result)}`).toBe(true);
        }),
        { numRuns: RUNS.vjp, seed: 1 },
      );
    });

    it(`gradcheck w.r.t. input, weight and bias (${RUNS.gradcheck} runs)`, () => {
      fc.assert(
        fc.property(spec.config, fc.integer({ min: 0, max: 1e6 }), (config, seed) => {
          const { fn, inputs, description } = spec.build(config, mode, seed);
          const result = gradcheck(fn, inputs);
          expect(result.ok, `${description}: ${JSON.stringify(result)}`).toBe(true);
        }),
        { numRuns: RUNS.gradcheck, seed: 2 },
      );
    });

    it(`gradgradcheck w.r.t. input, weight and bias (${RUNS.gradgradcheck} runs)`, () => {
      fc.assert(
        fc.property(spec.config, fc.integer({ min: 0, max: 1e6 }), (config, seed) => {
          const { fn, inputs, description } = spec.build(config, mode, seed);
          const result = gradgradcheck(fn, inputs, { seed });
          expect(result.ok, `${description}: ${JSON.stringify(result)}`).toBe(true);
        }),
        { numRuns: RUNS.gradgradcheck, seed: 3 },
      );
    });
  });
});
