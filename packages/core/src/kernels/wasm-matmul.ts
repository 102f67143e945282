/**
 * WebAssembly SIMD matrix-product kernels, assembled at run time from the instructions below
 * (no toolchain, no committed binary). Two kernels per dtype, each
 *
 *   kernel(a, b, c, rows, inner, columns)   // byte offsets into memory
 *
 * with a rows×inner, c rows×columns, row-major:
 * - the row kernel, c += a·b, b row-major: i-k-j order with k unrolled by two,
 *   c[i, j:j+w] += a[i,k]·b[k, j:j+w] + a[i,k+1]·b[k+1, j:j+w]; columns a multiple of one vector.
 *   Best for few rows (conv layers' weight × columns), where b is used too few times to pack.
 * - the blocked kernel, c = a·b, b packed in panels (for each strip of two vectors of columns,
 *   its inner rows one after another): a 4-row × 2-vector block of c stays in eight SIMD
 *   registers for the whole k loop, so per k it loads two vectors of b and four scalars of a for
 *   eight multiply-adds. rows a multiple of 4, columns of two vectors, inner at least 1.
 * The caller pads with zeros (matmul.ts).
 */

const I32 = 0x7f;
const V128 = 0x7b;

function unsignedLeb(value: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
}

function signedLeb(value: number): number[] {
  const bytes: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0);
    bytes.push(done ? byte : byte | 0x80);
    if (done) return bytes;
  }
}

function section(id: number, content: number[]): number[] {
  return [id, ...unsignedLeb(content.length), ...content];
}

function vector(items: number[][]): number[] {
  return [...unsignedLeb(items.length), ...items.flat()];
}

function name(text: string): number[] {
  return vector([...text].map((character) => [character.charCodeAt(0)]));
}

// instruction encoders
const get = (local: number) => [0x20, ...unsignedLeb(local)];
const set = (local: number) => [0x21, ...unsignedLeb(local)];
const constant = (value: number) => [0x41, ...signedLeb(value)];
const add = [0x6a];
const mul = [0x6c];
const lessThan = [0x48];
const loop = [0x03, 0x40];
const end = [0x0b];
const repeatIf = [0x0d, 0x00];
const simd = (opcode: number, ...immediates: number[]) => [0xfd, ...unsignedLeb(opcode), ...immediates];

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

