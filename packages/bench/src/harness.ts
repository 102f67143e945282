import { compareResults, type Agreement } from './compare.js';
import { runLeakCheck, type LeakCheck } from './leak.js';
import { systemSelected, type BenchOptions } from './options.js';
import { collectGarbage, collectGarbageAndSettle, mean, median, minorPageFaults, plannedRuns, rotated, wantsWarmup } from './stats.js';
import { jaxSystem } from './systems/jax.js';
import { normgradCompiledSystem, normgradHvpSystem, normgradSystem, normgradVmapCompiledSystem, normgradVmapSystem } from './systems/normgrad.js';
import type { Case, Results, System } from './systems/system.js';
import { tfjsSystem } from './systems/tfjs.js';
import { torchSystem, type ExternalSystem, type ExternalVariant } from './systems/torch.js';
import { fullSizes, makeWorkload, quickSizes, type Workload, type WorkloadId } from './workloads.js';

/** A system whose first iteration takes longer than this is reported but not timed further. */
export const slowLimitMs = 10_000;
/** Timed runs per cell stop adding up beyond this (but never fewer than 3). */
export const cellBudgetMs = 4_000;
export const agreementTolerance = 1e-4;

export type CellStatus = 'ok' | 'skipped' | 'unavailable' | 'error';

export interface Cell {
  system: string;
  workload: WorkloadId;
  status: CellStatus;
  note?: string;
  /** The first (checked) iteration, including any compilation or tracing. */
  firstMs?: number;
  warmups?: number;
  runsMs?: number[];
  medianMs?: number;
  meanMs?: number;
  /** Minor page faults of each timed run, and their mean per iteration. */
  runsFaults?: number[];
  faultsPerIteration?: number;
  /** GFLOP/s or GB/s at the median, when the workload defines a throughput. */
  rate?: number;
  /** Against normgrad float32 (the agreement criterion) and against normgrad float64 (which is closer to exact). */
  vsNormgrad?: Agreement;
  vsFloat64?: Agreement;
  agrees?: boolean;
}

export interface WorkloadInfo {
  id: WorkloadId;
  title: string;
  size: string;
  definition?: string;
  unit?: string;
  throughputExplanation?: string;
}

export interface BenchResult {
  startedAt: string;
  durationS: number;
  quick: boolean;
  environment: { node: string; platform: string; cpu: string; cores: number; loadAverage: number[]; gcExposed: boolean };
  workloads: WorkloadInfo[];
  systems: { name: string; available: boolean; note?: string }[];
  cells: Cell[];
  leakCheck?: LeakCheck;
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error)).split('\n')[0]!;

interface SystemSlot {
  name: string;
  system?: System;
  unavailable?: string;
  /** A system run on this workload only (no cells elsewhere). */
  onlyFor?: WorkloadId;
}

/** Loads the external (PyTorch) system, or says why it is unavailable. */
export type ExternalLoader = () => Promise<ExternalSystem>;

/** Peers load lazily; one that fails to install or initialize becomes an 'unavailable' column. */
async function loadSystems(options: BenchOptions, log: (line: string) => void): Promise<SystemSlot[]> {
  const candidates: SystemSlot[] = [
    { name: 'normgrad', system: normgradSystem('float32') },
    { name: 'normgrad-f64', system: normgradSystem('float64') },
    { name: 'normgrad-compiled', system: normgradCompiledSystem() },
    // W8 only: the Hessian-vector product by reverse-over-reverse, and one gradient (for hvp / gradient)
    { name: 'normgrad-ror', system: normgradHvpSystem('reverse-over-reverse'), onlyFor: 'W8' },
    { name: 'normgrad-gradient', system: normgradHvpSystem('gradient'), onlyFor: 'W8' },
    // W11 only: per-sample gradients by vmap(grad), eager and compiled
    { name: 'normgrad-vmap', system: normgradVmapSystem(), onlyFor: 'W11' },
    { name: 'normgrad-vmap-compiled', system: normgradVmapCompiledSystem(), onlyFor: 'W11' },
  ];
  const slots = candidates.filter((slot) => systemSelected(options, slot.name) && (slot.onlyFor === undefined || options.only.includes(slot.onlyFor)));
  const peers: [string, () => Promise<System>][] = [
    ['tfjs-wasm', () => tfjsSystem('wasm')],
    ['tfjs-cpu', () => tfjsSystem('cpu')],
    ['jax-js', () => jaxSystem()],
  ];
  for (const [name, load] of peers) {
    if (!systemSelected(options, name)) continue;
    try {
      slots.push({ name, system: await load() });
    } catch (error) {
      log(`${name}: unavailable (${errorText(error)})`);
      slots.push({ name, unavailable: errorText(error) });
    }
  }
  return slots;
}

