import { allocate, allocateForOverwrite, type DType, type DataArray } from '../dtype.js';
import { registerSettingCheck, settings, updateSettings } from '../settings.js';
import { contiguousData, createNd, dtypeOfNd, sizeOf, type FloatNdArray } from './layout.js';
import { toContiguous } from './elementwise.js';
import { CONTROL_BYTES, runBlocked, stopMatmulWorker } from './matmul-threads.js';
import { registerScratchRelease } from './scratch.js';
import { float32Block, float64Block, MAXIMUM_PAGES, releaseWasmMatmul, unsharedWasmMatmul, wasmMatmul, type WasmMatmul } from './wasm-matmul.js';

export type MatmulBackend = 'auto' | 'wasm' | 'js';

registerSettingCheck('matmulBackend', (choice) => (choice === 'wasm' && wasmMatmul() === null ? 'WebAssembly SIMD is not available here' : null));

/**
 * Chooses the matrix-product kernel: 'wasm' (WebAssembly SIMD), 'js' (plain loops, the fallback
 * where WebAssembly SIMD is missing) or 'auto' (wasm when available and the product is not tiny).
 * A thin wrapper over the settings (`withSettings({ matmulBackend }, fn)` is the scoped form).
 */
export function setMatmulBackend(choice: MatmulBackend): void {
  updateSettings('setMatmulBackend', { matmulBackend: choice });
}

export function getMatmulBackend(): MatmulBackend {
  return settings.matmulBackend;
}

/** Products smaller than this many multiply-adds stay in JS, where the copies would cost more than they save. */
const WASM_MIN_WORK = 4096;

/**
 * Batched matrix product of a (..., M, K) and b (..., K, N) with identical batch axes.
 */
export function matmulKernel(a: FloatNdArray, b: FloatNdArray): FloatNdArray {
  const rank = a.shape.length;
  const rows = a.shape[rank - 2]!;
  const inner = a.shape[rank - 1]!;
  const columns = b.shape[rank - 1]!;
  const batchShape = a.shape.slice(0, rank - 2);
  const batch = sizeOf(batchShape);
  const dtype = dtypeOfNd(a);
  const backend = settings.matmulBackend;
  const wasm = backend === 'js' ? null : wasmMatmul();
  // an outer product (inner size 1) is one multiplication per element of the result: its size counts, batch included
  const work = inner === 1 ? batch * rows * columns : rows * inner * columns;
  const useWasm = wasm !== null && (backend === 'wasm' || work >= WASM_MIN_WORK) && inner > 0 && rows > 0 && columns > 0;
  let out: DataArray | null = null;
  try {
    if (useWasm && inner === 1) out = outerWasm(unsharedWasmMatmul() ?? wasm, dtype, matrices(a, batchShape), matrices(b, batchShape), batch, rows, columns);
    else if (useWasm) out = matmulWasm(wasm, dtype, matrices(a, batchShape), matrices(b, batchShape), batch, rows, inner, columns);
  } catch (error) {
    // A product whose WebAssembly memory cannot grow that far runs in JavaScript instead.
    if (!(error instanceof ScratchMemoryExhausted)) throw error;
  }
  try {
    out ??= matmulJs(dtype, contiguousData(a), contiguousData(b), batch, rows, inner, columns);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new Error(`matmul: cannot allocate the ${dtype} result of shape [${[...batchShape, rows, columns].join(', ')}] (${error.message})`);
  }
  return createNd(dtype, [...batchShape, rows, columns], out);
}

/** The WebAssembly memory could not grow to what a product needs (matmulKernel then runs it in JavaScript). */
class ScratchMemoryExhausted extends Error {}

let memoryCeiling = MAXIMUM_PAGES * 65536;

/**
 * The most bytes the matrix-product memory may grow to (default 4 GiB, WebAssembly's limit);
 * products that need more run in JavaScript. Library-internal (tests use it to reach the fallback).
 */
export function setMatmulMemoryCeiling(bytes: number): void {
  if (!Number.isInteger(bytes) || bytes < 65536) throw new Error(`setMatmulMemoryCeiling: expected a whole number of bytes >= 65536, got ${bytes}`);
  memoryCeiling = Math.min(bytes, MAXIMUM_PAGES * 65536);
}

