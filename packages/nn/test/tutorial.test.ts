/**
 * Runs every ```ts block of docs/tutorial-custom-norm.md (and docs/norms/research-variants.md):
 * each block is written to test/.tutorial-tmp/ as a module and imported, so a block that throws
 * or imports a missing name fails. `@normgrad/nn` is pointed at this package's source.
 * (packages/examples/test/docs.test.ts runs all docs blocks too; this keeps nn's pages covered
 * by nn's own tests.)
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..', '..');
const tempDir = join(here, '.tutorial-tmp');
const pages = ['docs/tutorial-custom-norm.md', 'docs/norms/research-variants.md'];

function tsBlocks(markdown: string): { line: number; code: string }[] {
  const blocks: { line: number; code: string }[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i]!)) continue;
    let end = i + 1;
    while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end++;
    blocks.push({ line: i + 1, code: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return blocks;
}

rmSync(tempDir, { recursive: true, force: true });
mkdirSync(tempDir, { recursive: true });
afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

describe.each(pages)('%s', (page) => {
  const blocks = tsBlocks(readFileSync(join(repoRoot, page), 'utf8'));

  it('has ts blocks', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(1);
  });

  it.each(blocks.map((block) => [block.line, block] as const))('block at line %i runs', async (_, block) => {
    const file = join(tempDir, `${page.replace(/[^A-Za-z0-9]+/g, '-')}-${block.line}.ts`);
    const code = block.code.replaceAll("from '@normgrad/nn'", "from '../../src/index.js'");
    writeFileSync(file, `${code}\nexport {};\n`);
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await import(file);
    } finally {
      log.mockRestore();
    }
  }, 60_000);
});
