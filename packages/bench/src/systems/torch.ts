import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Workload } from '../workloads.js';
import type { Results } from './system.js';

/** Debian's python3-torch lives under the system interpreter (the `python3` on PATH may be another one). */
export const defaultPython = '/usr/bin/python3';
/** packages/bench/python/torch_bench.py (the same relative path from src/systems and dist/systems). */
export const torchScript = fileURLToPath(new URL('../../python/torch_bench.py', import.meta.url));

/** One column a child process measured: its first (checked) iteration, warm-ups, timed runs and their page faults, and its results. */
export interface ExternalVariant {
  name: string;
  threads: number;
  dtype: 'float32' | 'float64';
  firstMs: number;
  warmups: number;
  runsMs: number[];
  /** Minor page faults of each timed run. */
  faults: number[];
  results: Results;
}

export interface ExternalRun {
  variants: ExternalVariant[];
  /** Columns the child could not run on this workload, and why. */
  skipped: { name: string; note: string }[];
}

/** How many timed runs a child may take per variant: at most `runs`, fewer beyond `budgetMs`, never under 3. */
export interface ExternalPlan {
  runs: number;
  budgetMs: number;
  quick: boolean;
}

/** A system measured in another process (PyTorch): several columns per workload, measured and rotated there. */
export interface ExternalSystem {
  /** Every column it may report, in table order. */
  columns: string[];
  /** What the child said about itself at start (e.g. the torch version). */
  description: string;
  run(workload: Workload, plan: ExternalPlan): Promise<ExternalRun>;
  shutdown(): Promise<void>;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A child process that speaks one JSON object per line on stdin/stdout. Its first line must be
 * `{"ready": true, ...}`; each request then gets exactly one reply line. When the child exits or
 * writes something that is not JSON, pending and later requests fail with its stderr's last lines.
 */
export class JsonLineChild {
  private readonly lines: string[] = [];
  private readonly waiters: { resolve: (line: string) => void; reject: (error: Error) => void }[] = [];
  private failure: Error | null = null;
  private stderr = '';

  private constructor(private readonly child: ChildProcessWithoutNullStreams, private readonly label: string) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const waiter = this.waiters.shift();
      if (waiter) waiter.resolve(line);
      else this.lines.push(line);
    });
    child.stderr.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-4000)));
    child.on('error', (error) => this.fail(new Error(`${label}: could not start (${error.message})`)));
    child.on('close', (code, signal) => this.fail(new Error(`${label}: exited (${signal ?? `code ${code}`})${this.stderrTail()}`)));
  }

  private stderrTail(): string {
    const tail = this.stderr.trim().split('\n').slice(-3).join(' | ');
    return tail ? `: ${tail}` : '';
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.waiters.splice(0)) waiter.reject(this.failure);
  }

  /** The next line from the child, or an Error when it exits first or `timeoutMs` passes. */
  private nextLine(timeoutMs: number): Promise<string> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.waiters.findIndex((waiter) => waiter.resolve === done);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new Error(`${this.label}: no reply within ${timeoutMs / 1000} s${this.stderrTail()}`));
      }, timeoutMs);
      const done = (line: string): void => {
        clearTimeout(timer);
        resolve(line);
      };
      this.waiters.push({ resolve: done, reject: (error) => (clearTimeout(timer), reject(error)) });
    });
  }

  private async nextMessage(timeoutMs: number): Promise<Record<string, unknown>> {
    const line = await this.nextLine(timeoutMs);
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      throw new Error(`${this.label}: replied with a line that is not JSON: ${line.slice(0, 200)}`);
    }
    if (!isRecord(message)) throw new Error(`${this.label}: replied with JSON that is not an object: ${line.slice(0, 200)}`);
    return message;
  }

  /** Starts `command args` and waits for its ready line; returns the child and that line. */
  static async start(command: string, args: readonly string[], label: string, readyTimeoutMs = 60_000): Promise<{ child: JsonLineChild; hello: Record<string, unknown> }> {
    const child = new JsonLineChild(spawn(command, [...args], { stdio: ['pipe', 'pipe', 'pipe'] }), label);
    try {
      const hello = await child.nextMessage(readyTimeoutMs);
      if (hello['ready'] !== true) throw new Error(`${label}: the first line is not {"ready": true}: ${JSON.stringify(hello).slice(0, 200)}`);
      return { child, hello };
    } catch (error) {
      child.kill();
      throw error;
    }
  }

  /** Sends one request and returns the reply (which must carry the same id). */
  async request(message: Record<string, unknown> & { id: number }, timeoutMs: number): Promise<Record<string, unknown>> {
    if (this.failure) throw this.failure;
    this.child.stdin.write(`${JSON.stringify(message)}\n`);
    const reply = await this.nextMessage(timeoutMs);
    if (reply['id'] !== message.id) throw new Error(`${this.label}: reply id ${JSON.stringify(reply['id'])} does not match request id ${message.id}`);
    return reply;
  }

  /** Asks the child to exit, and kills it if it has not within a second. */
  async close(): Promise<void> {
    if (this.failure) return;
    const exited = new Promise<void>((resolve) => this.child.once('close', () => resolve()));
    this.child.stdin.end(`${JSON.stringify({ exit: true })}\n`);
    const timer = setTimeout(() => this.kill(), 1000);
    await exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill();
  }
}

