import { allocate, type DType, type FloatArray } from '../dtype.js';
import { contiguousData, createNd, dtypeOfNd, sizeOf, type FloatNdArray } from './layout.js';
import { wasmMatmul, type WasmMatmul } from './wasm-matmul.js';

export type MatmulBackend = 'auto' | 'wasm' | 'js';

let backend: MatmulBackend = 'auto';

/**
 * Chooses the matrix-product kernel: 'wasm' (WebAssembly SIMD), 'js' (plain loops, the fallback
 * where WebAssembly SIMD is missing) or 'auto' (wasm when available and the product is not tiny).
 */
export function setMatmulBackend(choice: MatmulBackend): void {
  if (choice !== 'auto' && choice !== 'wasm' && choice !== 'js') {
    throw new Error(`setMatmulBackend: expected 'auto', 'wasm' or 'js', got ${JSON.stringify(choice)}`);
  }
  if (choice === 'wasm' && wasmMatmul() === null) throw new Error('setMatmulBackend: WebAssembly SIMD is not available here');
  backend = choice;
}

export function getMatmulBackend(): MatmulBackend {
  return backend;
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
  const left = contiguousData(a);
  const right = contiguousData(b);
  const wasm = backend === 'js' ? null : wasmMatmul();
  const useWasm = wasm !== null && (backend === 'wasm' || rows * inner * columns >= WASM_MIN_WORK) && inner > 0 && rows > 0 && columns > 0;
  const out = useWasm
    ? matmulWasm(wasm, dtype, left, right, batch, rows, inner, columns)
    : matmulJs(dtype, left, right, batch, rows, inner, columns);
  return createNd(dtype, [...batchShape, rows, columns], out);
}

/** i-k-j loops so the innermost loop walks b and the output contiguously; rows accumulate in float64. */
function matmulJs(dtype: DType, left: FloatArray, right: FloatArray, batch: number, rows: number, inner: number, columns: number): FloatArray {
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
  if (missing > 0) wasm.memory.grow(Math.ceil(missing / PAGE_BYTES));
}

const align16 = (bytes: number) => Math.ceil(bytes / 16) * 16;

/**
 * Copies the operands into WebAssembly memory (b and the output with columns padded to the
 * vector width), runs the SIMD kernel per batch element and copies the result out.
 */
function matmulWasm(wasm: WasmMatmul, dtype: DType, left: FloatArray, right: FloatArray, batch: number, rows: number, inner: number, columns: number): FloatArray {
  const elementBytes = dtype === 'float64' ? 8 : 4;
  const lanes = 16 / elementBytes;
  const padded = Math.ceil(columns / lanes) * lanes;
  const leftBytes = align16(batch * rows * inner * elementBytes);
  const rightBytes = align16(batch * inner * padded * elementBytes);
  const outBytes = batch * rows * padded * elementBytes;
  ensureMemory(wasm, leftBytes + rightBytes + outBytes);
  const View = dtype === 'float64' ? Float64Array : Float32Array;
  const buffer = wasm.memory.buffer;
  new View(buffer, 0, left.length).set(left);
  const rightView = new View(buffer, leftBytes, batch * inner * padded);
  if (padded === columns) rightView.set(right);
  else {
    rightView.fill(0);
    for (let row = 0; row < batch * inner; row++) rightView.set(right.subarray(row * columns, (row + 1) * columns), row * padded);
  }
  const outView = new View(buffer, leftBytes + rightBytes, batch * rows * padded);
  outView.fill(0);
  const kernel = dtype === 'float64' ? wasm.matmulFloat64 : wasm.matmulFloat32;
  for (let batchIndex = 0; batchIndex < batch; batchIndex++) {
    kernel(
      batchIndex * rows * inner * elementBytes,
      leftBytes + batchIndex * inner * padded * elementBytes,
      leftBytes + rightBytes + batchIndex * rows * padded * elementBytes,
      rows,
      inner,
      padded,
    );
  }
  const out = allocate(dtype, batch * rows * columns);
  if (padded === columns) out.set(outView);
  else for (let row = 0; row < batch * rows; row++) out.set(outView.subarray(row * padded, row * padded + columns), row * columns);
  return out;
}
