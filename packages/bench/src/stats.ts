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