/** Releases the matrix-product memory and stops its worker thread (see releaseScratchMemory). */
export function releaseMatmulMemory(): void {
  stopMatmulWorker();
  releaseWasmMatmul();
}

registerScratchRelease('matmul', releaseMatmulMemory);

/** A batch of matrices read through strides: transposed and broadcast operands need no contiguous copy. */
interface StridedMatrices {
  data: DataArray;
  /** Where each batch element's matrix starts in data. */
  offsets: number[];
  rowStride: number;
  columnStride: number;
}

function matrices(array: FloatNdArray, batchShape: readonly number[]): StridedMatrices {
  if (!isCompact(array)) array = toContiguous(array);
  const rank = array.shape.length;
  let offsets = [array.offset];
  batchShape.forEach((extent, axis) => {
    const stride = array.stride[axis]!;
    offsets = offsets.flatMap((offset) => Array.from({ length: extent }, (_, index) => offset + index * stride));
  });
  return { data: array.data, offsets, rowStride: array.stride[rank - 2]!, columnStride: array.stride[rank - 1]! };
}

/**
 * True when the view's elements fill most of the data range they span, with no negative stride:
 * then that range is copied into WebAssembly memory as it is (else a contiguous copy is made first).
 */
function isCompact(array: FloatNdArray): boolean {
  let span = 1;
  for (let axis = 0; axis < array.shape.length; axis++) {
    if (array.stride[axis]! < 0) return false;
    span += (array.shape[axis]! - 1) * array.stride[axis]!;
  }
  return span <= 2 * sizeOf(array.shape) + 64;
}

/** The range of data a batch of matrices reads: [low, high). */
function dataRange(source: StridedMatrices, rows: number, columns: number): { low: number; high: number } {
  const low = Math.min(...source.offsets);
  const high = Math.max(...source.offsets) + (rows - 1) * source.rowStride + (columns - 1) * source.columnStride + 1;
  return { low, high };
}

/** i-k-j loops so the innermost loop walks b and the output contiguously; rows accumulate in float64. */
function matmulJs(dtype: DType, left: DataArray, right: DataArray, batch: number, rows: number, inner: number, columns: number): DataArray {
  const out = allocate(dtype, batch * rows * columns);
  const rowAccumulator = new Float64Array(columns);
  for (let batchIndex = 0; batchIndex < batch; batchIndex++) {
    const leftBase = batchIndex * rows * inner;
    const rightBase = batchIndex * inner * columns;
    const outBase = batchIndex * rows * columns;
    for (let i = 0; i < rows; i++) {
      rowAccumulator.fill(0);
      for (let k = 0; k < inner; k++) {
        const factor = left[leftBase + i * inner + k]!;
        const rightRow = rightBase + k * columns;
        for (let j = 0; j < columns; j++) rowAccumulator[j] = rowAccumulator[j]! + factor * right[rightRow + j]!;
      }
      out.set(rowAccumulator, outBase + i * columns);
    }
  }
  return out;
}

const PAGE_BYTES = 65536;

function ensureMemory(wasm: WasmMatmul, bytes: number): void {
  const missing = bytes - wasm.memory.buffer.byteLength;
  if (missing <= 0) return;
  if (bytes > memoryCeiling) throw new ScratchMemoryExhausted(`matmul: needs ${bytes} bytes of WebAssembly memory, more than ${memoryCeiling}`);
  try {
    wasm.memory.grow(Math.ceil(missing / PAGE_BYTES));
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new ScratchMemoryExhausted(`matmul: WebAssembly memory cannot grow to ${bytes} bytes (${error.message})`);
  }
}

const align16 = (bytes: number) => Math.ceil(bytes / 16) * 16;

/** From this many rows on, packing for the blocked kernel pays for itself (measured: below it the row kernel wins; at 8 it depends on b). */
const BLOCKED_MIN_ROWS = 16;

/** The blocked kernel runs over blocks of this many inner indices, so that a block of packed b stays in cache. */
const INNER_BLOCK = 256;