/** The blocked kernel: c = a · b with a 4-row × 2-vector register block over packed b. */
function blockedKernelBody(lanes: Lanes): number[] {
  // params: a b c rows inner columns; i32 locals: i j kLeft aPointer bPointer cPointer rowBytes aRowBytes;
  // v128 locals: eight accumulators (row r, vector v at 16 + 2r + v), bLow, bHigh, splatted
  const [a, b, c, rows, inner] = [0, 1, 2, 3, 4];
  const columns = 5;
  const [i, j, kLeft, aPointer, bPointer, cPointer, rowBytes, aRowBytes] = [6, 7, 8, 9, 10, 11, 12, 13];
  const accumulator = (row: number, half: number) => 14 + 2 * row + half;
  const [bLow, bHigh, splatted] = [22, 23, 24];
  const load = (offset: number) => simd(0x00, 4, ...unsignedLeb(offset));
  const store = (offset: number) => simd(0x0b, 4, ...unsignedLeb(offset));
  const zeroVector = simd(0x0c, ...new Array<number>(16).fill(0));
  const rows4 = [0, 1, 2, 3];
  const multiplyAdd = (row: number) => [
    // splatted = a[i + row][k]; acc[row] += splatted · (bLow, bHigh)
    get(aPointer), ...(row === 0 ? [] : [get(aRowBytes), constant(row), mul, add]), lanes.loadScalar, lanes.splat, set(splatted),
    get(accumulator(row, 0)), get(splatted), get(bLow), lanes.mulVectors, lanes.addVectors, set(accumulator(row, 0)),
    get(accumulator(row, 1)), get(splatted), get(bHigh), lanes.mulVectors, lanes.addVectors, set(accumulator(row, 1)),
  ].flat();
  const storeRow = (row: number) => [
    get(cPointer), ...(row === 0 ? [] : [get(rowBytes), constant(row), mul, add]), get(accumulator(row, 0)), store(0),
    get(cPointer), ...(row === 0 ? [] : [get(rowBytes), constant(row), mul, add]), get(accumulator(row, 1)), store(16),
  ].flat();
  const code = [
    get(columns), constant(lanes.bytes), mul, set(rowBytes),
    get(inner), constant(lanes.bytes), mul, set(aRowBytes),
    constant(0), set(i),
    loop,
      constant(0), set(j),
      loop,
        ...rows4.flatMap((row) => [zeroVector, set(accumulator(row, 0)), zeroVector, set(accumulator(row, 1))]).flat(),
        get(a), get(i), get(aRowBytes), mul, add, set(aPointer),
        get(b), get(j), get(inner), mul, add, set(bPointer),
        get(inner), set(kLeft),
        loop,
          get(bPointer), load(0), set(bLow),
          get(bPointer), load(16), set(bHigh),
          ...rows4.flatMap(multiplyAdd),
          get(aPointer), constant(lanes.bytes), add, set(aPointer),
          get(bPointer), constant(32), add, set(bPointer),
          get(kLeft), constant(1), [0x6b] /* i32.sub */, [0x22, kLeft] /* local.tee */, repeatIf,
        end,
        get(c), get(i), get(rowBytes), mul, add, get(j), add, set(cPointer),
        ...rows4.flatMap(storeRow),
        get(j), constant(32), add, set(j),
        get(j), get(rowBytes), lessThan, repeatIf,
      end,
      get(i), constant(4), add, set(i),
      get(i), get(rows), lessThan, repeatIf,
    end,
  ].flat();
  const locals = vector([[...unsignedLeb(8), I32], [...unsignedLeb(11), V128]]);
  const body = [...locals, ...code, ...end];
  return [...unsignedLeb(body.length), ...body];
}

function matmulModuleBytes(): Uint8Array {
  const functionType = [0x60, ...vector([[I32], [I32], [I32], [I32], [I32], [I32]]), ...vector([])];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vector([functionType])),
    ...section(2, vector([[...name('env'), ...name('memory'), 0x02, 0x00, ...unsignedLeb(1)]])),
    ...section(3, vector([[0], [0], [0], [0]])),
    ...section(7, vector([
      [...name('rowFloat32'), 0x00, 0],
      [...name('rowFloat64'), 0x00, 1],
      [...name('blockedFloat32'), 0x00, 2],
      [...name('blockedFloat64'), 0x00, 3],
    ])),
    ...section(10, vector([rowKernelBody(float32), rowKernelBody(float64), blockedKernelBody(float32), blockedKernelBody(float64)])),
  ];
  return Uint8Array.from(bytes);
}

type MatmulExport = (a: number, b: number, c: number, rows: number, inner: number, columns: number) => void;

/** The part of the WebAssembly JS API used here (typed locally: the project does not load the DOM lib). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Memory: new (descriptor: { initial: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

export interface WasmMatmul {
  memory: WasmMemory;
  rowFloat32: MatmulExport;
  rowFloat64: MatmulExport;
  blockedFloat32: MatmulExport;
  blockedFloat64: MatmulExport;
}

let instance: WasmMatmul | null | undefined;

/** The compiled kernel, or null where WebAssembly SIMD is not available. */
export function wasmMatmul(): WasmMatmul | null {
  if (instance !== undefined) return instance;
  const WebAssembly = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
  try {
    const bytes = matmulModuleBytes();
    if (WebAssembly === undefined || !WebAssembly.validate(bytes)) {
      instance = null;
      return instance;
    }
    const memory = new WebAssembly.Memory({ initial: 1 });
    const module = new WebAssembly.Module(bytes);
    const exports = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Omit<WasmMatmul, 'memory'>;
    instance = { memory, ...exports };
  } catch {
    instance = null;
  }
  return instance;
}
