/**
 * Runs every ```ts block of docs/**\/*.md and of the root README.md: each block is written to
 * test/.docs-tmp/ as its own module and imported (vitest transpiles it), so a block that throws,
 * or imports a name that does not exist, fails its test. console output of the blocks is captured.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const tempDir = join(dirname(fileURLToPath(import.meta.url)), '.docs-tmp');

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return markdownFiles(path);
    return entry.name.endsWith('.md') ? [path] : [];
  });
}

interface CodeBlock {
  page: string;
  line: number;
  code: string;
}

/** The ```ts (or ```typescript) fenced blocks of a Markdown file, with their starting line numbers. */
export function tsBlocks(markdown: string, page: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i]!)) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end++;
    if (end === lines.length) throw new Error(`${page}:${i + 1}: unterminated code block`);
    blocks.push({ page, line: i + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return blocks;
}

const pages = [...markdownFiles(join(repoRoot, 'docs')), join(repoRoot, 'README.md')].sort();
const blocks = pages.flatMap((path) => tsBlocks(readFileSync(path, 'utf8'), relative(repoRoot, path)));

rmSync(tempDir, { recursive: true, force: true });
mkdirSync(tempDir, { recursive: true });
afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

describe('code blocks in the docs', () => {
  it('finds the blocks of every page (docs/ has ts examples)', () => {
    expect(blocks.length).toBeGreaterThan(10);
    expect(tsBlocks('text\n```ts\nconst a = 1;\n```\n```sh\nls\n```\n', 'x.md')).toEqual([{ page: 'x.md', line: 2, code: 'const a = 1;' }]);
  });

  it.each(blocks.map((block) => [`${block.page}:${block.line}`, block] as const))('%s runs', async (_, block) => {
    const file = join(tempDir, `${block.page.replace(/[^A-Za-z0-9]+/g, '-')}-${block.line}.ts`);
    // `export {}` makes every block a module, so top-level await works and names do not collide.
    writeFileSync(file, `${block.code}\nexport {};\n`);
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await import(/* @vite-ignore */ file);
    } finally {
      log.mockRestore();
    }
  });
});
