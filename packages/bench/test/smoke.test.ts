import { type Tensor } from '@normgrad/core';
import { describe, expect, it } from 'vitest';
import { runBench } from '../src/harness.js';
import { parseOptions } from '../src/options.js';
import { renderMarkdown } from '../src/report.js';
import { compileMissingNote, coreCompile, coreVmap, normgradCompiledSystem, normgradVmapSystem, vmapMissingNote } from '../src/systems/normgrad.js';
import { allWorkloadIds, makeWorkload, quickSizes } from '../src/workloads.js';

// A smoke test of the harness, normgrad side only: tiny sizes, no peers, nothing written to disk.
// It never asserts on speed.
describe('bench --quick --no-peers', () => {
  it('runs every workload in float32 and float64 (W8 also by reverse-over-reverse, and one gradient) and renders the tables', async () => {
    const options = parseOptions(['--quick', '--no-peers']);
    const result = await runBench(options);
    const compiled = coreCompile ? 'normgrad-compiled ok' : `normgrad-compiled skipped ${compileMissingNote}`;
    const vmapped = coreVmap ? 'normgrad-vmap ok' : `normgrad-vmap skipped ${vmapMissingNote}`;
    const vmapCompiled = !coreVmap ? `normgrad-vmap-compiled skipped ${vmapMissingNote}` : coreCompile ? 'normgrad-vmap-compiled ok' : `normgrad-vmap-compiled skipped ${compileMissingNote}`;
    expect(result.cells.map((cell) => `${cell.workload} ${cell.system} ${cell.status} ${cell.note ?? ''}`.trim())).toEqual(
      allWorkloadIds.flatMap((id) => [
        `${id} normgrad ok`, `${id} normgrad-f64 ok`, `${id} ${compiled}`,
        ...(id === 'W8' ? [`${id} normgrad-ror ok`, `${id} normgrad-gradient ok`] : []),
        ...(id === 'W11' ? [`${id} ${vmapped}`, `${id} ${vmapCompiled}`] : []),
      ]),
    );
    for (const cell of result.cells.filter((c) => c.status === 'ok' && c.system !== 'normgrad')) expect(cell.agrees, `${cell.workload} ${cell.system}`).toBe(true);
    for (const cell of result.cells.filter((c) => c.status === 'ok')) {
      expect(cell.runsFaults, `${cell.workload} ${cell.system}`).toHaveLength(cell.runsMs!.length);
      expect(cell.meanMs).toBeGreaterThan(0);
    }
    const markdown = renderMarkdown(result);
    for (const id of allWorkloadIds) expect(markdown).toMatch(new RegExp(`^\\| ${id} \\| .*\\|$`, 'm'));
    expect(markdown).toContain('normgrad ÷ best JS peer');
    expect(markdown).toContain('## Median ms per iteration (float64)');
    expect(markdown).toMatch(/^\| normgrad reverse-over-reverse: grad of ⟨grad, v⟩ \| [0-9.]+ \| [0-9.]+× \|$/m);
    expect(markdown).toMatch(/^\| normgrad loop of one gradient per example \| [0-9.]+ \| 1\.00× \|$/m);
    expect(markdown).toContain('- **W10** (100 tiny ops + backward, [4], 25 × (mul, add, tanh, mul)): x, a, b, c of shape [4]; h₀ = x; h_{k+1} = tanh(h_k·a + b)·c for k = 0…24 (100 elementwise ops)');
    if (!coreCompile) expect(markdown).toMatch(new RegExp(`^\\d+\\. normgrad-compiled: skipped \\(${compileMissingNote}\\)$`, 'm'));
    expect(result.leakCheck?.samples.length).toBe(11);
  }, 60_000);

  it('the compiled column hands each workload to compile and checks it against eager (here with a compile that counts its calls)', async () => {
    let traced = 0;
    const countingCompile = <F extends (...args: Tensor[]) => Tensor[]>(fn: F): F => {
      traced++;
      return fn;
    };
    const system = normgradCompiledSystem(countingCompile);
    for (const id of ['W1', 'W7b', 'W10', 'W11'] as const) {
      const benchCase = await system.prepare(makeWorkload(id, quickSizes));
      expect(Object.keys(await benchCase.check()).length, id).toBeGreaterThan(0);
      await benchCase.step();
    }
    expect(traced).toBe(4); // one compile per workload (W11: of the per-example gradient)
    expect(normgradCompiledSystem(null).skipReason('W1')).toBe(compileMissingNote);
    expect(normgradVmapSystem(false).skipReason('W11')).toBe(vmapMissingNote);
    expect(normgradVmapSystem(true).skipReason('W1')).toBe('W11 only');
  });

  it('parses the options and rejects unknown ones', () => {
    expect(parseOptions(['--only', 'w1,W5,w7b', '--runs=4'])).toMatchObject({ only: ['W1', 'W5', 'W7b'], runs: 4, peers: true, torch: true, quick: false, systems: null });
    expect(parseOptions(['--systems', 'normgrad,tfjs', '--rounds', '2', '--no-torch', '--python', '/opt/py'])).toMatchObject({ systems: ['normgrad', 'tfjs-wasm', 'tfjs-cpu'], runs: 2, torch: false, python: '/opt/py' });
    expect(() => parseOptions(['--only', 'W9'])).toThrow(/unknown workload/);
    expect(() => parseOptions(['--systems', 'pytorch'])).toThrow(/unknown system\(s\) pytorch/);
    expect(() => parseOptions(['--fast'])).toThrow(/unknown option --fast/);
  });
});
