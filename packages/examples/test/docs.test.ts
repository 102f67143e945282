/**
 * Runs every ```ts block of docs/**\/*.md and of the root README.md: each block is written to
 * test/.docs-tmp/ as its own module and imported (vitest transpiles it), so a block that throws,
 * or imports a name that does not exist, fails its test. console output of the blocks is captured,
 * and what a one-line `console.log(...)` prints is compared with the comment on its line when the
 * comment states a value (see `expectedOutput`): `// [2, 4, 6]` must match what is printed
 * (spacing aside), `// ≈ 3` must match within 1e-3 (relative above 1), `` // `any text` `` must
 * match the text in backticks (spacing aside); text after ` — ` explains
 * and is not compared; a comment that starts with other words is prose and is not compared.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
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

/** How a console.log argument prints, arrays as `[1, 2]` (what the docs' comments write). */
function printed(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return `[${value.map(printed).join(', ')}]`;
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  return inspect(value, { depth: 4, breakLength: Infinity });
}

export interface Expectation {
  approximate: boolean;
  text: string;
}

/**
 * The value a comment states, or null for prose: the text before ` — `, when it starts like a
 * value (a number, `[`, `{`, a quote, true/false/null/NaN/Infinity, or `≈` and a number) or is
 * text in backticks.
 */
export function expectedOutput(comment: string): Expectation | null {
  const text = comment.split(' — ')[0]!.trim();
  if (/^≈\s*[-\d[]/.test(text)) return { approximate: true, text: text.replace(/^≈\s*/, '') };
  if (/^`[^`]+`$/.test(text)) return { approximate: false, text: text.slice(1, -1) };
  if (/^([-\d[{'"`]|true\b|false\b|null\b|NaN\b|-?Infinity\b)/.test(text)) return { approximate: false, text };
  return null;
}

const numberPattern = /-?(?:\d+\.?\d*(?:e[-+]?\d+)?|Infinity)|NaN/gi;

/** Whether the printed line matches the expectation: exactly (spacing aside) or, for ≈, number by number within 1e-3. */
export function matches(line: string, expectation: Expectation): boolean {
  const squeeze = (text: string) => text.replace(/\s+/g, '');
  if (!expectation.approximate) return squeeze(line) === squeeze(expectation.text);
  const wanted = expectation.text.match(numberPattern)?.map(Number) ?? [];
  const got = line.match(numberPattern)?.map(Number) ?? [];
  if (wanted.length === 0 || got.length !== wanted.length) return false;
  if (squeeze(line.replace(numberPattern, '#')) !== squeeze(expectation.text.replace(numberPattern, '#'))) return false;
  return wanted.every((value, k) => Math.abs(got[k]! - value) <= 1e-3 * Math.max(1, Math.abs(value)));
}

interface DocsCheck {
  lines: string[];
  check(line: number, expectation: Expectation): void;
}

/** The block's code with a check after every one-line console.log whose comment states a value. */
export function instrument(code: string, firstLine: number): { code: string; checks: number } {
  let checks = 0;
  const lines = code.split('\n').map((text, index) => {
    const match = /^(\s*console\.log\(.*\);)\s*\/\/\s?(.*)$/.exec(text);
    const expectation = match ? expectedOutput(match[2]!) : null;
    if (!match || !expectation) return text;
    checks++;
    return `${match[1]} (globalThis as unknown as { __docsCheck: { check(line: number, e: unknown): void } }).__docsCheck.check(${firstLine + 1 + index}, ${JSON.stringify(expectation)});`;
  });
  return { code: lines.join('\n'), checks };
}

const pages = [...markdownFiles(join(repoRoot, 'docs')), join(repoRoot, 'README.md')].sort();
const blocks = pages.flatMap((path) => tsBlocks(readFileSync(path, 'utf8'), relative(repoRoot, path)));

rmSync(tempDir, { recursive: true, force: true });
mkdirSync(tempDir, { recursive: true });
afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

describe('code blocks in the docs', () => {
  it('compares printed values with the comments that state them', () => {
    expect(expectedOutput('[2, 4, 6]')).toEqual({ approximate: false, text: '[2, 4, 6]' });
    expect(expectedOutput('≈ 3 — after 100 steps')).toEqual({ approximate: true, text: '3' });
    expect(expectedOutput('both groups annealed to 0')).toBeNull();
    expect(expectedOutput('`mul(i0,i0)` — the key')).toEqual({ approximate: false, text: 'mul(i0,i0)' });
    expect(matches('[ 2, 4, 6 ]', { approximate: false, text: '[2, 4, 6]' })).toBe(true);
    expect(matches('[2, 4, 7]', { approximate: false, text: '[2, 4, 6]' })).toBe(false);
    expect(matches('2.9999', { approximate: true, text: '3' })).toBe(true);
    expect(matches('2.9', { approximate: true, text: '3' })).toBe(false);
    expect(matches('1e-9 true', { approximate: true, text: '0 true' })).toBe(true);
    expect(instrument('const a = 1;\nconsole.log(a); // 1\nconsole.log(a); // the value', 10).checks).toBe(1);
  });

  it('finds the blocks of every page (docs/ has ts examples)', () => {
    expect(blocks.length).toBeGreaterThan(10);
    expect(tsBlocks('text\n```ts\nconst a = 1;\n```\n```sh\nls\n```\n', 'x.md')).toEqual([{ page: 'x.md', line: 2, code: 'const a = 1;' }]);
  });

  it.each(blocks.map((block) => [`${block.page}:${block.line}`, block] as const))('%s runs', async (_, block) => {
    const file = join(tempDir, `${block.page.replace(/[^A-Za-z0-9]+/g, '-')}-${block.line}.ts`);
    // `export {}` makes every block a module, so top-level await works and names do not collide.
    const { code } = instrument(block.code, block.line);
    writeFileSync(file, `${code}\nexport {};\n`);
    const lines: string[] = [];
    const mismatches: string[] = [];
    const docsCheck: DocsCheck = {
      lines,
      check(line, expectation) {
        const last = lines[lines.length - 1] ?? '(nothing printed)';
        if (!matches(last, expectation)) mismatches.push(`${block.page}:${line}: printed ${last}, the comment says ${expectation.approximate ? '≈ ' : ''}${expectation.text}`);
      },
    };
    (globalThis as unknown as { __docsCheck: DocsCheck }).__docsCheck = docsCheck;
    const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      lines.push(args.map(printed).join(' '));
    });
    try {
      await import(/* @vite-ignore */ file);
    } finally {
      log.mockRestore();
    }
    expect(mismatches).toEqual([]);
  });
});
