export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * Forces a garbage collection when node runs with --expose-gc, so one run's garbage is not
 * collected in the next run's timing; whether it did.
 */
export function collectGarbage(): boolean {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  return gc !== undefined;
}

/**
 * How long a timed run waits after its forced GC, untimed: V8 finishes that collection's sweeping
 * on background threads, which would otherwise share the two cores with the timed run.
 */
export const SETTLE_AFTER_GC_MS = 20;

/** collectGarbage, then (when a GC was forced) SETTLE_AFTER_GC_MS of idle time for its background work. */
export async function collectGarbageAndSettle(): Promise<void> {
  if (collectGarbage()) await new Promise((resolve) => setTimeout(resolve, SETTLE_AFTER_GC_MS));
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

/** A fast iteration warms up for at least this long (JIT compilation of generated kernels settles within it). */
export const warmupBudgetMs = 500;
/** The most warm-up iterations of a fast iteration. */
export const maxWarmups = 100;

/**
 * Whether another warm-up iteration runs after the first (checked) one, given how many ran, the
 * time they took and the latest iteration's time (the first's before any ran): one with --quick;
 * always one (a first iteration may include tracing or compilation); then none more when it took
 * over 200 ms, else at least 3, and more until they took warmupBudgetMs (at most maxWarmups).
 */
export function wantsWarmup(done: number, spentMs: number, latestMs: number, quick: boolean): boolean {
  if (done < 1) return true;
  if (quick || latestMs > 200) return false;
  return done < 3 || (spentMs < warmupBudgetMs && done < maxWarmups);
}

/** Minor page faults of this process so far (first touches of fresh pages). */
export function minorPageFaults(): number {
  return process.resourceUsage().minorPageFault;
}
