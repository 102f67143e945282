import { describe, expect, it } from 'vitest';
import { compareSummaries, formatSummary, summarize, tQuantile975 } from '../src/study/stats.js';

describe('summaries over seeds', () => {
  it('use Student t quantiles', () => {
    expect(tQuantile975(1)).toBe(12.706);
    expect(tQuantile975(2)).toBe(4.303);
    expect(tQuantile975(30)).toBe(2.042);
    expect(tQuantile975(1000)).toBe(1.96);
    expect(() => tQuantile975(0)).toThrow(/tQuantile975: degrees of freedom must be at least 1, got 0/);
  });

  it('give the mean and the 95% t-interval, leaving out non-finite values', () => {
    const summary = summarize([1, 2, 3, NaN, Infinity]);
    expect(summary.n).toBe(3);
    expect(summary.mean).toBe(2);
    // s = 1, half width = t(2) · s / sqrt(3)
    expect(summary.high - summary.mean).toBeCloseTo(4.303 / Math.sqrt(3), 12);
    expect(summary.mean - summary.low).toBeCloseTo(4.303 / Math.sqrt(3), 12);
    expect(summarize([5])).toEqual({ mean: 5, low: NaN, high: NaN, n: 1 });
    expect(summarize([NaN]).n).toBe(0);
  });

  it('format and compare', () => {
    expect(formatSummary(summarize([0.9, 0.92, 0.94]), { percent: true })).toBe('92.0% [87.0, 97.0]');
    expect(formatSummary(summarize([0.2]))).toBe('0.200 (1 seed)');
    expect(formatSummary(summarize([]))).toBe('n/a');
    expect(compareSummaries(summarize([10, 11, 12]), summarize([1, 2, 3]))).toBe('higher');
    expect(compareSummaries(summarize([1, 2, 3]), summarize([10, 11, 12]))).toBe('lower');
    expect(compareSummaries(summarize([1, 2, 3]), summarize([2, 3, 4]))).toBe('overlap');
  });
});
