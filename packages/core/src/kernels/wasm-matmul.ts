/**
 * WebAssembly SIMD matrix-product kernels, assembled at run time from the instructions below
 * (no toolchain, no committed binary). Per dtype, with byte offsets into memory and c row-major:
 * - the row kernel, row(a, b, c, rows, inner, columns): c += a·b, a and b row-major, i-k-j order
 *   with k unrolled by two; columns a multiple of one vector. Best for few rows (conv layers'
 *   weight × columns), where b is used too few times to pack.
 * - the blocked kernel, blocked(a, b, c, rows, inner, columns, accumulate): c = a·b (or c += a·b),
 *   a and b packed in panels by the packing kernel: a 4-row × 2-vector block of c stays in eight
 *   SIMD registers for the whole k loop; per k it loads two vectors of b and splats four scalars
 *   of a (side by side in packed a) for eight multiply-adds. rows a multiple of 4, columns of two
 *   vectors, inner at least 1. (Larger blocks measured slower: V8 then spills registers.)
 * - the packing kernel, pack(...): a strided matrix into that panel layout (lanes that lie side by
 *   side in memory, as in b's rows, copied a vector at a time).
 * - the compacting kernel, compactRows(...): padded products' rows into one contiguous run.
 * - the outer-product kernel, outer(a, b, c, rows, columns): c = a ⊗ b for a column a and a row b
 *   (a product with inner size 1), c only written; columns a multiple of one vector.
 * The memory is shared where possible, so that a worker thread can run the same kernels on it
 * (matmul-threads.ts). The row kernel's caller pads its operands with zeros (matmul.ts).
 */

import { I32, V128, end, get, i32Add as add, i32Const as constant, i32Mul as mul, loop, name, section, set, simd, unsignedLeb, vector, webAssemblyApi, type WasmMemory } from './wasm-assembly.js';

const lessThan = [0x48];
const repeatIf = [0x0d, 0x00];

interface Lanes {
  bytes: number;
  width: number;
  loadScalar: number[];
  splat: number[];
  addVectors: number[];
  mulVectors: number[];
}

const float32: Lanes = { bytes: 4, width: 4, loadScalar: [0x2a, 2, 0], splat: simd(0x13), addVectors: simd(0xe4), mulVectors: simd(0xe6) };
const float64: Lanes = { bytes: 8, width: 2, loadScalar: [0x2b, 3, 0], splat: simd(0x14), addVectors: simd(0xf0), mulVectors: simd(0xf2) };

