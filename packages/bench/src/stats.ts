export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Forces a garbage collection when node runs with --expose-gc, so one run's garbage is not collected in the next run's timing. */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

export const megabytes = (bytes: number): number => bytes / (1024 * 1024);

export function mean(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((sum, value) => sum + value, 0) / values.length;
}

/** Round `round`'s order: the items rotated left by round mod length, so each one goes first in turn. */
export function rotated<T>(items: readonly T[], round: number): T[] {
  if (items.length === 0) return [];
  const shift = round % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/** Timed runs for an iteration of `estimateMs`: at most `maxRuns`, fewer when they would add up to more than `budgetMs`, never fewer than `minRuns`. */
export function plannedRuns(estimateMs: number, maxRuns: number, budgetMs: number, minRuns = 3): number {
  return Math.max(minRuns, Math.min(maxRuns, Math.floor(budgetMs / Math.max(estimateMs, 1e-3))));
}

/** Warm-up iterations after the first (checked) one: a few for fast iterations, one over 200 ms, none over 1 s; one with --quick. */
export function warmupCount(firstMs: number, quick: boolean): number {
  return quick ? 1 : firstMs > 1000 ? 0 : firstMs > 200 ? 1 : 3;
}

/** Minor page faults of this process so far (first touches of fresh pages). */
export function minorPageFaults(): number {
  return process.resourceUsage().minorPageFault;
}
