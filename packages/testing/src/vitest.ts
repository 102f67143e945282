// @normgrad/testing/vitest: the toBeAllclose matcher for vitest (the package's only use of vitest).
import { expect } from 'vitest';
import { allclose, type AllcloseOptions, type Comparable } from './allclose.js';

/** The vitest matcher: expect(actual).toBeAllclose(expected, { rtol, atol }). Install with installMatchers(). */
export function toBeAllclose(this: { isNot: boolean }, actual: Comparable, expected: Comparable, options?: AllcloseOptions) {
  const report = allclose(actual, expected, options);
  return { pass: report.pass, message: () => (this.isNot ? `expected not allclose, but ${report.message}` : `expected allclose: ${report.message}`) };
}

/** Registers toBeAllclose with vitest's expect (call once, e.g. in a setup file or at the top of a test file). */
export function installMatchers(): void {
  expect.extend({ toBeAllclose });
}

declare module 'vitest' {
  interface Assertion<T = any> {
    toBeAllclose(expected: Comparable, options?: AllcloseOptions): T;
  }
  interface AsymmetricMatchersContaining {
    toBeAllclose(expected: Comparable, options?: AllcloseOptions): void;
  }
}