/** Products of at least this many multiply-adds are shared with the worker thread when threads are on. */
const THREADS_MIN_WORK = 1 << 22;

/** A threaded product is cut into about this many chunks, so that two threads share it evenly. */
const CHUNKS_PER_PRODUCT = 16;

/** The job format numbers chunks in 16 bits: larger batches run in slices of this many matrices. */
const BATCH_SLICE = 4096;

const roundUp = (value: number, multiple: number) => Math.ceil(value / multiple) * multiple;

/**
 * Copies the operands into WebAssembly memory in the layout the chosen kernel reads, runs it
 * per batch element and copies the result out without the padding.
 */
function matmulWasm(wasm: WasmMatmul, dtype: DType, left: StridedMatrices, right: StridedMatrices, batch: number, rows: number, inner: number, columns: number): DataArray {
  let allocated: DataArray | null = null;
  // A fresh result's first touch of each page is a page fault: taken while the worker computes.
  const allocateResult = () => {
    allocated ??= touchPages(allocate(dtype, batch * rows * columns));
  };
  const product = rows >= BLOCKED_MIN_ROWS
    ? blockedProduct(wasm, dtype, left, right, batch, rows, inner, columns, allocateResult)
    : rowProduct(wasm, dtype, left, right, batch, rows, inner, columns);
  const { outView, paddedRows, paddedColumns } = product;
  const out = allocated ?? allocate(dtype, batch * rows * columns);
  if (out.length === 0) return out;
  if (paddedRows !== rows || paddedColumns !== columns) {
    const elementBytes = outView.BYTES_PER_ELEMENT;
    wasm.compactRows(outView.byteOffset, batch, rows, paddedRows, columns * elementBytes, paddedColumns * elementBytes);
  }
  // (allocate + set is faster than slice, measured)
  out.set(outView.subarray(0, out.length));
  return out;
}

/** The outer-product kernel writes this many bytes of rows at a time, a block that stays in cache until it is copied out. */
const OUTER_BLOCK_BYTES = 1 << 17;

/**
 * A batch of outer products (inner size 1). Per batch element, a's column and b's row are copied
 * into memory; the kernel writes the product a block of rows at a time, and each block is copied
 * into the result while it is in cache. The result is written once, in order. Runs on the kernels'
 * unshared memory where there is one (copies out of shared memory are slower).
 */
function outerWasm(wasm: WasmMatmul, dtype: DType, left: StridedMatrices, right: StridedMatrices, batch: number, rows: number, columns: number): DataArray {
  const elementBytes = dtype === 'float64' ? 8 : 4;
  const paddedColumns = roundUp(columns, 16 / elementBytes);
  const rowsPerBlock = Math.max(1, Math.min(rows, Math.floor(OUTER_BLOCK_BYTES / (paddedColumns * elementBytes))));
  const columnStart = CONTROL_BYTES;
  const rowStart = columnStart + align16(rows * elementBytes);
  const blockStart = rowStart + align16(paddedColumns * elementBytes);
  ensureMemory(wasm, blockStart + rowsPerBlock * paddedColumns * elementBytes);
  const View = dtype === 'float64' ? Float64Array : Float32Array;
  const buffer = wasm.memory.buffer;
  const column = new View(buffer, columnStart, rows);
  const row = new View(buffer, rowStart, paddedColumns);
  const block = new View(buffer, blockStart, rowsPerBlock * paddedColumns);
  const kernel = dtype === 'float64' ? wasm.outerFloat64 : wasm.outerFloat32;
  const out = allocateForOverwrite(dtype, batch * rows * columns);
  // the row's padding lanes stay zero
  row.fill(0);
  for (let batchIndex = 0; batchIndex < batch; batchIndex++) {
    gather(column, left.data, left.offsets[batchIndex]!, left.rowStride, rows);
    gather(row, right.data, right.offsets[batchIndex]!, right.columnStride, columns);
    for (let first = 0; first < rows; first += rowsPerBlock) {
      const count = Math.min(rowsPerBlock, rows - first);
      kernel(columnStart + first * elementBytes, rowStart, blockStart, count, paddedColumns);
      if (paddedColumns !== columns) wasm.compactRows(blockStart, 1, count, count, columns * elementBytes, paddedColumns * elementBytes);
      out.set(block.subarray(0, count * columns), (batchIndex * rows + first) * columns);
    }
  }
  return out;
}