/** The row kernel: c += a · b with the i-k-j loop order (c must start at zero). */
function rowKernelBody(lanes: Lanes): number[] {
  // params 0..5: a b c rows inner columns; i32 locals 6..: i k j cRow aRow bRow rowBytes bNext; v128 locals: x y
  const [a, b, c, rows, inner, columns] = [0, 1, 2, 3, 4, 5];
  const [i, k, j, cRow, aRow, bRow, rowBytes, bNext, x, y] = [6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  const load = simd(0x00, 4, 0);
  const store = simd(0x0b, 4, 0);
  const vectorBytes = 16;
  const pairedInner = [get(inner), constant(1), [0x75] /* i32.shr_s */, constant(1), [0x74] /* i32.shl */].flat();
  const jLoop = (twoRows: boolean) => [
    constant(0), set(j),
    loop,
      // c[j] += x · b[k][j] (+ y · b[k+1][j])
      get(cRow), get(j), add,
      get(cRow), get(j), add, load,
      get(x), get(bRow), get(j), add, load, lanes.mulVectors,
      ...(twoRows ? [get(y), get(bNext), get(j), add, load, lanes.mulVectors, lanes.addVectors] : []),
      lanes.addVectors,
      store,
      get(j), constant(vectorBytes), add, set(j),
      get(j), get(rowBytes), lessThan, repeatIf,
    end,
  ].flat();
  const code = [
    get(columns), constant(lanes.bytes), mul, set(rowBytes),
    constant(0), set(i),
    loop,
      get(c), get(i), get(rowBytes), mul, add, set(cRow),
      get(a), get(i), get(inner), mul, constant(lanes.bytes), mul, add, set(aRow),
      constant(0), set(k),
      // pairs of k: x = a[i][k], y = a[i][k+1]
      [0x02, 0x40], // block (skipped when inner < 2)
        get(k), ...pairedInner, lessThan, [0x45] /* i32.eqz */, [0x0d, 0x00] /* br_if block */,
        loop,
          get(aRow), get(k), constant(lanes.bytes), mul, add, lanes.loadScalar, lanes.splat, set(x),
          get(aRow), get(k), constant(lanes.bytes), mul, add, constant(lanes.bytes), add, lanes.loadScalar, lanes.splat, set(y),
          get(b), get(k), get(rowBytes), mul, add, set(bRow),
          get(bRow), get(rowBytes), add, set(bNext),
          ...jLoop(true),
          get(k), constant(2), add, set(k),
          get(k), ...pairedInner, lessThan, repeatIf,
        end,
      end,
      // the last k when inner is odd
      [0x02, 0x40],
        get(k), get(inner), lessThan, [0x45], [0x0d, 0x00],
        get(aRow), get(k), constant(lanes.bytes), mul, add, lanes.loadScalar, lanes.splat, set(x),
        get(b), get(k), get(rowBytes), mul, add, set(bRow),
        ...jLoop(false),
      end,
      get(i), constant(1), add, set(i),
      get(i), get(rows), lessThan, repeatIf,
    end,
  ].flat();
  const locals = vector([[...unsignedLeb(8), I32], [...unsignedLeb(2), V128]]);
  const body = [...locals, ...code, ...end];
  return [...unsignedLeb(body.length), ...body];
}

/** The outer-product kernel: c = a ⊗ b (c[i][j] = a[i] · b[j]), a a column, b a row; c is only written. */
function outerKernelBody(lanes: Lanes): number[] {
  // params 0..4: a b c rows columns; i32 locals 5..: i j cRow rowBytes; v128 local: x
  const [a, b, c, rows, columns] = [0, 1, 2, 3, 4];
  const [i, j, cRow, rowBytes, x] = [5, 6, 7, 8, 9];
  const load = simd(0x00, 4, 0);
  const store = simd(0x0b, 4, 0);
  const code = [
    get(columns), constant(lanes.bytes), mul, set(rowBytes),
    constant(0), set(i),
    loop,
      get(c), get(i), get(rowBytes), mul, add, set(cRow),
      get(a), get(i), constant(lanes.bytes), mul, add, lanes.loadScalar, lanes.splat, set(x),
      constant(0), set(j),
      loop,
        // c[i][j] = x · b[j]
        get(cRow), get(j), add,
        get(x), get(b), get(j), add, load, lanes.mulVectors,
        store,
        get(j), constant(16), add, set(j),
        get(j), get(rowBytes), lessThan, repeatIf,
      end,
      get(i), constant(1), add, set(i),
      get(i), get(rows), lessThan, repeatIf,
    end,
  ].flat();
  const locals = vector([[...unsignedLeb(4), I32], [...unsignedLeb(1), V128]]);
  const body = [...locals, ...code, ...end];
  return [...unsignedLeb(body.length), ...body];
}

/** Rows and SIMD vectors of c held in registers by the blocked kernel. */
export interface BlockShape {
  rows: number;
  vectors: number;
}

/**
 * The blocked kernel: c (+)= a · b over packed a and b with a (rows × vectors) register block.
 * Per k it loads `vectors` vectors of b and splats `rows` scalars of a (contiguous in packed a).
 */
function blockedKernelBody(lanes: Lanes, block: BlockShape): number[] {
  // params: a b c rows inner columns accumulate; i32 locals: i j kLeft aPointer bPointer cPointer rowBytes aPanel aPanelBytes;
  // v128 locals: the accumulators (row r, vector v at 16 + r·vectors + v), then the loaded vectors of b, then the splatted a
  const [a, b, c, rows, inner, columns, accumulate] = [0, 1, 2, 3, 4, 5, 6];
  const [i, j, kLeft, aPointer, bPointer, cPointer, rowBytes, aPanel, aPanelBytes] = [7, 8, 9, 10, 11, 12, 13, 14, 15];
  const accumulatorCount = block.rows * block.vectors;
  const accumulator = (row: number, vectorIndex: number) => 16 + row * block.vectors + vectorIndex;
  const bVector = (vectorIndex: number) => 16 + accumulatorCount + vectorIndex;
  const splatted = 16 + accumulatorCount + block.vectors;
  const memoryArgument = (offset: number) => [4, ...unsignedLeb(offset)];
  const load = (offset: number) => simd(0x00, ...memoryArgument(offset));
  const store = (offset: number) => simd(0x0b, ...memoryArgument(offset));
  const loadSplat = (offset: number) => simd(lanes.bytes === 4 ? 0x09 : 0x0a, lanes.bytes === 4 ? 2 : 3, ...unsignedLeb(offset));
  const zeroVector = simd(0x0c, ...new Array<number>(16).fill(0));
  const blockRows = Array.from({ length: block.rows }, (_, row) => row);
  const blockVectors = Array.from({ length: block.vectors }, (_, vectorIndex) => vectorIndex);
  const multiplyAdd = (row: number) => [
    get(aPointer), loadSplat(row * lanes.bytes), set(splatted),
    ...blockVectors.map((v) => [get(accumulator(row, v)), get(splatted), get(bVector(v)), lanes.mulVectors, lanes.addVectors, set(accumulator(row, v))].flat()),
  ].flat();
  const rowPointer = (row: number) => [get(cPointer), ...(row === 0 ? [] : [get(rowBytes), constant(row), mul, add])].flat();
  const storeRow = (row: number) => blockVectors.flatMap((v) => [
    ...rowPointer(row), get(accumulator(row, v)), store(16 * v),
  ]);
  const addRow = (row: number) => blockVectors.flatMap((v) => [
    ...rowPointer(row),
    ...rowPointer(row), load(16 * v), get(accumulator(row, v)), lanes.addVectors,
    store(16 * v),
  ]);
  const code = [
    get(columns), constant(lanes.bytes), mul, set(rowBytes),
    get(inner), constant(block.rows * lanes.bytes), mul, set(aPanelBytes),
    get(a), set(aPanel),
    constant(0), set(i),
    loop,
      // packed b's panels follow each other: the k loop leaves bPointer at the next one
      get(b), set(bPointer),
      constant(0), set(j),
      loop,
        ...blockRows.flatMap((row) => blockVectors.flatMap((v) => [zeroVector, set(accumulator(row, v))])).flat(),
        get(aPanel), set(aPointer),
        get(inner), set(kLeft),
        loop,
          ...blockVectors.flatMap((v) => [get(bPointer), load(16 * v), set(bVector(v))]).flat(),
          ...blockRows.flatMap(multiplyAdd),
          get(aPointer), constant(block.rows * lanes.bytes), add, set(aPointer),
          get(bPointer), constant(block.vectors * 16), add, set(bPointer),
          get(kLeft), constant(1), [0x6b] /* i32.sub */, [0x22, kLeft] /* local.tee */, repeatIf,
        end,
        get(c), get(i), get(rowBytes), mul, add, get(j), add, set(cPointer),
        get(accumulate), [0x04, 0x40] /* if */,
          ...blockRows.flatMap(addRow).flat(),
        [0x05] /* else */,
          ...blockRows.flatMap(storeRow).flat(),
        end,
        get(j), constant(block.vectors * 16), add, set(j),
        get(j), get(rowBytes), lessThan, repeatIf,
      end,
      get(aPanel), get(aPanelBytes), add, set(aPanel),
      get(i), constant(block.rows), add, set(i),
      get(i), get(rows), lessThan, repeatIf,
    end,
  ].flat();
  const locals = vector([[...unsignedLeb(9), I32], [...unsignedLeb(accumulatorCount + block.vectors + 1), V128]]);
  const body = [...locals, ...code, ...end];
  return [...unsignedLeb(body.length), ...body];
}

/**
 * The packing kernel: copies a strided matrix (a, or b) into the blocked kernel's panel layout.
 * "Lanes" are a's rows or b's columns: per block of innerBlock inner indices, panels of panelLanes
 * lanes, each panel k by k with its lanes side by side; a panel's lanes past laneCount are zeros.
 * Strides are in bytes.
 */
function packKernelBody(lanes: Lanes): number[] {
  const [source, target, inner, innerStride, laneCount, paddedLanes, laneStride, panelLanes, innerBlock] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [firstK, depth, firstLane, k, lane, width, to, kPointer, lanePointer, vectorLanes] = [9, 10, 11, 12, 13, 14, 15, 16, 17, 18];
  const subtract = [0x6b];
  const select = [0x1b];
  const minimum = (x: number[], y: number[]) => [...x, ...y, ...x, ...y, lessThan, select];
  const store = lanes.bytes === 4 ? [0x38, 2, 0] : [0x39, 3, 0];
  const zero = lanes.bytes === 4 ? [0x43, 0, 0, 0, 0] /* f32.const 0 */ : [0x44, 0, 0, 0, 0, 0, 0, 0, 0] /* f64.const 0 */;
  const branchIfNot = [0x45 /* i32.eqz */, 0x0d, 0x00];
  const code = [
    get(target), set(to),
    constant(0), set(firstK),
    loop,
      ...minimum(get(innerBlock), [get(inner), get(firstK), subtract].flat()), set(depth),
      constant(0), set(firstLane),
      loop,
        ...minimum(get(panelLanes), [get(laneCount), get(firstLane), subtract].flat()), set(width),
        get(source), get(firstK), get(innerStride), mul, add, get(firstLane), get(laneStride), mul, add, set(kPointer),
        // lanes side by side in the source (b's rows): the whole vectors of the panel's width are copied as vectors
        get(width), constant(-lanes.width), [0x71] /* i32.and */, constant(0), get(laneStride), constant(lanes.bytes), [0x46] /* i32.eq */, select, set(vectorLanes),
        constant(0), set(k),
        loop,
          get(kPointer), set(lanePointer),
          constant(0), set(lane),
          [0x02, 0x40], // block (skipped when no whole vector is copied)
            get(vectorLanes), ...branchIfNot,
            loop,
              get(to), get(lane), constant(lanes.bytes), mul, add, get(lanePointer), simd(0x00, 0, 0) /* v128.load */, simd(0x0b, 0, 0) /* v128.store */,
              get(lanePointer), constant(16), add, set(lanePointer),
              get(lane), constant(lanes.width), add, [0x22, lane] /* local.tee */, get(vectorLanes), lessThan, repeatIf,
            end,
          end,
          [0x02, 0x40], // block (skipped when every lane is copied)
            get(lane), get(width), lessThan, ...branchIfNot,
            loop,
              get(to), get(lane), constant(lanes.bytes), mul, add, get(lanePointer), lanes.loadScalar, store,
              get(lanePointer), get(laneStride), add, set(lanePointer),
              get(lane), constant(1), add, [0x22, lane] /* local.tee */, get(width), lessThan, repeatIf,
            end,
          end,
          [0x02, 0x40], // block (skipped when the panel has no padding lane)
            get(lane), get(panelLanes), lessThan, ...branchIfNot,
            loop,
              get(to), get(lane), constant(lanes.bytes), mul, add, ...zero, store,
              get(lane), constant(1), add, [0x22, lane] /* local.tee */, get(panelLanes), lessThan, repeatIf,
            end,
          end,
          get(to), get(panelLanes), constant(lanes.bytes), mul, add, set(to),
          get(kPointer), get(innerStride), add, set(kPointer),
          get(k), constant(1), add, [0x22, k], get(depth), lessThan, repeatIf,
        end,
        get(firstLane), get(panelLanes), add, [0x22, firstLane], get(paddedLanes), lessThan, repeatIf,
      end,
      get(firstK), get(innerBlock), add, [0x22, firstK], get(inner), lessThan, repeatIf,
    end,
  ].flat();
  const locals = vector([[...unsignedLeb(10), I32]]);
  const body = [...locals, ...code, ...end];
  return [...unsignedLeb(body.length), ...body];
}

/**
 * The compacting kernel: drops the padding of a batch of padded products in place, so that the
 * result is one contiguous run from `start`: per matrix, the first `rows` of `paddedRows` rows, and
 * of each row its first rowBytes of paddedRowBytes (rowBytes a multiple of 4). Copies run forward
 * and the target never passes the source, so nothing is overwritten before it is read.
 */
function compactKernelBody(): number[] {
  const [start, batch, rows, paddedRows, rowBytes, paddedRowBytes] = [0, 1, 2, 3, 4, 5];
  const [matrix, row, from, to, offset, vectorBytes] = [6, 7, 8, 9, 10, 11];
  const branchIfNot = [0x45 /* i32.eqz */, 0x0d, 0x00];
  const code = [
    get(start), set(to),
    get(rowBytes), constant(-16), [0x71] /* i32.and */, set(vectorBytes),
    constant(0), set(matrix),
    loop,
      get(start), get(matrix), get(paddedRows), mul, get(paddedRowBytes), mul, add, set(from),
      constant(0), set(row),
      loop,
        constant(0), set(offset),
        [0x02, 0x40], // block (skipped when a row is shorter than a vector)
          get(vectorBytes), ...branchIfNot,
          loop,
            get(to), get(offset), add, get(from), get(offset), add, simd(0x00, 0, 0) /* v128.load */, simd(0x0b, 0, 0) /* v128.store */,
            get(offset), constant(16), add, [0x22, offset] /* local.tee */, get(vectorBytes), lessThan, repeatIf,
          end,
        end,
        [0x02, 0x40], // block (skipped when the row is whole vectors)
          get(offset), get(rowBytes), lessThan, ...branchIfNot,
          loop,
            get(to), get(offset), add, get(from), get(offset), add, [0x28, 2, 0] /* i32.load */, [0x36, 2, 0] /* i32.store */,
            get(offset), constant(4), add, [0x22, offset], get(rowBytes), lessThan, repeatIf,
          end,
        end,
        get(to), get(rowBytes), add, set(to),
        get(from), get(paddedRowBytes), add, set(from),
        get(row), constant(1), add, [0x22, row], get(rows), lessThan, repeatIf,
      end,
      get(matrix), constant(1), add, [0x22, matrix], get(batch), lessThan, repeatIf,
    end,
  ].flat();
  const locals = vector([[...unsignedLeb(6), I32]]);
  const body = [...locals, ...code, ...end];
  return [...unsignedLeb(body.length), ...body];
}

/** Register blocks of the blocked kernels (measured on Zen 4; x86 has sixteen SIMD registers). */
export const float32Block: BlockShape = { rows: 4, vectors: 2 };
export const float64Block: BlockShape = { rows: 4, vectors: 2 };

/** Pages the shared memory may grow to (4 GiB, WebAssembly's limit; only address space is reserved). */
export const MAXIMUM_PAGES = 65536;

export function matmulModuleBytes(shared: boolean, block32 = float32Block, block64 = float64Block): Uint8Array {
  const memoryLimits = shared ? [0x03, ...unsignedLeb(1), ...unsignedLeb(MAXIMUM_PAGES)] : [0x00, ...unsignedLeb(1)];
  const rowType = [0x60, ...vector([[I32], [I32], [I32], [I32], [I32], [I32]]), ...vector([])];
  const blockedType = [0x60, ...vector(new Array<number[]>(7).fill([I32])), ...vector([])];
  const packType = [0x60, ...vector(new Array<number[]>(9).fill([I32])), ...vector([])];
  const outerType = [0x60, ...vector(new Array<number[]>(5).fill([I32])), ...vector([])];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vector([rowType, blockedType, packType, rowType, outerType])),
    ...section(2, vector([[...name('env'), ...name('memory'), 0x02, ...memoryLimits]])),
    ...section(3, vector([[0], [0], [1], [1], [2], [2], [3], [4], [4]])),
    ...section(7, vector([
      [...name('rowFloat32'), 0x00, 0],
      [...name('rowFloat64'), 0x00, 1],
      [...name('blockedFloat32'), 0x00, 2],
      [...name('blockedFloat64'), 0x00, 3],
      [...name('packFloat32'), 0x00, 4],
      [...name('packFloat64'), 0x00, 5],
      [...name('compactRows'), 0x00, 6],
      [...name('outerFloat32'), 0x00, 7],
      [...name('outerFloat64'), 0x00, 8],
    ])),
    ...section(10, vector([rowKernelBody(float32), rowKernelBody(float64), blockedKernelBody(float32, block32), blockedKernelBody(float64, block64),
      packKernelBody(float32), packKernelBody(float64), compactKernelBody(), outerKernelBody(float32), outerKernelBody(float64),
    ])),
  ];
  return Uint8Array.from(bytes);
}

