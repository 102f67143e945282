import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseStudyArgs } from '../src/study/options.js';
import { runStudy, type StudyResult } from '../src/study/run-study.js';

const out = mkdtempSync(join(tmpdir(), 'normgrad-study-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('the study in --quick mode', () => {
  let log = '';
  let study: StudyResult;

  it('runs within a minute', () => {
    const options = parseStudyArgs(['--quick', '--out', out])!;
    study = runStudy(options, { write: (text) => void (log += text), isTTY: false });
    expect(study.results).toHaveLength(options.norms.length * options.batchSizes.length);
  });

  it('trains: the loss falls and test accuracy is far above chance (10%)', () => {
    for (const result of study.results) {
      const label = `${result.norm} batch ${result.batchSize}`;
      const first = result.lossCurve.slice(0, 3).reduce((total, point) => total + point.value, 0) / 3;
      expect(first, label).toBeGreaterThan(1.9); // about ln(10) = 2.3 at the start
      expect(result.finalTrainLoss, label).toBeLessThan(first * 0.75);
      expect(result.testAccuracy, label).toBeGreaterThan(0.4);
      expect(result.accuracyCurve.at(-1)!.value, label).toBeGreaterThan(result.accuracyCurve[0]!.value);
      expect(result.examplesPerSecond, label).toBeGreaterThan(0);
    }
  });

  it('prints plain progress lines (not a TTY), the table, and names the output folder', () => {
    expect(log).not.toContain('\r');
    expect(log).toMatch(/\[1\/6\] no norm +batch 32 .* 100%  step 40\/40  loss \d\.\d{3}  acc +\d+\.\d%  +\d+ ex\/s/);
    expect(log).toMatch(/normalization +batch size +final train loss +test accuracy +train time +examples\/s/);
    expect(log).toContain(`Wrote ${study.files.length} files to ${out}`);
  });

  it('writes the Markdown table, the JSON results and the DOT graphs', () => {
    const markdown = readFileSync(join(out, 'results.md'), 'utf8');
    expect(markdown).toContain('| normalization | batch size | final train loss | test accuracy | train time | examples/s |');
    for (const result of study.results) expect(markdown).toMatch(new RegExp(`\\| ${result.normLabel} \\| ${result.batchSize} \\| \\d\\.\\d{3} \\| \\d+\\.\\d% \\|`));
    expect(markdown).toContain('![Test accuracy, batch size 2](accuracy-batch-2.svg)');
    expect(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).results).toHaveLength(6);
    const dot = readFileSync(join(out, 'batch-forward.dot'), 'utf8');
    expect(dot).toMatch(/^digraph batch \{/);
    expect(dot).toContain('input\\n[2, 8, 4, 4] float32\\nrequires grad');
    expect(existsSync(join(out, 'group-forward.dot'))).toBe(true);
  });

  it('writes one loss and one accuracy SVG per batch size, each with a line and legend entry per norm', () => {
    for (const name of ['loss-batch-32.svg', 'accuracy-batch-32.svg', 'loss-batch-2.svg', 'accuracy-batch-2.svg']) {
      const svg = readFileSync(join(out, name), 'utf8');
      expect(svg.trimStart().startsWith('<svg xmlns="http://www.w3.org/2000/svg"'), name).toBe(true);
      expect(svg.trimEnd().endsWith('</svg>'), name).toBe(true);
      // well-formed enough: every element opened is closed or self-closing
      const opened = (svg.match(/<(svg|text)\b/g) ?? []).length;
      const closed = (svg.match(/<\/(svg|text)>/g) ?? []).length;
      expect(opened, name).toBe(closed);
      const lines = [...svg.matchAll(/<polyline data-series="([^"]+)"[^>]* points="([^"]+)"\/>/g)];
      expect(lines.map((match) => match[1]), name).toEqual(['no norm', 'BatchNorm', 'GroupNorm']);
      for (const match of lines) {
        const points = match[2]!.split(' ').map((pair) => pair.split(',').map(Number));
        expect(points.length, name).toBeGreaterThan(2);
        expect(points.flat().every(Number.isFinite), name).toBe(true);
      }
      expect(svg).toMatch(/<text[^>]*>epochs<\/text>/);
    }
  });
});