/** Copies `count` elements of data from `start`, `stride` apart, into the start of target. */
function gather(target: DataArray, data: DataArray, start: number, stride: number, count: number): void {
  if (stride === 1) {
    target.set(data.subarray(start, start + count));
    return;
  }
  for (let index = 0; index < count; index++) target[index] = data[start + index * stride]!;
}

const PAGE_SIZE = 4096;

/** Writes a zero at the start of every memory page of a fresh array, so that later writes take no page fault. */
function touchPages(array: DataArray): DataArray {
  const step = PAGE_SIZE / array.BYTES_PER_ELEMENT;
  for (let index = 0; index < array.length; index += step) array[index] = 0;
  return array;
}

interface PaddedProduct {
  outView: DataArray;
  paddedRows: number;
  paddedColumns: number;
}

/** The row kernel on row-major copies, b's rows padded to whole vectors. */
function rowProduct(wasm: WasmMatmul, dtype: DType, left: StridedMatrices, right: StridedMatrices, batch: number, rows: number, inner: number, columns: number): PaddedProduct {
  const elementBytes = dtype === 'float64' ? 8 : 4;
  const paddedColumns = roundUp(columns, 16 / elementBytes);
  const leftStart = CONTROL_BYTES;
  const rightStart = leftStart + align16(batch * rows * inner * elementBytes);
  const outStart = rightStart + align16(batch * inner * paddedColumns * elementBytes);
  const scratch = outStart + align16(batch * rows * paddedColumns * elementBytes);
  ensureMemory(wasm, scratch);
  copyRowMajor(wasm, dtype, left, leftStart, rows, inner, inner, scratch);
  copyRowMajor(wasm, dtype, right, rightStart, inner, columns, paddedColumns, scratch);
  const outView = new (dtype === 'float64' ? Float64Array : Float32Array)(wasm.memory.buffer, outStart, batch * rows * paddedColumns);
  outView.fill(0);
  const kernel = dtype === 'float64' ? wasm.rowFloat64 : wasm.rowFloat32;
  for (let batchIndex = 0; batchIndex < batch; batchIndex++) {
    kernel(
      leftStart + batchIndex * rows * inner * elementBytes,
      rightStart + batchIndex * inner * paddedColumns * elementBytes,
      outStart + batchIndex * rows * paddedColumns * elementBytes,
      rows,
      inner,
      paddedColumns,
    );
  }
  return { outView, paddedRows: rows, paddedColumns };
}

/**
 * Copies each (rows × columns) matrix row-major into memory at `target`, rows padded with zeros to
 * paddedColumns: row by row where rows are contiguous, else through the packing kernel (a single
 * panel as wide as the row) from a copy of the data range at `scratch`.
 */
function copyRowMajor(wasm: WasmMatmul, dtype: DType, source: StridedMatrices, target: number, rows: number, columns: number, paddedColumns: number, scratch: number): void {
  const elementBytes = dtype === 'float64' ? 8 : 4;
  const range = dataRange(source, rows, columns);
  const contiguousRows = source.columnStride === 1;
  ensureMemory(wasm, contiguousRows ? target + source.offsets.length * rows * paddedColumns * elementBytes : scratch + (range.high - range.low) * elementBytes);
  const View = dtype === 'float64' ? Float64Array : Float32Array;
  const targetView = new View(wasm.memory.buffer, target, source.offsets.length * rows * paddedColumns);
  if (contiguousRows) {
    if (columns !== paddedColumns) targetView.fill(0);
    source.offsets.forEach((offset, batchIndex) => {
      for (let row = 0; row < rows; row++) {
        const from = offset + row * source.rowStride;
        targetView.set(source.data.subarray(from, from + columns), (batchIndex * rows + row) * paddedColumns);
      }
    });
    return;
  }
  new View(wasm.memory.buffer, scratch).set(source.data.subarray(range.low, range.high));
  const pack = dtype === 'float64' ? wasm.packFloat64 : wasm.packFloat32;
  source.offsets.forEach((offset, batchIndex) => {
    pack(scratch + (offset - range.low) * elementBytes, target + batchIndex * rows * paddedColumns * elementBytes, rows, source.rowStride * elementBytes,
      columns, paddedColumns, source.columnStride * elementBytes, paddedColumns, rows);
  });
}