type RowKernel = (a: number, b: number, c: number, rows: number, inner: number, columns: number) => void;
type PackKernel = (source: number, target: number, inner: number, innerStride: number, lanes: number, paddedLanes: number, laneStride: number, panelLanes: number, innerBlock: number) => void;
type CompactKernel = (start: number, batch: number, rows: number, paddedRows: number, rowBytes: number, paddedRowBytes: number) => void;
type BlockedKernel = (a: number, b: number, c: number, rows: number, inner: number, columns: number, accumulate: number) => void;
type OuterKernel = (a: number, b: number, c: number, rows: number, columns: number) => void;

export type { WasmMemory };

export interface WasmMatmul {
  /** The compiled module, for a worker to instantiate on the same memory. */
  module: object;
  memory: WasmMemory;
  /** Whether memory is shared, so that a worker thread can compute on it. */
  shared: boolean;
  rowFloat32: RowKernel;
  rowFloat64: RowKernel;
  blockedFloat32: BlockedKernel;
  blockedFloat64: BlockedKernel;
  packFloat32: PackKernel;
  packFloat64: PackKernel;
  compactRows: CompactKernel;
  outerFloat32: OuterKernel;
  outerFloat64: OuterKernel;
}

let instance: WasmMatmul | null | undefined;
let unsharedInstance: WasmMatmul | null | undefined;
/** Compiled modules by whether their memory is shared; kept when the instance is released. */
const compiledModules = new Map<boolean, object>();

