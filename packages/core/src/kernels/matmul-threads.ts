/**
 * A second thread for large matrix products: one `worker_threads` worker that shares the kernels'
 * WebAssembly memory. A product is cut into chunks: first packing chunks (a group of b's column
 * panels of one batch element), then computing chunks (a group of rows of one batch element: pack
 * those rows of a, block by block, and multiply). The main thread and the worker claim chunks from
 * an atomic counter until none is left, so the main thread never waits for a worker that is slow
 * to start or busy elsewhere — it just computes more chunks. Computing chunks start once every
 * packing chunk is done.
 *
 * The control block, Int32 slots at the start of the shared memory:
 *   POSTED     jobs posted so far (the worker sleeps on it)
 *   CLAIM      (job << 16) | next chunk, or CLOSED between jobs
 *   DONE       chunks finished in the current job
 *   CHUNKS     chunks in the current job
 *   then the job's parameters (jobFields), read only by a thread holding a claimed chunk;
 *   WORKER_CHUNKS (last slot) counts the chunks the worker computed, for tests.
 */

import { settings, updateSettings } from '../settings.js';
import type { WasmMatmul } from './wasm-matmul.js';

/** Bytes reserved at the start of the memory for the control block. */
export const CONTROL_BYTES = 128;

const POSTED = 0;
const CLAIM = 1;
const DONE = 2;
const CHUNKS = 3;
const WORKER_CHUNKS = 31;
const CLOSED = -1;
/** Job ids wrap below 0x7fff so that (job << 16) stays a positive int32 and never equals CLOSED. */
const JOB_ID_MASK = 0x3fff;

/**
 * A blocked product: a and b are in memory as strided matrices (each batch element's start in the
 * Int32 lists at leftOffsets and rightOffsets), packed a and b and the padded c have room reserved.
 * Addresses and strides are in bytes, sizes in elements.
 */
export interface BlockedJob {
  elementBytes: number;
  batch: number;
  rows: number;
  inner: number;
  columns: number;
  paddedRows: number;
  paddedColumns: number;
  /** Inner-dimension block: the kernel runs once per block, accumulating into out. */
  innerBlock: number;
  panelRows: number;
  panelColumns: number;
  rowsPerChunk: number;
  columnsPerPackChunk: number;
  leftOffsets: number;
  leftRowStride: number;
  leftInnerStride: number;
  rightOffsets: number;
  rightInnerStride: number;
  rightColumnStride: number;
  packedLeft: number;
  packedRight: number;
  out: number;
}

/** The slots of the job's fields, from slot 4 on (work() reads them by these numbers). */
const jobFields = [
  'elementBytes', 'batch', 'rows', 'inner', 'columns', 'paddedRows', 'paddedColumns', 'innerBlock', 'panelRows', 'panelColumns',
  'rowsPerChunk', 'columnsPerPackChunk', 'leftOffsets', 'leftRowStride', 'leftInnerStride', 'rightOffsets', 'rightInnerStride',
  'rightColumnStride', 'packedLeft', 'packedRight', 'out',
] as const;

type PackKernel = (source: number, target: number, inner: number, innerStride: number, lanes: number, paddedLanes: number, laneStride: number, panelLanes: number, innerBlock: number) => void;
type BlockedKernel = (a: number, b: number, c: number, rows: number, inner: number, columns: number, accumulate: number) => void;

interface Kernels {
  packFloat32: PackKernel;
  packFloat64: PackKernel;
  blockedFloat32: BlockedKernel;
  blockedFloat64: BlockedKernel;
}

/**
 * Claims and runs chunks of job `job` until none is left; `memory` views the whole memory. Runs on
 * both threads: the worker gets this function's source text, so it uses no outside name and no
 * inner functions.
 */
