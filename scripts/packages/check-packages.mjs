// Installs the published packages as a user would and uses them: packs core, nn, optim, testing
// and io with `pnpm pack`, installs the tarballs with npm into a fresh project in a temporary
// directory (their own dependencies come from the registry), runs a JavaScript program on them
// and type-checks TypeScript that uses them (strict, skipLibCheck false) under module nodenext
// and under moduleResolution bundler. Needs a build first (`tsc -b`); `.ci/run` calls it after the tests.
//   node scripts/packages/check-packages.mjs [--keep]
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const here = dirname(fileURLToPath(import.meta.url));
const packages = ['core', 'nn', 'optim', 'testing', 'io'];
const keep = process.argv.includes('--keep');
const started = Date.now();
const work = mkdtempSync(join(tmpdir(), 'normgrad-packages-'));
const problems = [];

function run(command, args, cwd) {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });
}

function step(name, action) {
  const start = Date.now();
  try {
    const result = action();
    console.log(`ok   ${name} (${((Date.now() - start) / 1000).toFixed(1)} s)`);
    return result;
  } catch (error) {
    const output = [error.stdout, error.stderr].filter(Boolean).join('\n').trim();
    problems.push(name);
    console.log(`FAIL ${name}\n${output || error.stack}`);
    return undefined;
  }
}

try {
  const tarballs = join(work, 'tarballs');
  mkdirSync(tarballs);
  step('pnpm pack', () => {
    for (const name of packages) {
      if (!existsSync(join(repo, 'packages', name, 'dist', 'index.js'))) throw new Error(`packages/${name}/dist is missing: build first (tsc -b)`);
    }
    run('pnpm', ['-r', ...packages.flatMap((name) => ['--filter', `./packages/${name}`]), 'pack', '--pack-destination', tarballs], repo);
  });
  const files = readdirSync(tarballs).sort();
  for (const file of files) console.log(`     ${file}: ${(statSync(join(tarballs, file)).size / 1024).toFixed(1)} KiB`);

  step('tarball contents: LICENSE, README.md, dist; no repository-only export condition', () => {
    for (const file of files) {
      const listing = run('tar', ['tzf', join(tarballs, file)], work).split('\n');
      for (const needed of ['package/LICENSE', 'package/README.md', 'package/dist/index.js', 'package/dist/index.d.ts']) {
        if (!listing.includes(needed)) throw new Error(`${file} has no ${needed}`);
      }
      const manifest = run('tar', ['xzOf', join(tarballs, file), 'package/package.json'], work);
      if (manifest.includes('@normgrad/source') || manifest.includes('workspace:')) throw new Error(`${file}: package.json still names @normgrad/source or workspace:\n${manifest}`);
    }
  });

  const project = join(work, 'project');
  mkdirSync(project);
  const dependencies = Object.fromEntries(packages.map((name) => [`@normgrad/${name}`, `file:${join(tarballs, files.find((f) => f.startsWith(`normgrad-${name}-`)))}`]));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'normgrad-user', private: true, type: 'module', dependencies }, null, 2));
  step('npm install of the tarballs into a fresh project', () => run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts'], project));
  step('installed dependencies: no vitest or vite (an optional peer of @normgrad/testing only)', () => {
    const installed = run('npm', ['ls', '--all', '--parseable'], project).split('\n').filter(Boolean).map((path) => path.slice(project.length + 1)).filter(Boolean);
    console.log(`     ${installed.length} packages installed: ${installed.map((path) => path.replace(/^node_modules\//, '')).filter((path) => !path.includes('node_modules')).join(', ')}`);
    for (const unwanted of ['node_modules/vitest', 'node_modules/vite']) if (installed.includes(unwanted)) throw new Error(`${unwanted} was installed`);
  });

  cpSync(join(here, 'user-project'), project, { recursive: true });
  // The README's quick start, type-checked as a user's file.
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const quickStart = readme.split('## Quick start')[1]?.match(/```ts\n([\s\S]*?)```/)?.[1];
  if (quickStart === undefined) problems.push('README.md has no ```ts block under "## Quick start"');
  else writeFileSync(join(project, 'quick-start.ts'), quickStart);

  step('node use.mjs: tensors, BatchNorm2d forward and backward, Adam, gradcheck, checkVjp, safetensors save and load', () => {
    console.log(run(process.execPath, ['use.mjs'], project).trim().replace(/^/gm, '     '));
  });
  const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
  step('tsc strict, skipLibCheck false, module nodenext', () => run(process.execPath, [tsc, '-p', 'tsconfig.nodenext.json'], project));
  step('tsc strict, skipLibCheck false, moduleResolution bundler', () => run(process.execPath, [tsc, '-p', 'tsconfig.bundler.json'], project));
  step('node quick-start.ts (type-stripped by tsc)', () => {
    run(process.execPath, [tsc, '-p', 'tsconfig.nodenext.json', '--noEmit', 'false', '--outDir', 'out'], project);
    console.log(run(process.execPath, [join('out', 'quick-start.js')], project).trim().replace(/^/gm, '     '));
  });
} finally {
  if (keep) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
console.log(`${problems.length === 0 ? 'packages: all checks passed' : `packages: ${problems.length} check(s) failed: ${problems.join('; ')}`} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
process.exit(problems.length === 0 ? 0 : 1);