/**
 * Drops the kernels' instances and with them their memory (WebAssembly memory never shrinks): the
 * next wasmMatmul() or unsharedWasmMatmul() instantiates the compiled module again on a fresh
 * one-page memory.
 */
export function releaseWasmMatmul(): void {
  instance = undefined;
  unsharedInstance = undefined;
}

type WebAssemblyNamespace = NonNullable<ReturnType<typeof webAssemblyApi>>;

/** Shared memory where the runtime offers it, else plain memory. */
function createMemory(WebAssembly: WebAssemblyNamespace): { memory: WasmMemory; shared: boolean } {
  try {
    if (typeof SharedArrayBuffer === 'function') return { memory: new WebAssembly.Memory({ initial: 1, maximum: MAXIMUM_PAGES, shared: true }), shared: true };
  } catch {
    // no shared memory here: single-threaded
  }
  return { memory: new WebAssembly.Memory({ initial: 1 }), shared: false };
}

/** The kernels on `memory`, or null where the module does not validate (no WebAssembly SIMD). */
function instantiate(WebAssembly: WebAssemblyNamespace, memory: WasmMemory, shared: boolean): WasmMatmul | null {
  let module = compiledModules.get(shared);
  if (module === undefined) {
    const bytes = matmulModuleBytes(shared);
    if (!WebAssembly.validate(bytes)) return null;
    module = new WebAssembly.Module(bytes);
    compiledModules.set(shared, module);
  }
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Omit<WasmMatmul, 'module' | 'memory' | 'shared'>;
  return { module, memory, shared, ...exports };
}

/** The compiled kernels, or null where WebAssembly SIMD is not available. */
export function wasmMatmul(): WasmMatmul | null {
  if (instance !== undefined) return instance;
  const WebAssembly = webAssemblyApi();
  instance = null;
  try {
    if (WebAssembly === undefined) return instance;
    const { memory, shared } = createMemory(WebAssembly);
    instance = instantiate(WebAssembly, memory, shared);
  } catch {
    instance = null;
  }
  return instance;
}

/**
 * The same kernels on a memory of their own that is never shared (no worker computes on it), or
 * null where WebAssembly SIMD is not available. For results copied out block by block right after
 * they are computed (the outer product): typed-array copies out of shared memory are slower.
 */
export function unsharedWasmMatmul(): WasmMatmul | null {
  if (unsharedInstance !== undefined) return unsharedInstance;
  const WebAssembly = webAssemblyApi();
  unsharedInstance = null;
  try {
    if (WebAssembly === undefined) return unsharedInstance;
    unsharedInstance = instantiate(WebAssembly, new WebAssembly.Memory({ initial: 1 }), false);
  } catch {
    unsharedInstance = null;
  }
  return unsharedInstance;
}