async function timeOnce(run: () => void | Promise<void>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

const bytesPerElementOf = (system: string): number => (system.endsWith('f64') ? 8 : 4);

/** Median, mean, faults per iteration and throughput of a cell's timed runs. */
export function summarize(cell: Cell, workload: Pick<Workload, 'throughput'>): Cell {
  const runs = cell.runsMs ?? [];
  cell.medianMs = median(runs);
  cell.meanMs = mean(runs);
  if (cell.runsFaults) cell.faultsPerIteration = mean(cell.runsFaults);
  if (workload.throughput && runs.length > 0) cell.rate = workload.throughput.perIteration(bytesPerElementOf(cell.system)) / (cell.medianMs * 1e6);
  return cell;
}

/** Agreement of a cell's first results with normgrad float32 (the criterion) and float64. */
export function judge(cell: Cell, results: Results, references: Map<string, Results>): void {
  const reference = references.get('normgrad');
  const float64Reference = references.get('normgrad-f64');
  if (reference && cell.system !== 'normgrad') cell.vsNormgrad = compareResults(results, reference);
  if (float64Reference && cell.system !== 'normgrad-f64') cell.vsFloat64 = compareResults(results, float64Reference);
  if (cell.vsNormgrad) cell.agrees = cell.vsNormgrad.maxRelError < agreementTolerance && cell.vsNormgrad.missing.length === 0;
}

interface Contender {
  cell: Cell;
  benchCase: Case;
  plannedRuns: number;
}

/**
 * Measures every in-process system on one workload: each runs its checked first iteration and its
 * warm-up, then all are timed in rotated rounds (round r starts with the r-th system), a forced GC
 * and its settling time (collectGarbageAndSettle) before each timed run, page faults counted per run.
 */
async function measureInProcess(slots: SystemSlot[], workload: Workload, options: BenchOptions, references: Map<string, Results>): Promise<Cell[]> {
  const cells: Cell[] = [];
  const contenders: Contender[] = [];
  for (const slot of slots) {
    const cell: Cell = { system: slot.name, workload: workload.id, status: 'ok' };
    cells.push(cell);
    if (!slot.system) {
      Object.assign(cell, { status: 'unavailable', note: slot.unavailable ?? 'unavailable' });
      continue;
    }
    const skip = slot.system.skipReason(workload.id);
    if (skip) {
      Object.assign(cell, { status: 'skipped', note: skip });
      continue;
    }
    let benchCase: Case | undefined;
    try {
      benchCase = await slot.system.prepare(workload);
      collectGarbage();
      let results: Results | undefined;
      cell.firstMs = await timeOnce(async () => void (results = await benchCase!.check()));
      if (slot.name === 'normgrad' || slot.name === 'normgrad-f64') references.set(slot.name, results!);
      judge(cell, results!, references);
      results = undefined;
      if (cell.firstMs > slowLimitMs) {
        Object.assign(cell, { status: 'skipped', note: `first iteration took ${(cell.firstMs / 1000).toFixed(1)} s > ${slowLimitMs / 1000} s; not timed` });
        benchCase.dispose();
        continue;
      }
      let estimateMs = cell.firstMs;
      let spentMs = 0;
      cell.warmups = 0;
      while (wantsWarmup(cell.warmups, spentMs, estimateMs, options.quick)) {
        await benchCase.beforeStep?.();
        estimateMs = await timeOnce(() => benchCase!.step());
        spentMs += estimateMs;
        cell.warmups++;
      }
      cell.runsMs = [];
      cell.runsFaults = [];
      contenders.push({ cell, benchCase, plannedRuns: plannedRuns(estimateMs, options.runs, cellBudgetMs) });
    } catch (error) {
      Object.assign(cell, { status: 'error', note: errorText(error) });
      benchCase?.dispose();
    }
  }
  const rounds = Math.max(0, ...contenders.map((contender) => contender.plannedRuns));
  for (let round = 0; round < rounds; round++) {
    for (const contender of rotated(contenders, round)) {
      const { cell, benchCase } = contender;
      if (cell.status !== 'ok' || cell.runsMs!.length >= contender.plannedRuns) continue;
      try {
        await benchCase.beforeStep?.();
        await collectGarbageAndSettle();
        const faults = minorPageFaults();
        cell.runsMs!.push(await timeOnce(() => benchCase.step()));
        cell.runsFaults!.push(minorPageFaults() - faults);
      } catch (error) {
        Object.assign(cell, { status: 'error', note: errorText(error) });
      }
    }
  }
  for (const { cell, benchCase } of contenders) {
    benchCase.dispose();
    if (cell.status === 'ok') summarize(cell, workload);
  }
  return cells;
}

/** The external system's cells for one workload: one per column it measured, skipped or failed. */
async function measureExternal(external: ExternalSystem, workload: Workload, options: BenchOptions, references: Map<string, Results>): Promise<Cell[]> {
  let variants: ExternalVariant[];
  let skipped: { name: string; note: string }[];
  try {
    ({ variants, skipped } = await external.run(workload, { runs: options.runs, budgetMs: cellBudgetMs, quick: options.quick }));
  } catch (error) {
    return [{ system: external.columns[0] ?? 'external', workload: workload.id, status: 'error', note: errorText(error) }];
  }
  const cells = variants.map((variant): Cell => {
    const cell: Cell = {
      system: variant.name, workload: workload.id, status: 'ok',
      firstMs: variant.firstMs, warmups: variant.warmups, runsMs: variant.runsMs, runsFaults: variant.faults,
    };
    judge(cell, variant.results, references);
    return summarize(cell, workload);
  });
  return [...cells, ...skipped.map((entry): Cell => ({ system: entry.name, workload: workload.id, status: 'skipped', note: entry.note }))];
}

export interface RunBenchDependencies {
  /** The PyTorch system (default: torchSystem() with /usr/bin/python3); tests pass a fake child. */
  loadExternal?: ExternalLoader;
}

/** Runs the selected workloads on every system in this process (and PyTorch in its child); `log` gets one line per finished cell. */
export async function runBench(options: BenchOptions, log: (line: string) => void = () => {}, dependencies: RunBenchDependencies = {}): Promise<BenchResult> {
  const started = Date.now();
  const os = await import('node:os');
  const result: BenchResult = {
    startedAt: new Date(started).toISOString(),
    durationS: 0,
    quick: options.quick,
    environment: {
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cores: os.cpus().length,
      loadAverage: os.loadavg().map((load) => Math.round(load * 100) / 100),
      gcExposed: typeof (globalThis as { gc?: unknown }).gc === 'function',
    },
    workloads: [],
    systems: [],
    cells: [],
  };
  const sizes = options.quick ? quickSizes : fullSizes;
  // The leak check runs first, while the heap and RSS are still small, so that growth stands out.
  if (options.only.includes('W4') && systemSelected(options, 'normgrad')) {
    result.leakCheck = await runLeakCheck(makeWorkload('W4', sizes), options.leakSteps, options.leakSampleEvery);
    log(`leak check: ${options.leakSteps} W4 steps, RSS ${result.leakCheck.verdict}`);
  }
  const slots = await loadSystems(options, log);
  result.systems = slots.map((slot) => ({ name: slot.name, available: !slot.unavailable, ...(slot.unavailable ? { note: slot.unavailable } : {}) }));
  let external: ExternalSystem | undefined;
  if (systemSelected(options, 'torch')) {
    try {
      external = await (dependencies.loadExternal ?? (() => torchSystem({ command: options.python })))();
      log(`torch: ${external.description}`);
      result.systems.push(...external.columns.map((name) => ({ name, available: true })));
    } catch (error) {
      log(`torch: unavailable (${errorText(error)})`);
      result.systems.push({ name: 'torch', available: false, note: `PyTorch columns skipped: ${errorText(error)}` });
    }
  }
  for (const id of options.only) {
    const workload = makeWorkload(id, sizes);
    result.workloads.push({
      id, title: workload.title, size: workload.size,
      ...(workload.definition ? { definition: workload.definition } : {}),
      ...(workload.throughput ? { unit: workload.throughput.unit, throughputExplanation: workload.throughput.explanation } : {}),
    });
    const references = new Map<string, Results>();
    const cells = await measureInProcess(slots.filter((slot) => slot.onlyFor === undefined || slot.onlyFor === id), workload, options, references);
    if (external) cells.push(...(await measureExternal(external, workload, options, references)));
    for (const cell of cells) {
      result.cells.push(cell);
      log(describeCell(cell));
    }
  }
  for (const slot of slots) await slot.system?.shutdown();
  await external?.shutdown();
  result.durationS = Math.round((Date.now() - started) / 100) / 10;
  return result;
}

function describeCell(cell: Cell): string {
  const head = `${cell.workload} ${cell.system.padEnd(17)}`;
  if (cell.status !== 'ok') return `${head} ${cell.status}${cell.note ? `: ${cell.note}` : ''}`;
  const agreement = cell.vsNormgrad ? `, rel. err. ${cell.vsNormgrad.maxRelError.toExponential(1)} (${cell.vsNormgrad.worst})` : '';
  return `${head} median ${cell.medianMs!.toFixed(2)} ms over ${cell.runsMs!.length} runs (first ${cell.firstMs!.toFixed(0)} ms), ${cell.faultsPerIteration!.toFixed(0)} faults/iter${agreement}`;
}
