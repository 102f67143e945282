/** Means and 95% t-intervals over seeds: every number the study reports goes through here. */

/** Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom (t_{0.975, df}). */
const T_975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069,
  2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** t_{0.975, df}; beyond 30 degrees of freedom the table's tail (2.0 up to 120, then the normal 1.96). */
export function tQuantile975(degreesOfFreedom: number): number {
  if (!(degreesOfFreedom >= 1)) throw new Error(`tQuantile975: degrees of freedom must be at least 1, got ${degreesOfFreedom}`);
  if (degreesOfFreedom <= 30) return T_975[Math.floor(degreesOfFreedom) - 1]!;
  return degreesOfFreedom <= 120 ? 2.0 : 1.96;
}

/** A sample's mean and its 95% t-interval, mean ± t·s/√n (low = high = NaN for fewer than 2 values). */
export interface Summary {
  mean: number;
  low: number;
  high: number;
  n: number;
}

export function mean(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0) / values.length;
}

/** Mean and 95% t-interval of the finite values (NaN and ±Infinity, e.g. a diverged run, are left out and lower n). */
export function summarize(values: readonly number[]): Summary {
  const finite = values.filter(Number.isFinite);
  const n = finite.length;
  if (n === 0) return { mean: NaN, low: NaN, high: NaN, n };
  const average = mean(finite);
  if (n === 1) return { mean: average, low: NaN, high: NaN, n };
  const variance = finite.reduce((total, value) => total + (value - average) ** 2, 0) / (n - 1);
  const half = tQuantile975(n - 1) * Math.sqrt(variance / n);
  return { mean: average, low: average - half, high: average + half, n };
}

/** "93.1% [92.4, 93.8]" or "0.213 [0.201, 0.225]": the mean and its interval, with `scale` (100 for percentages). */
export function formatSummary(summary: Summary, options: { digits?: number; percent?: boolean } = {}): string {
  const digits = options.digits ?? (options.percent ? 1 : 3);
  const scale = options.percent ? 100 : 1;
  const f = (value: number): string => (value * scale).toFixed(digits);
  if (summary.n === 0) return 'n/a';
  const unit = options.percent ? '%' : '';
  if (summary.n === 1) return `${f(summary.mean)}${unit} (1 seed)`;
  return `${f(summary.mean)}${unit} [${f(summary.low)}, ${f(summary.high)}]`;
}

/** How two summaries compare: 'higher' / 'lower' when the intervals do not overlap, else 'overlap'. */
export function compareSummaries(a: Summary, b: Summary): 'higher' | 'lower' | 'overlap' {
  if (!(a.n >= 2 && b.n >= 2)) return 'overlap';
  if (a.low > b.high) return 'higher';
  if (a.high < b.low) return 'lower';
  return 'overlap';
}
