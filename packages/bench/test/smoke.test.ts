import { describe, expect, it } from 'vitest';
import { runBench } from '../src/harness.js';
import { parseOptions } from '../src/options.js';
import { renderMarkdown } from '../src/report.js';
import { allWorkloadIds } from '../src/workloads.js';

// A smoke test of the harness, normgrad side only: tiny sizes, no peers, nothing written to disk.
// It never asserts on speed.
describe('bench --quick --no-peers', () => {
  it('runs every workload in float32 and float64 (W8 also by reverse-over-reverse, and one gradient) and renders the table', async () => {
    const options = parseOptions(['--quick', '--no-peers']);
    const result = await runBench(options);
    expect(result.cells.map((cell) => `${cell.workload} ${cell.system} ${cell.status} ${cell.note ?? ''}`.trim())).toEqual(
      allWorkloadIds.flatMap((id) => [`${id} normgrad ok`, `${id} normgrad-f64 ok`, ...(id === 'W8' ? [`${id} normgrad-ror ok`, `${id} normgrad-gradient ok`] : [])]),
    );
    for (const cell of result.cells.filter((c) => c.workload === 'W8' && c.system !== 'normgrad')) expect(cell.agrees, cell.system).toBe(true);
    for (const cell of result.cells.filter((c) => c.system === 'normgrad-f64')) expect(cell.agrees, cell.workload).toBe(true);
    const markdown = renderMarkdown(result);
    for (const id of allWorkloadIds) expect(markdown).toMatch(new RegExp(`^\\| ${id} \\| .*\\|$`, 'm'));
    expect(markdown).toContain('normgrad / best peer');
    expect(markdown).toMatch(/^\| normgrad reverse-over-reverse: grad of ⟨grad, v⟩ \| [0-9.]+ \| [0-9.]+× \|$/m);
    expect(result.leakCheck?.samples.length).toBe(11);
  }, 60_000);

  it('parses the options and rejects unknown ones', () => {
    expect(parseOptions(['--only', 'w1,W5', '--runs=4'])).toMatchObject({ only: ['W1', 'W5'], runs: 4, peers: true, quick: false });
    expect(() => parseOptions(['--only', 'W7'])).toThrow(/unknown workload/);
    expect(() => parseOptions(['--fast'])).toThrow(/unknown option --fast/);
  });
});
