/**
 * A second thread for large matrix products: one `worker_threads` worker that shares the kernels'
 * WebAssembly memory. A product is cut into chunks (groups of rows of one batch element); the main
 * thread and the worker claim chunks from an atomic counter until none is left, so the main thread
 * never waits for a worker that is slow to start or busy elsewhere — it just computes more chunks.
 *
 * The control block, Int32 slots at the start of the shared memory:
 *   POSTED     jobs posted so far (the worker sleeps on it)
 *   CLAIM      (job << 16) | next chunk, or CLOSED between jobs
 *   DONE       chunks finished in the current job
 *   CHUNKS     chunks in the current job
 *   then the job's parameters, read only by a thread holding a claimed chunk;
 *   WORKER_CHUNKS (last slot) counts the chunks the worker computed, for tests.
 */

import type { WasmMatmul } from './wasm-matmul.js';

/** Bytes reserved at the start of the memory for the control block. */
export const CONTROL_BYTES = 64;

const POSTED = 0;
const CLAIM = 1;
const DONE = 2;
const CHUNKS = 3;
const WORKER_CHUNKS = 15;
const CLOSED = -1;
/** Job ids wrap below 0x7fff so that (job << 16) stays a positive int32 and never equals CLOSED. */
const JOB_ID_MASK = 0x3fff;

/** A blocked product over packed operands, in the units the kernels take (byte offsets, padded sizes). */
export interface BlockedJob {
  dtype: 'float32' | 'float64';
  packedLeft: number;
  packedRight: number;
  out: number;
  batch: number;
  paddedRows: number;
  inner: number;
  paddedColumns: number;
  /** Inner-dimension block: the kernel runs once per block, accumulating into out. */
  innerBlock: number;
  rowsPerChunk: number;
}

const parameterOrder = ['packedLeft', 'packedRight', 'out', 'batch', 'paddedRows', 'inner', 'paddedColumns', 'innerBlock', 'rowsPerChunk'] as const;

type BlockedKernel = (a: number, b: number, c: number, rows: number, inner: number, columns: number, accumulate: number) => void;

/**
 * Claims and computes chunks of job `job` until none is left. Runs on both threads: the worker gets
 * this function's source text, so it uses no outside name and no inner functions.
 */
function work(control: Int32Array, job: number, float32Kernel: BlockedKernel, float64Kernel: BlockedKernel, onWorker: boolean): void {
  for (;;) {
    const word = Atomics.load(control, 1);
    if (word >>> 16 !== job) return;
    const chunk = word & 0xffff;
    if (chunk >= Atomics.load(control, 3)) return;
    if (Atomics.compareExchange(control, 1, word, word + 1) !== word) continue;
    // The parameters stay put until every claimed chunk is done (slot 4: element bytes, then parameterOrder).
    const elementBytes = control[4]!;
    const kernel = elementBytes === 8 ? float64Kernel : float32Kernel;
    const packedLeft = control[5]!;
    const packedRight = control[6]!;
    const out = control[7]!;
    const paddedRows = control[9]!;
    const inner = control[10]!;
    const paddedColumns = control[11]!;
    const innerBlock = control[12]!;
    const rowsPerChunk = control[13]!;
    const chunksPerBatch = Math.ceil(paddedRows / rowsPerChunk);
    const batchIndex = Math.floor(chunk / chunksPerBatch);
    const firstRow = (chunk % chunksPerBatch) * rowsPerChunk;
    const rows = Math.min(rowsPerChunk, paddedRows - firstRow);
    const leftBase = packedLeft + batchIndex * paddedRows * inner * elementBytes;
    const rightBase = packedRight + batchIndex * inner * paddedColumns * elementBytes;
    const outStart = out + (batchIndex * paddedRows + firstRow) * paddedColumns * elementBytes;
    for (let k = 0; k < inner; k += innerBlock) {
      const depth = Math.min(innerBlock, inner - k);
      // packed a and b hold one block of `depth` inner indices after another (see matmul.ts)
      kernel(leftBase + (k * paddedRows + firstRow * depth) * elementBytes, rightBase + k * paddedColumns * elementBytes, outStart, rows, depth, paddedColumns, k > 0 ? 1 : 0);
    }
    if (onWorker) Atomics.add(control, 15, 1);
    if (Atomics.add(control, 2, 1) + 1 === Atomics.load(control, 3)) Atomics.notify(control, 2);
  }
}

