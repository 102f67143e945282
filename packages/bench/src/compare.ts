import type { Results } from './systems/system.js';

export interface Agreement {
  /** Largest relative error over all outputs: max |a − b| / max |b| per output. */
  maxRelError: number;
  /** Largest absolute difference max |a − b| over all outputs. */
  maxAbsError: number;
  /** The output with the largest relative error. */
  worst: string;
  /** Outputs the reference has but the system did not produce (or produced with another size). */
  missing: string[];
}

/** Largest |a − b| (NaN if any difference is NaN). */
export function absoluteError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let maxDifference = 0;
  for (let i = 0; i < expected.length; i++) {
    const difference = Math.abs(actual[i]! - expected[i]!);
    if (!(difference <= maxDifference)) maxDifference = difference;
  }
  return maxDifference;
}

/** Norm-wise relative error max|a − b| / max|b| (elementwise ratios would blow up near zero). */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let maxDifference = 0;
  let maxExpected = 0;
  for (let i = 0; i < expected.length; i++) {
    const difference = Math.abs(actual[i]! - expected[i]!);
    if (!(difference <= maxDifference)) maxDifference = difference; // NaN propagates
    maxExpected = Math.max(maxExpected, Math.abs(expected[i]!));
  }
  return maxDifference / (maxExpected || Number.MIN_VALUE);
}

export function compareResults(actual: Results, reference: Results): Agreement {
  const agreement: Agreement = { maxRelError: 0, maxAbsError: 0, worst: '', missing: [] };
  for (const [name, expected] of Object.entries(reference)) {
    const got = actual[name];
    if (!got || got.length !== expected.length) {
      agreement.missing.push(name);
      continue;
    }
    const difference = absoluteError(got, expected);
    if (!(difference <= agreement.maxAbsError)) agreement.maxAbsError = difference;
    const error = relativeError(got, expected);
    if (!(error <= agreement.maxRelError)) Object.assign(agreement, { maxRelError: error, worst: name });
  }
  return agreement;
}
