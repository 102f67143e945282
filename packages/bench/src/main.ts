#!/usr/bin/env node
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runBench } from './harness.js';
import { parseOptions } from './options.js';
import { renderMarkdown } from './report.js';

/** bench/results/ at the repository root (untracked; see .gitignore). */
const resultsDirectory = fileURLToPath(new URL('../../../bench/results/', import.meta.url));

async function main(argv: readonly string[]): Promise<void> {
  let options;
  try {
    options = parseOptions(argv);
  } catch (error) {
    console.error((error as Error).message);
    process.exitCode = 2;
    return;
  }
  const systems = options.systems ? ` on ${options.systems.join(', ')}` : '';
  console.error(`bench: ${options.only.join(', ')}${systems}${options.quick ? ' (quick)' : ''}${options.peers ? '' : ' (no peers)'}${options.torch ? '' : ' (no torch)'}, at most ${options.runs} timed runs per cell`);
  const started = performance.now();
  const result = await runBench(options, (line) => console.error(`  [${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`));
  const markdown = renderMarkdown(result);
  console.log(`\n${markdown}`);
  mkdirSync(resultsDirectory, { recursive: true });
  const stamp = result.startedAt.replace(/[:.]/g, '-');
  const json = `${JSON.stringify(result, null, 2)}\n`;
  for (const name of [stamp, 'latest']) {
    writeFileSync(`${resultsDirectory}${name}.json`, json);
    writeFileSync(`${resultsDirectory}${name}.md`, `${markdown}\n`);
  }
  console.error(`bench: wrote ${resultsDirectory}${stamp}.{json,md} and latest.{json,md}`);
}

await main(process.argv.slice(2));
