import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runBench } from '../src/harness.js';
import { parseOptions } from '../src/options.js';
import { renderMarkdown } from '../src/report.js';
import { decodeRun, encodeWorkloadData, torchSystem } from '../src/systems/torch.js';
import { makeWorkload, quickSizes } from '../src/workloads.js';

const fakeChild = fileURLToPath(new URL('./fake-torch-child.mjs', import.meta.url));
const fake = (mode: string) => ({ command: process.execPath, args: [fakeChild, mode], threads: [1, 2] });

describe('the PyTorch bridge (with a fake child that speaks the protocol)', () => {
  it('sends the seeded inputs and labels at their offsets and reads every variant back', async () => {
    const system = await torchSystem(fake('ok'));
    try {
      expect(system.description).toBe('PyTorch fake-1.0, no oneDNN');
      expect(system.columns).toEqual(['torch-1T', 'torch-2T', 'torch-1T-f64', 'torch-2T-f64', 'torch-onednn-1T', 'torch-onednn-2T']);
      const workload = makeWorkload('W4', quickSizes);
      const run = await system.run(workload, { runs: 15, budgetMs: 4000, quick: true });
      expect(run.variants.map((v) => v.name)).toEqual(['torch-1T', 'torch-2T']);
      const [oneThread, twoThreads] = run.variants as [typeof run.variants[0], typeof run.variants[0]];
      expect(twoThreads.runsMs).toEqual([2, 4, 6]);
      expect(oneThread.faults).toEqual([0, 2, 4]);
      for (const [name, input] of Object.entries(workload.inputs)) {
        expect(Array.from(oneThread.results[`twice.${name}`]!), name).toEqual(Array.from(input.data, (value) => 2 * value));
      }
      expect(Array.from(oneThread.results['labels']!)).toEqual(Array.from(workload.labels!));
      const w5 = await system.run(makeWorkload('W5', quickSizes), { runs: 2, budgetMs: 4000, quick: true });
      expect(w5.skipped).toEqual([{ name: 'torch-onednn', note: 'fake: no oneDNN' }]);
      expect(w5.variants[0]!.runsMs).toHaveLength(2);
    } finally {
      await system.shutdown();
    }
  });

  it('turns an error reply, an exiting child and a child without torch into clear errors', async () => {
    const failing = await torchSystem(fake('error'));
    await expect(failing.run(makeWorkload('W1', quickSizes), { runs: 3, budgetMs: 100, quick: true })).rejects.toThrow('torch W1: RuntimeError: cannot run W1');
    await failing.shutdown();
    const exiting = await torchSystem(fake('exit'));
    await expect(exiting.run(makeWorkload('W1', quickSizes), { runs: 3, budgetMs: 100, quick: true })).rejects.toThrow(/torch: exited \(code 3\): fake child: giving up/);
    await exiting.shutdown();
    await expect(torchSystem(fake('no-ready'))).rejects.toThrow(/torch: replied with a line that is not JSON: Traceback: ModuleNotFoundError/);
    await expect(torchSystem({ command: '/nonexistent/python3' })).rejects.toThrow(/torch: (could not start|exited)/);
  });

  it('encodes inputs back to back and labels last; decodes float64 outputs and rejects offsets outside the file', () => {
    const workload = makeWorkload('W7b', quickSizes);
    const { bytes, inputs, labels } = encodeWorkloadData(workload);
    const inputBytes = Object.values(workload.inputs).reduce((sum, input) => sum + input.data.byteLength, 0);
    expect(labels).toEqual({ offset: inputBytes, length: 2 });
    expect(bytes.byteLength).toBe(inputBytes + 8);
    expect(inputs['conv1.weight']!.shape).toEqual([4, 1, 3, 3]);
    const outputs = Buffer.from(new Float64Array([1, 2, 3]).buffer);
    const reply = { ok: true, variants: [{ name: 'torch-1T', threads: 1, dtype: 'float32', firstMs: 1, warmups: 1, runsMs: [1], faults: [0], outputs: { y: { offset: 8, length: 2 } } }] };
    expect(Array.from(decodeRun(reply, outputs, 'torch').variants[0]!.results['y']!)).toEqual([2, 3]);
    const outside = { ...reply, variants: [{ ...reply.variants[0], outputs: { y: { offset: 16, length: 2 } } }] };
    expect(() => decodeRun(outside, outputs, 'torch')).toThrow('torch: torch-1T output y lies outside the output file (24 bytes)');
    expect(() => decodeRun({ ok: true, variants: [{ ...reply.variants[0], runsMs: 'fast' }] }, outputs, 'torch')).toThrow('torch-1T runsMs is not an array of numbers');
  });
});

describe('skipped columns say why', () => {
  it('without torch the PyTorch columns are skipped with a note; a fake child fills them and disagrees visibly', async () => {
    const options = parseOptions(['--quick', '--only', 'W1', '--systems', 'normgrad,torch']);
    const missing = await runBench(options, () => {}, { loadExternal: () => Promise.reject(new Error('/usr/bin/python3: No module named torch')) });
    expect(missing.systems).toContainEqual({ name: 'torch', available: false, note: 'PyTorch columns skipped: /usr/bin/python3: No module named torch' });
    const markdown = renderMarkdown(missing);
    expect(markdown).toContain('- torch unavailable: PyTorch columns skipped: /usr/bin/python3: No module named torch');
    expect(markdown).not.toContain('torch-1T');

    const faked = await runBench(options, () => {}, { loadExternal: () => torchSystem(fake('ok')) });
    const torchCell = faked.cells.find((cell) => cell.system === 'torch-2T')!;
    expect(torchCell).toMatchObject({ status: 'ok', medianMs: 4, meanMs: 4, faultsPerIteration: 2, agrees: false });
    expect(torchCell.vsNormgrad!.missing).toEqual(['y', 'dx', 'dgamma', 'dbeta']); // the fake returns other names
    expect(renderMarkdown(faked)).toMatch(/^\| W1 \| BatchNorm2d fwd\+bwd \| .* \| 2\.00 \| 4\.00 \| – \| – \| .*$/m);
  });
});