/** The bytes every system reads: the workload's float32 inputs, then its int32 labels, and where each starts. */
export function encodeWorkloadData(workload: Workload): { bytes: Buffer; inputs: Record<string, { shape: number[]; offset: number }>; labels: { offset: number; length: number } | null } {
  const chunks: Buffer[] = [];
  const inputs: Record<string, { shape: number[]; offset: number }> = {};
  let offset = 0;
  for (const [name, input] of Object.entries(workload.inputs)) {
    inputs[name] = { shape: input.shape, offset };
    chunks.push(Buffer.from(input.data.buffer, input.data.byteOffset, input.data.byteLength));
    offset += input.data.byteLength;
  }
  let labels = null;
  if (workload.labels) {
    labels = { offset, length: workload.labels.length };
    chunks.push(Buffer.from(workload.labels.buffer, workload.labels.byteOffset, workload.labels.byteLength));
  }
  return { bytes: Buffer.concat(chunks), inputs, labels };
}

const numberArray = (value: unknown, what: string): number[] => {
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'number')) throw new Error(`bench: ${what} is not an array of numbers`);
  return value;
};

/** Reads a reply's variants and their float64 outputs (from `outputs`, the bytes the child wrote). */
export function decodeRun(reply: Record<string, unknown>, outputs: Buffer, label: string): ExternalRun {
  if (reply['ok'] !== true) throw new Error(`${label}: ${typeof reply['error'] === 'string' ? reply['error'] : 'failed without a message'}`);
  const variants = reply['variants'];
  if (!Array.isArray(variants)) throw new Error(`${label}: the reply has no variants`);
  const floats = new Float64Array(outputs.buffer.slice(outputs.byteOffset, outputs.byteOffset + outputs.byteLength - (outputs.byteLength % 8)));
  const decoded = variants.map((variant: unknown): ExternalVariant => {
    if (!isRecord(variant) || typeof variant['name'] !== 'string' || !isRecord(variant['outputs'])) throw new Error(`${label}: a variant is malformed: ${JSON.stringify(variant).slice(0, 200)}`);
    const name = variant['name'];
    const results: Results = {};
    for (const [output, where] of Object.entries(variant['outputs'])) {
      if (!isRecord(where) || typeof where['offset'] !== 'number' || typeof where['length'] !== 'number') throw new Error(`${label}: ${name} output ${output} has no offset/length`);
      const start = where['offset'] / 8;
      if (!Number.isInteger(start) || start + where['length'] > floats.length) throw new Error(`${label}: ${name} output ${output} lies outside the output file (${outputs.byteLength} bytes)`);
      results[output] = floats.slice(start, start + where['length']);
    }
    return {
      name,
      threads: typeof variant['threads'] === 'number' ? variant['threads'] : 0,
      dtype: variant['dtype'] === 'float64' ? 'float64' : 'float32',
      firstMs: numberArray([variant['firstMs']], `${name} firstMs`)[0]!,
      warmups: typeof variant['warmups'] === 'number' ? variant['warmups'] : 0,
      runsMs: numberArray(variant['runsMs'], `${name} runsMs`),
      faults: numberArray(variant['faults'], `${name} faults`),
      results,
    };
  });
  const skipped = Array.isArray(reply['skipped'])
    ? reply['skipped'].filter(isRecord).map((entry) => ({ name: String(entry['name']), note: String(entry['note']) }))
    : [];
  return { variants: decoded, skipped };
}

export interface ChildSystemOptions {
  /** The command and its arguments (default: /usr/bin/python3 and packages/bench/python/torch_bench.py). */
  command?: string;
  args?: readonly string[];
  threads?: readonly number[];
  dtypes?: readonly ('float32' | 'float64')[];
  /** Per request (one workload, every variant). */
  requestTimeoutMs?: number;
}

const torchColumns = (threads: readonly number[], dtypes: readonly string[]): string[] => [
  ...dtypes.flatMap((dtype) => threads.map((t) => `torch-${t}T${dtype === 'float64' ? '-f64' : ''}`)),
  ...(dtypes.includes('float32') ? threads.map((t) => `torch-onednn-${t}T`) : []),
];

/**
 * PyTorch CPU in a child process (python/torch_bench.py): each workload's seeded data goes over
 * in a temporary file; the child measures every thread count and dtype in rotated rounds and
 * writes its results back. Rejects (so the bench shows the columns as unavailable with the reason)
 * when the interpreter or torch cannot be loaded.
 */
export async function torchSystem(options: ChildSystemOptions = {}): Promise<ExternalSystem> {
  const label = 'torch';
  const threads = options.threads ?? [1, 2];
  const dtypes = options.dtypes ?? ['float32', 'float64'];
  const { child, hello } = await JsonLineChild.start(options.command ?? defaultPython, options.args ?? [torchScript], label);
  const directory = mkdtempSync(path.join(os.tmpdir(), 'normgrad-bench-'));
  let nextId = 1;
  return {
    columns: torchColumns(threads, dtypes),
    description: `PyTorch ${String(hello['torch'] ?? '?')}${hello['mkldnn'] === true ? ', oneDNN available' : ', no oneDNN'}`,
    async run(workload, plan) {
      const { bytes, inputs, labels } = encodeWorkloadData(workload);
      const dataPath = path.join(directory, `${workload.id}.in`);
      const outputPath = path.join(directory, `${workload.id}.out`);
      writeFileSync(dataPath, bytes);
      try {
        const reply = await child.request({
          id: nextId++, workload: workload.id, sizes: workload.sizes, dataPath, inputs, labels, outputPath,
          runs: plan.runs, budgetMs: plan.budgetMs, quick: plan.quick, threads, dtypes,
        }, options.requestTimeoutMs ?? 30 * 60_000);
        return decodeRun(reply, reply['ok'] === true ? readFileSync(outputPath) : Buffer.alloc(0), `${label} ${workload.id}`);
      } finally {
        rmSync(dataPath, { force: true });
        rmSync(outputPath, { force: true });
      }
    },
    async shutdown() {
      await child.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

