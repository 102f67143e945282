/**
 * A bad-input table: one row per public entry point, each with calls that pass it one kind of bad
 * input. Every call must throw an Error whose message starts with the entry point's name and a
 * colon ("zeros: …", "BatchNorm1d: …"). A package keeps its rows in one table, so a new entry point
 * is one new row; runBadInputTable reports every call that does not throw so, and the counts.
 */

export const BAD_INPUT_KINDS = ['unknown option', 'wrong type', 'non-finite', 'zero-size', 'out of range', 'wrong dtype', 'wrong shape'] as const;
export type BadInputKind = (typeof BAD_INPUT_KINDS)[number];

export interface BadInputRow {
  /** The name every message must start with, as in `${entryPoint}: …`. */
  entryPoint: string;
  /** Calls with one kind of bad input each; a kind that does not apply is left out. */
  cases: Partial<Record<BadInputKind, readonly (() => unknown)[]>>;
}

export interface BadInputReport {
  /** One line per call that did not throw an Error starting with `${entryPoint}:`. */
  failures: string[];
  /** Calls per entry point and kind. */
  counts: Map<string, Partial<Record<BadInputKind, number>>>;
  total: number;
}

export function runBadInputTable(rows: readonly BadInputRow[]): BadInputReport {
  const failures: string[] = [];
  const counts = new Map<string, Partial<Record<BadInputKind, number>>>();
  let total = 0;
  const seen = new Set<string>();
  for (const { entryPoint, cases } of rows) {
    if (seen.has(entryPoint)) failures.push(`${entryPoint}: more than one row`);
    seen.add(entryPoint);
    const rowCounts: Partial<Record<BadInputKind, number>> = {};
    for (const kind of BAD_INPUT_KINDS) {
      const calls = cases[kind] ?? [];
      if (calls.length > 0) rowCounts[kind] = calls.length;
      calls.forEach((call, index) => {
        total += 1;
        const where = `${entryPoint} / ${kind} #${index}`;
        try {
          call();
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          if (!(error instanceof Error)) failures.push(`${where}: threw a non-Error ${message}`);
          else if (!message.startsWith(`${entryPoint}: `)) failures.push(`${where}: message does not start with '${entryPoint}: ': ${message.slice(0, 160)}`);
          return;
        }
        failures.push(`${where}: did not throw`);
      });
    }
    if (Object.keys(rowCounts).length === 0) failures.push(`${entryPoint}: a row without cases`);
    counts.set(entryPoint, rowCounts);
  }
  return { failures, counts, total };
}

/** The counts as a Markdown table (entry points × kinds), for reports. */
export function formatBadInputCounts(report: BadInputReport): string {
  const header = `| entry point | ${BAD_INPUT_KINDS.join(' | ')} |`;
  const rule = `|${' --- |'.repeat(BAD_INPUT_KINDS.length + 1)}`;
  const lines = [...report.counts].map(([entryPoint, counts]) => `| ${entryPoint} | ${BAD_INPUT_KINDS.map((kind) => counts[kind] ?? '').join(' | ')} |`);
  return [header, rule, ...lines].join('\n');
}