function work(memory: Int32Array, job: number, kernels: Kernels, onWorker: boolean): void {
  for (;;) {
    const word = Atomics.load(memory, 1);
    if (word >>> 16 !== job) return;
    const chunk = word & 0xffff;
    if (chunk >= Atomics.load(memory, 3)) return;
    if (Atomics.compareExchange(memory, 1, word, word + 1) !== word) continue;
    // The parameters stay put until every claimed chunk is done (slots 4 on, in jobFields order).
    const elementBytes = memory[4]!;
    const batch = memory[5]!;
    const rows = memory[6]!;
    const inner = memory[7]!;
    const columns = memory[8]!;
    const paddedRows = memory[9]!;
    const paddedColumns = memory[10]!;
    const innerBlock = memory[11]!;
    const panelRows = memory[12]!;
    const panelColumns = memory[13]!;
    const rowsPerChunk = memory[14]!;
    const columnsPerPackChunk = memory[15]!;
    const leftOffsets = memory[16]!;
    const leftRowStride = memory[17]!;
    const leftInnerStride = memory[18]!;
    const rightOffsets = memory[19]!;
    const rightInnerStride = memory[20]!;
    const rightColumnStride = memory[21]!;
    const packedLeft = memory[22]!;
    const packedRight = memory[23]!;
    const out = memory[24]!;
    const pack = elementBytes === 8 ? kernels.packFloat64 : kernels.packFloat32;
    const multiply = elementBytes === 8 ? kernels.blockedFloat64 : kernels.blockedFloat32;
    const packChunksPerMatrix = Math.ceil(paddedColumns / columnsPerPackChunk);
    const packChunks = batch * packChunksPerMatrix;
    if (chunk < packChunks) {
      // pack columns [firstColumn, firstColumn + width) of b, block by block
      const batchIndex = Math.floor(chunk / packChunksPerMatrix);
      const firstColumn = (chunk % packChunksPerMatrix) * columnsPerPackChunk;
      const width = Math.min(columnsPerPackChunk, paddedColumns - firstColumn);
      const source = memory[(rightOffsets >>> 2) + batchIndex]! + firstColumn * rightColumnStride;
      const target = packedRight + batchIndex * inner * paddedColumns * elementBytes;
      for (let k = 0; k < inner; k += innerBlock) {
        const depth = Math.min(innerBlock, inner - k);
        pack(source + k * rightInnerStride, target + (k * paddedColumns + firstColumn * depth) * elementBytes, depth, rightInnerStride,
          Math.min(width, columns - firstColumn), width, rightColumnStride, panelColumns, depth);
      }
    } else {
      for (let done = Atomics.load(memory, 2); done < packChunks; done = Atomics.load(memory, 2)) Atomics.wait(memory, 2, done, 10);
      // pack rows [firstRow, firstRow + height) of a block by block, each block right before it is multiplied
      const chunksPerMatrix = Math.ceil(paddedRows / rowsPerChunk);
      const batchIndex = Math.floor((chunk - packChunks) / chunksPerMatrix);
      const firstRow = ((chunk - packChunks) % chunksPerMatrix) * rowsPerChunk;
      const height = Math.min(rowsPerChunk, paddedRows - firstRow);
      const source = memory[(leftOffsets >>> 2) + batchIndex]! + firstRow * leftRowStride;
      const leftTarget = packedLeft + batchIndex * paddedRows * inner * elementBytes;
      const rightBlocks = packedRight + batchIndex * inner * paddedColumns * elementBytes;
      const outStart = out + (batchIndex * paddedRows + firstRow) * paddedColumns * elementBytes;
      for (let k = 0; k < inner; k += innerBlock) {
        const depth = Math.min(innerBlock, inner - k);
        const packed = leftTarget + (k * paddedRows + firstRow * depth) * elementBytes;
        pack(source + k * leftInnerStride, packed, depth, leftInnerStride, Math.min(height, rows - firstRow), height, leftRowStride, panelRows, depth);
        multiply(packed, rightBlocks + k * paddedColumns * elementBytes, outStart, height, depth, paddedColumns, k > 0 ? 1 : 0);
      }
    }
    if (onWorker) Atomics.add(memory, 31, 1);
    const finished = Atomics.add(memory, 2, 1) + 1;
    if (finished === packChunks || finished === Atomics.load(memory, 3)) Atomics.notify(memory, 2);
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
    Atomics.wait(new Int32Array(memory.buffer, 0, 1), ${POSTED}, seen);
    seen = Atomics.load(new Int32Array(memory.buffer, 0, 1), ${POSTED});
    // a fresh view: the main thread may have grown the memory
    work(new Int32Array(memory.buffer), seen & ${JOB_ID_MASK}, kernels, true);
  }
});
`;

interface WorkerLike {
  postMessage(message: unknown): void;
  unref(): void;
  terminate(): unknown;
  on(event: 'error', listener: (error: unknown) => void): void;
}

type WorkerConstructor = new (source: string, options: { eval: true }) => WorkerLike;

interface NodeProcess {
  getBuiltinModule?(name: string): unknown;
}

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
  updateSettings('setMatmulThreads', { matmulThreads: count });
}

let automaticThreads: 1 | 2 | undefined;

export function getMatmulThreads(): 1 | 2 {
  const chosen = settings.matmulThreads;
  if (chosen !== 'auto') return chosen;
  automaticThreads ??= availableCores() >= 2 && workerThreadsModule() !== null ? 2 : 1;
  return automaticThreads;
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

/**
 * Stops the worker (it holds a reference to the shared memory); the next threaded product starts a
 * new one on the then current memory. Products are synchronous, so none is running now.
 */
export function stopMatmulWorker(): void {
  if (worker) void worker.terminate();
  worker = undefined;
}

/** How long the main thread waits for a chunk the worker has claimed before declaring it lost. */
const CLAIMED_CHUNK_TIMEOUT_MS = 60_000;

/**
 * Computes a blocked product, with the worker's help when `threaded` and threads are on; memory must
 * be ready. `whilePosted` runs on the main thread once the job is posted and before the main thread
 * takes chunks (work that needs no chunk, overlapping the worker's); the job finishes even if it throws.
 */
export function runBlocked(wasm: WasmMatmul, job: BlockedJob, threaded: boolean, whilePosted?: () => void): void {
  const memory = new Int32Array(wasm.memory.buffer);
  const chunks = job.batch * (Math.ceil(job.paddedColumns / job.columnsPerPackChunk) + Math.ceil(job.paddedRows / job.rowsPerChunk));
  if (chunks > 0xffff) throw new Error(`matmul: ${chunks} chunks exceed the job format`);
  posted = (posted + 1) | 0;
  const jobId = posted & JOB_ID_MASK;
  Atomics.store(memory, CLAIM, CLOSED);
  jobFields.forEach((field, index) => (memory[4 + index] = job[field]));
  Atomics.store(memory, DONE, 0);
  Atomics.store(memory, CHUNKS, chunks);
  Atomics.store(memory, CLAIM, jobId << 16);
  if (threaded && chunks > 2 && getMatmulThreads() === 2 && helper(wasm) !== null) {
    Atomics.store(memory, POSTED, posted);
    Atomics.notify(memory, POSTED);
  }
  let failure: { error: unknown } | null = null;
  try {
    whilePosted?.();
  } catch (error) {
    failure = { error };
  }
  work(memory, jobId, wasm, false);
  const started = Date.now();
  for (let done = Atomics.load(memory, DONE); done < chunks; done = Atomics.load(memory, DONE)) {
    if (Date.now() - started > CLAIMED_CHUNK_TIMEOUT_MS) throw new Error('matmul: the worker thread stopped answering');
    Atomics.wait(memory, DONE, done, 100);
  }
  Atomics.store(memory, CLAIM, CLOSED);
  if (failure) throw failure.error;
}

/** How many chunks the worker has computed so far (for tests: the threaded path really is taken). */
export function workerChunkCount(wasm: WasmMatmul): number {
  return Atomics.load(new Int32Array(wasm.memory.buffer, 0, CONTROL_BYTES / 4), WORKER_CHUNKS);
}
