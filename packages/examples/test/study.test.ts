// The study in --quick mode: every experiment runs, trains, and writes its files; then report.html
// is opened in Debian's headless Chromium (driven by playwright-core, as in web.test.ts) and every
// figure must have rendered with all its series.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { EXPERIMENTS, parseStudyArgs } from '../src/study/options.js';
import { runStudy, type StudyResult } from '../src/study/run-study.js';

const out = mkdtempSync(join(tmpdir(), 'normgrad-study-'));
/** The screenshot goes to a gitignored folder of the package, to look at after a run. */
const screenshotPath = join(dirname(fileURLToPath(import.meta.url)), '..', 'test-results', 'study-report.png');
const chromiumPath = '/usr/bin/chromium';
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('the study in --quick mode', () => {
  let log = '';
  let study: StudyResult;
  const experiment = (key: string) => study.experiments.find((e) => e.key === key)!;

  it('runs every experiment', () => {
    const options = parseStudyArgs(['--quick', '--out', out])!;
    study = runStudy(options, { write: (text) => void (log += text), isTTY: false });
    expect(study.experiments.map((e) => e.key)).toEqual([...EXPERIMENTS]);
    console.log(`--quick: wall ${study.wallSeconds.toFixed(1)} s, CPU ${study.cpuSeconds.toFixed(1)} s`);
  }, 400_000);

  it('trains: in the speed experiment the loss falls and test accuracy is above chance (10%) for every norm and seed', () => {
    const data = experiment('speed').data as { runs: { norm: string; results: { seed: number; lossCurve: { value: number }[]; finalTrainLoss: number; testAccuracy: number }[] }[] };
    expect(data.runs.map((r) => r.norm)).toEqual(['none', 'batch', 'group']);
    for (const { norm, results } of data.runs) {
      expect(results.map((r) => r.seed)).toEqual([0, 1, 2]);
      for (const result of results) {
        const label = `${norm} seed ${result.seed}`;
        expect(result.lossCurve[0]!.value, label).toBeGreaterThan(1.9); // about ln(10) = 2.3 at the start
        expect(result.finalTrainLoss, label).toBeLessThan(result.lossCurve[0]!.value * 0.85);
        expect(result.testAccuracy, label).toBeGreaterThan(0.3);
      }
    }
  });

  it('reports every number with its 95% interval, and findings built from them', () => {
    for (const report of study.experiments) {
      expect(report.findings.length, report.key).toBeGreaterThan(0);
      expect(report.claim, report.key).toMatch(/https:\/\/arxiv\.org\/abs\/\d{4}\.\d{5}/);
      expect(report.setup, report.key).toContain('3 seeds (0, 1, 2)');
      for (const table of report.tables) {
        for (const row of table.rows) {
          const numeric = row.slice(1).filter((cell) => /^-?\d/.test(cell) && !/^\d+\/\d+$/.test(cell) && !/^[\d.]+$/.test(cell));
          for (const cell of numeric) expect(cell, `${report.key}: ${row[0]}`).toMatch(/^-?[\d.]+%? \[-?[\d.]+, -?[\d.]+\]/);
        }
      }
      // findings compare measured numbers, so some carry intervals (others count diverged seeds)
      expect(report.findings.filter((finding) => /\[-?[\d.]+, -?[\d.]+\]/.test(finding)).length, report.key).toBeGreaterThan(0);
    }
    const curvature = experiment('curvature').data as { densitySteps: number[]; results: Record<string, { densities: { quadrature: { nodes: number[]; weights: number[] } }[] }[]> };
    for (const records of Object.values(curvature.results)) {
      for (const record of records) {
        expect(record.densities).toHaveLength(curvature.densitySteps.length);
        for (const { quadrature } of record.densities) {
          expect(quadrature.nodes).toHaveLength(20); // --quick: 20 Lanczos steps
          expect(quadrature.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
        }
      }
    }
  });

  it('prints plain progress lines (not a TTY), the tables, and names the output folder', () => {
    expect(log).not.toContain('\r');
    expect(log).toMatch(/speed \[1\/9\] no norm +seed 0 .* 100%  step 30\/30  loss \d\.\d{3}  acc +\d+\.\d%  +\d+ ex\/s/);
    expect(log).toMatch(/curvature \[6\/6\] BatchNorm +float64 SGD lr 0\.1 seed 2 +100%/);
    expect(log).toMatch(/normalization +accuracy at 0\.\d{3} epoch +final test accuracy +final train loss +examples\/s/);
    expect(log).toContain(`Wrote ${study.files.length} files to ${out}`);
  });

  it('writes report.html (self-contained), results.md, results.json, one SVG per figure and the DOT graphs', () => {
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).not.toMatch(/<script|<link|<img|\bsrc=|url\(/);
    const figures = study.experiments.flatMap((e) => e.figures);
    expect(figures.length).toBe(11);
    for (const figure of figures) {
      expect(html).toContain(`<figure data-figure="${figure.id}"`);
      const svg = readFileSync(join(out, `${figure.id}.svg`), 'utf8');
      expect(svg.trimStart().startsWith('<svg xmlns="http://www.w3.org/2000/svg"'), figure.id).toBe(true);
      expect((svg.match(/<(svg|text)\b/g) ?? []).length, figure.id).toBe((svg.match(/<\/(svg|text)>/g) ?? []).length);
    }
    const markdown = readFileSync(join(out, 'results.md'), 'utf8');
    for (const report of study.experiments) expect(markdown).toContain(`## ${report.title} (\`${report.key}\`)`);
    expect(markdown).toContain('![small-batch-accuracy](small-batch-accuracy.svg)');
    expect(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).experiments).toHaveLength(5);
    expect(readFileSync(join(out, 'batch-forward.dot'), 'utf8')).toMatch(/^digraph batch \{/);
    expect(existsSync(join(out, 'group-forward.dot'))).toBe(true);
  });

  describe('report.html in headless Chromium', () => {
    let browser: Browser;
    afterAll(async () => browser?.close());

    it('renders every figure with all of its series, bands and markers', async () => {
      if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: apt-get install -y chromium (.ci/run does)`);
      browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      const requests: string[] = [];
      page.on('request', (request) => void (!request.url().startsWith('file:') && requests.push(request.url())));
      await page.goto(pathToFileURL(join(out, 'report.html')).href);
      const figures = await page.$$eval('figure[data-figure]', (elements) =>
        elements.map((figure) => {
          const svg = figure.querySelector('svg');
          const box = svg?.getBoundingClientRect();
          return {
            id: figure.getAttribute('data-figure')!,
            expected: JSON.parse(figure.getAttribute('data-series')!) as string[],
            width: box?.width ?? 0,
            height: box?.height ?? 0,
            drawn: [...figure.querySelectorAll('polyline[data-series]')].map((line) => ({
              name: line.getAttribute('data-series')!,
              points: (line as SVGPolylineElement).points.numberOfItems,
              markers: figure.querySelector(`g[data-markers="${CSS.escape(line.getAttribute('data-series')!)}"]`)?.childElementCount ?? 0,
            })),
            bands: figure.querySelectorAll('polygon[data-band]').length,
            caption: figure.querySelector('figcaption')?.textContent ?? '',
          };
        }),
      );
      mkdirSync(dirname(screenshotPath), { recursive: true });
      await page.screenshot({ path: screenshotPath, fullPage: true });
      expect(requests).toEqual([]);
      expect(figures.map((f) => f.id)).toEqual(study.experiments.flatMap((e) => e.figures.map((figure) => figure.id)));
      for (const figure of figures) {
        expect(figure.width, figure.id).toBeGreaterThan(300);
        expect(figure.height, figure.id).toBeGreaterThan(200);
        expect(figure.drawn.map((d) => d.name), figure.id).toEqual(figure.expected);
        for (const drawn of figure.drawn) {
          expect(drawn.points, `${figure.id}: ${drawn.name}`).toBeGreaterThan(0);
          expect(drawn.markers, `${figure.id}: ${drawn.name}`).toBeGreaterThan(0);
        }
        // a band needs two points with an interval (in --quick, lr 3 diverges and leaves single points)
        if (figure.drawn.some((drawn) => drawn.points >= 2)) expect(figure.bands, figure.id).toBeGreaterThan(0);
        expect(figure.caption, figure.id).toMatch(/3 seeds/);
      }
      expect(existsSync(screenshotPath)).toBe(true);
    }, 60_000);
  });
});