/**
 * The blocked kernel: the data range each operand spans is copied into memory as it is; the job
 * (matmul-threads.ts) packs it there into panels (a in panels of the block's rows, b in panels of
 * its columns, both cut into blocks of INNER_BLOCK inner indices) and computes a padded c.
 */
function blockedProduct(wasm: WasmMatmul, dtype: DType, left: StridedMatrices, right: StridedMatrices, batch: number, rows: number, inner: number, columns: number, whilePosted: () => void): PaddedProduct {
  const elementBytes = dtype === 'float64' ? 8 : 4;
  const block = dtype === 'float64' ? float64Block : float32Block;
  const panelColumns = block.vectors * (16 / elementBytes);
  const paddedRows = roundUp(rows, block.rows);
  const paddedColumns = roundUp(columns, panelColumns);
  const threaded = batch * rows * inner * columns >= THREADS_MIN_WORK;
  const leftRange = dataRange(left, rows, inner);
  const rightRange = dataRange(right, inner, columns);
  const leftSource = CONTROL_BYTES;
  const rightSource = leftSource + align16((leftRange.high - leftRange.low) * elementBytes);
  const leftOffsets = rightSource + align16((rightRange.high - rightRange.low) * elementBytes);
  const rightOffsets = leftOffsets + align16(batch * 4);
  const packedLeft = rightOffsets + align16(batch * 4);
  const packedRight = packedLeft + align16(batch * paddedRows * inner * elementBytes);
  const outStart = packedRight + align16(batch * inner * paddedColumns * elementBytes);
  ensureMemory(wasm, outStart + batch * paddedRows * paddedColumns * elementBytes);
  const View = dtype === 'float64' ? Float64Array : Float32Array;
  const buffer = wasm.memory.buffer;
  new View(buffer, leftSource).set(left.data.subarray(leftRange.low, leftRange.high));
  new View(buffer, rightSource).set(right.data.subarray(rightRange.low, rightRange.high));
  new Int32Array(buffer, leftOffsets, batch).set(left.offsets.map((offset) => leftSource + (offset - leftRange.low) * elementBytes));
  new Int32Array(buffer, rightOffsets, batch).set(right.offsets.map((offset) => rightSource + (offset - rightRange.low) * elementBytes));
  for (let first = 0; first < batch; first += BATCH_SLICE) {
    const count = Math.min(BATCH_SLICE, batch - first);
    const chunksPerMatrix = threaded ? Math.max(1, Math.ceil(CHUNKS_PER_PRODUCT / count)) : 1;
    runBlocked(wasm, {
      elementBytes, batch: count, rows, inner, columns, paddedRows, paddedColumns,
      innerBlock: INNER_BLOCK,
      panelRows: block.rows,
      panelColumns,
      rowsPerChunk: roundUp(Math.ceil(paddedRows / chunksPerMatrix), block.rows),
      columnsPerPackChunk: roundUp(Math.ceil(paddedColumns / chunksPerMatrix), panelColumns),
      leftOffsets: leftOffsets + first * 4,
      leftRowStride: left.rowStride * elementBytes,
      leftInnerStride: left.columnStride * elementBytes,
      rightOffsets: rightOffsets + first * 4,
      rightInnerStride: right.rowStride * elementBytes,
      rightColumnStride: right.columnStride * elementBytes,
      packedLeft: packedLeft + first * paddedRows * inner * elementBytes,
      packedRight: packedRight + first * inner * paddedColumns * elementBytes,
      out: outStart + first * paddedRows * paddedColumns * elementBytes,
    }, threaded, threaded ? whilePosted : undefined);
  }
  return { outView: new View(buffer, outStart, batch * paddedRows * paddedColumns), paddedRows, paddedColumns };
}
