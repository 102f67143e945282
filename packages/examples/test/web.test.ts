// The browser page (packages/examples/web/) in a real browser: Debian's headless Chromium, driven
// by playwright-core, loads the page from 127.0.0.1 under its Content-Security-Policy, trains, and
// the losses and final logits must equal Node's run of the same code on the same seed.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainSpirals, type SpiralTrainingResult } from '../src/web-training.js';
// @ts-expect-error: a plain JavaScript module without declarations
import { buildPage, servePage } from '../web/server.mjs';

const chromiumPath = '/usr/bin/chromium';

describe('the browser page', () => {
  let server: Server;
  let url: string;
  let context: BrowserContext;
  let userDataDir: string;
  let bundleBytes: number;

  beforeAll(async () => {
    if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: apt-get install -y chromium (.ci/run does)`);
    bundleBytes = await buildPage();
    ({ server, url } = await servePage(0));
    userDataDir = mkdtempSync(join(tmpdir(), 'normgrad-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await new Promise((resolve) => server?.close(resolve));
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  it('trains in Chromium under its Content-Security-Policy: the loss falls and every value equals Node\'s', async () => {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
    await page.goto(url);
    // until the page has a result, or an error stopped its script (e.g. a policy that blocks eval)
    const finished = () => page.evaluate(() => (window as unknown as { normgradResult?: unknown }).normgradResult !== undefined);
    for (const start = Date.now(); problems.length === 0 && !(await finished()); ) {
      if (Date.now() - start > 60_000) throw new Error('the page did not finish training within 60 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(problems).toEqual([]);
    const result = (await page.evaluate(() => (window as unknown as { normgradResult: unknown }).normgradResult)) as { status: string; message?: string } & SpiralTrainingResult;
    const violations = await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations);
    const hasWasm = await page.evaluate(() => typeof WebAssembly === 'object');
    const status = await page.textContent('#status');
    console.log(`bundle ${(bundleBytes / 1024).toFixed(0)} KiB; page: ${status}`);
    expect(result.message ?? '').toBe('');
    expect(result.status).toBe('done');
    expect(problems).toEqual([]);
    expect(violations).toEqual([]);
    expect(hasWasm).toBe(true);

    expect(result.losses).toHaveLength(60);
    expect(result.losses.at(-1)!).toBeLessThan(0.5 * result.losses[0]!);
    const node = trainSpirals({ steps: 60, seed: 0 });
    expect(result.losses).toEqual(node.losses);
    expect(result.logits).toEqual(node.logits);
    expect(result.accuracy).toBe(node.accuracy);
    expect(result.normGraph).toBe(node.normGraph);
    expect(result.reloadedEqual).toBe(true);
    expect(result.safetensorsBytes).toBe(node.safetensorsBytes);
    expect(result.normGraph).toMatch(/^digraph BatchNorm1d \{/);
    // the page drew the curve: the canvas is not blank
    const painted = await page.evaluate(() => {
      const canvas = document.getElementById('loss') as HTMLCanvasElement;
      const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let count = 0;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) count++;
      return count;
    });
    expect(painted).toBeGreaterThan(500);
  }, 90_000);
});