/** The worker: instantiates the module on the shared memory, then sleeps until a job is posted. */
const workerSource = (workFunction: string) => `
const { parentPort } = require('node:worker_threads');
const work = ${workFunction};
parentPort.once('message', ({ module, memory }) => {
  const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports;
  let seen = 0;
  for (;;) {
    const control = new Int32Array(memory.buffer, 0, ${CONTROL_BYTES / 4});
    Atomics.wait(control, ${POSTED}, seen);
    seen = Atomics.load(control, ${POSTED});
    work(control, seen & ${JOB_ID_MASK}, kernels.blockedFloat32, kernels.blockedFloat64, true);
  }
});
`;

interface WorkerLike {
  postMessage(message: unknown): void;
  unref(): void;
  on(event: 'error', listener: (error: unknown) => void): void;
}

type WorkerConstructor = new (source: string, options: { eval: true }) => WorkerLike;

interface NodeProcess {
  getBuiltinModule?(name: string): unknown;
}

let threads: 1 | 2 | undefined;
let worker: WorkerLike | null | undefined;
let posted = 0;

function workerThreadsModule(): { Worker: WorkerConstructor } | null {
  const process = (globalThis as { process?: NodeProcess }).process;
  const module = process?.getBuiltinModule?.('node:worker_threads') as { Worker?: WorkerConstructor } | undefined;
  return module?.Worker === undefined ? null : { Worker: module.Worker };
}

function availableCores(): number {
  const process = (globalThis as { process?: NodeProcess }).process;
  const os = process?.getBuiltinModule?.('node:os') as { availableParallelism?: () => number } | undefined;
  return os?.availableParallelism?.() ?? 1;
}

/**
 * Sets how many threads large matrix products use: 2 (the default where the machine has two or
 * more cores and Node's worker_threads and shared WebAssembly memory are available) or 1.
 */
export function setMatmulThreads(count: 1 | 2): void {
  if (count !== 1 && count !== 2) throw new Error(`setMatmulThreads: expected 1 or 2, got ${JSON.stringify(count)}`);
  threads = count;
}

export function getMatmulThreads(): 1 | 2 {
  threads ??= availableCores() >= 2 && workerThreadsModule() !== null ? 2 : 1;
  return threads;
}

/** The worker, started on first use; null where it cannot run (no worker_threads, memory not shared). */
function helper(wasm: WasmMatmul): WorkerLike | null {
  if (worker !== undefined) return worker;
  worker = null;
  const Worker = wasm.shared ? workerThreadsModule()?.Worker : undefined;
  if (Worker === undefined) return worker;
  try {
    const started = new Worker(workerSource(work.toString()), { eval: true });
    started.unref();
    // A failed worker only stops taking chunks: the main thread computes them all.
    started.on('error', () => undefined);
    started.postMessage({ module: wasm.module, memory: wasm.memory });
    worker = started;
  } catch {
    worker = null;
  }
  return worker;
}

/** How long the main thread waits for a chunk the worker has claimed before declaring it lost. */
const CLAIMED_CHUNK_TIMEOUT_MS = 60_000;

/** Computes a blocked product, with the worker's help when `threaded` and threads are on; memory must be ready. */
export function runBlocked(wasm: WasmMatmul, job: BlockedJob, threaded: boolean): void {
  const control = new Int32Array(wasm.memory.buffer, 0, CONTROL_BYTES / 4);
  const chunks = job.batch * Math.ceil(job.paddedRows / job.rowsPerChunk);
  if (chunks > 0xffff) throw new Error(`matmul: ${chunks} chunks exceed the job format; rowsPerChunk too small`);
  posted = (posted + 1) | 0;
  const jobId = posted & JOB_ID_MASK;
  Atomics.store(control, CLAIM, CLOSED);
  control[4] = job.dtype === 'float64' ? 8 : 4;
  parameterOrder.forEach((name, index) => (control[5 + index] = job[name]));
  Atomics.store(control, DONE, 0);
  Atomics.store(control, CHUNKS, chunks);
  Atomics.store(control, CLAIM, jobId << 16);
  if (threaded && chunks > 1 && getMatmulThreads() === 2 && helper(wasm) !== null) {
    Atomics.store(control, POSTED, posted);
    Atomics.notify(control, POSTED);
  }
  work(control, jobId, wasm.blockedFloat32, wasm.blockedFloat64, false);
  const started = Date.now();
  for (let done = Atomics.load(control, DONE); done < chunks; done = Atomics.load(control, DONE)) {
    if (Date.now() - started > CLAIMED_CHUNK_TIMEOUT_MS) throw new Error('matmul: the worker thread stopped answering');
    Atomics.wait(control, DONE, done, 100);
  }
  Atomics.store(control, CLAIM, CLOSED);
}

/** How many chunks the worker has computed so far (for tests: the threaded path really is taken). */
export function workerChunkCount(wasm: WasmMatmul): number {
  return Atomics.load(new Int32Array(wasm.memory.buffer, 0, CONTROL_BYTES / 4), WORKER_CHUNKS);
}
