import { compareResults, type Agreement } from './compare.js';
import { runLeakCheck, type LeakCheck } from './leak.js';
import type { BenchOptions } from './options.js';
import { collectGarbage, median } from './stats.js';
import { jaxSystem } from './systems/jax.js';
import { normgradHvpSystem, normgradSystem } from './systems/normgrad.js';
import type { Results, System } from './systems/system.js';
import { tfjsSystem } from './systems/tfjs.js';
import { fullSizes, makeWorkload, quickSizes, type Workload, type WorkloadId } from './workloads.js';

/** A system whose first iteration takes longer than this is reported but not timed further. */
export const slowLimitMs = 10_000;
/** Timed runs per cell stop adding up beyond this (but never fewer than minRuns). */
const cellBudgetMs = 4_000;
const minRuns = 3;
export const agreementTolerance = 1e-4;

export type CellStatus = 'ok' | 'skipped' | 'unavailable' | 'error';

export interface Cell {
  system: string;
  workload: WorkloadId;
  status: CellStatus;
  note?: string;
  /** The first (checked) iteration, including any compilation. */
  firstMs?: number;
  warmups?: number;
  runsMs?: number[];
  medianMs?: number;
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

/** Peers load lazily; one that fails to install or initialize becomes an 'unavailable' column. */
async function loadSystems(options: BenchOptions, log: (line: string) => void): Promise<SystemSlot[]> {
  const slots: SystemSlot[] = [
    { name: 'normgrad', system: normgradSystem('float32') },
    { name: 'normgrad-f64', system: normgradSystem('float64') },
    // W8 only: the Hessian-vector product by reverse-over-reverse, and one gradient (for hvp / gradient)
    ...(options.only.includes('W8')
      ? [
          { name: 'normgrad-ror', system: normgradHvpSystem('reverse-over-reverse'), onlyFor: 'W8' as const },
          { name: 'normgrad-gradient', system: normgradHvpSystem('gradient'), onlyFor: 'W8' as const },
        ]
      : []),
  ];
  if (!options.peers) return slots;
  const peers: [string, () => Promise<System>][] = [
    ['tfjs-wasm', () => tfjsSystem('wasm')],
    ['tfjs-cpu', () => tfjsSystem('cpu')],
    ['jax-js', () => jaxSystem()],
  ];
  for (const [name, load] of peers) {
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

async function measureCell(system: System, workload: Workload, options: BenchOptions, references: Map<string, Results>): Promise<Cell> {
  const cell: Cell = { system: system.name, workload: workload.id, status: 'ok' };
  const skip = system.skipReason(workload.id);
  if (skip) return { ...cell, status: 'skipped', note: skip };
  const benchCase = await system.prepare(workload);
  try {
    collectGarbage();
    let results: Results | undefined;
    cell.firstMs = await timeOnce(async () => void (results = await benchCase.check()));
    const reference = references.get('normgrad');
    const float64Reference = references.get('normgrad-f64');
    if (system.name === 'normgrad' || system.name === 'normgrad-f64') references.set(system.name, results!);
    if (reference && system.name !== 'normgrad') cell.vsNormgrad = compareResults(results!, reference);
    if (float64Reference && system.name !== 'normgrad-f64') cell.vsFloat64 = compareResults(results!, float64Reference);
    if (cell.vsNormgrad) cell.agrees = cell.vsNormgrad.maxRelError < agreementTolerance && cell.vsNormgrad.missing.length === 0;
    results = undefined;
    if (cell.firstMs > slowLimitMs) {
      return { ...cell, status: 'skipped', note: `first iteration took ${(cell.firstMs / 1000).toFixed(1)} s > ${slowLimitMs / 1000} s; not timed` };
    }
    // Warm-up: the checked iteration counts as one; fast cells get a few more.
    let estimateMs = cell.firstMs;
    cell.warmups = options.quick ? 1 : estimateMs > 1000 ? 0 : estimateMs > 200 ? 1 : 3;
    for (let i = 0; i < cell.warmups; i++) estimateMs = await timeOnce(() => benchCase.step());
    const runs = Math.max(minRuns, Math.min(options.runs, Math.floor(cellBudgetMs / Math.max(estimateMs, 1e-3))));
    cell.runsMs = [];
    for (let i = 0; i < runs; i++) {
      collectGarbage();
      cell.runsMs.push(await timeOnce(() => benchCase.step()));
    }
    cell.medianMs = median(cell.runsMs);
    if (workload.throughput) {
      const bytesPerElement = system.name === 'normgrad-f64' ? 8 : 4;
      cell.rate = workload.throughput.perIteration(bytesPerElement) / (cell.medianMs * 1e6);
    }
    return cell;
  } finally {
    benchCase.dispose();
  }
}

/** Runs the selected workloads on every system in this process; `log` gets one line per finished cell. */
export async function runBench(options: BenchOptions, log: (line: string) => void = () => {}): Promise<BenchResult> {
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
  if (options.only.includes('W4')) {
    result.leakCheck = await runLeakCheck(makeWorkload('W4', sizes), options.leakSteps, options.leakSampleEvery);
    log(`leak check: ${options.leakSteps} W4 steps, RSS ${result.leakCheck.verdict}`);
  }
  const slots = await loadSystems(options, log);
  result.systems = slots.map((slot) => ({ name: slot.name, available: !slot.unavailable, ...(slot.unavailable ? { note: slot.unavailable } : {}) }));
  for (const id of options.only) {
    const workload = makeWorkload(id, sizes);
    result.workloads.push({
      id, title: workload.title, size: workload.size,
      ...(workload.throughput ? { unit: workload.throughput.unit, throughputExplanation: workload.throughput.explanation } : {}),
    });
    const references = new Map<string, Results>();
    for (const slot of slots) {
      if (slot.onlyFor !== undefined && slot.onlyFor !== id) continue;
      let cell: Cell;
      if (!slot.system) cell = { system: slot.name, workload: id, status: 'unavailable', note: slot.unavailable ?? 'unavailable' };
      else {
        try {
          cell = await measureCell(slot.system, workload, options, references);
        } catch (error) {
          cell = { system: slot.name, workload: id, status: 'error', note: errorText(error) };
        }
      }
      result.cells.push(cell);
      log(describeCell(cell));
    }
  }
  for (const slot of slots) await slot.system?.shutdown();
  result.durationS = Math.round((Date.now() - started) / 100) / 10;
  return result;
}

function describeCell(cell: Cell): string {
  const head = `${cell.workload} ${cell.system.padEnd(12)}`;
  if (cell.status !== 'ok') return `${head} ${cell.status}${cell.note ? `: ${cell.note}` : ''}`;
  const agreement = cell.vsNormgrad ? `, rel. err. ${cell.vsNormgrad.maxRelError.toExponential(1)} (${cell.vsNormgrad.worst})` : '';
  return `${head} median ${cell.medianMs!.toFixed(2)} ms over ${cell.runsMs!.length} runs (first ${cell.firstMs!.toFixed(0)} ms)${agreement}`;
}
