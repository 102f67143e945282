/**
 * A WebAssembly SIMD matrix-product kernel, assembled at run time from the instructions below
 * (no toolchain, no committed binary). One function per dtype:
 *
 *   matmul(a, b, c, rows, inner, columns)   // byte offsets into memory; c += a · b
 *
 * a is rows×inner, b is inner×columns, c is rows×columns, all row-major; columns must be a
 * multiple of the vector width (4 float32 or 2 float64 lanes): the caller pads. The loop order is
 * i-k-j with k unrolled by two: c[i, j:j+w] += a[i,k]·b[k, j:j+w] + a[i,k+1]·b[k+1, j:j+w].
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

/** The body of matmul(a, b, c, rows, inner, columns) for one element type. */
function matmulBody(lanes: Lanes): number[] {
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

function matmulModuleBytes(): Uint8Array {
  const functionType = [0x60, ...vector([[I32], [I32], [I32], [I32], [I32], [I32]]), ...vector([])];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vector([functionType])),
    ...section(2, vector([[...name('env'), ...name('memory'), 0x02, 0x00, ...unsignedLeb(1)]])),
    ...section(3, vector([[0], [0]])),
    ...section(7, vector([[...name('matmulFloat32'), 0x00, 0], [...name('matmulFloat64'), 0x00, 1]])),
    ...section(10, vector([matmulBody(float32), matmulBody(float64)])),
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
  matmulFloat32: MatmulExport;
  matmulFloat64: MatmulExport;
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
    instance = { memory, matmulFloat32: exports.matmulFloat32, matmulFloat64: exports.matmulFloat64 };
  } catch {
    instance = null;
  }
  return instance;
}
