/**
 * Byte encoders for WebAssembly modules assembled at run time (no toolchain, no committed binary):
 * integers in LEB128, sections, vectors, names, and the instructions the kernels use.
 */

export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;

export function unsignedLeb(value: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
}

export function signedLeb(value: number): number[] {
  const bytes: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0);
    bytes.push(done ? byte : byte | 0x80);
    if (done) return bytes;
  }
}

export function section(id: number, content: number[]): number[] {
  return [id, ...unsignedLeb(content.length), ...content];
}

export function vector(items: number[][]): number[] {
  return [...unsignedLeb(items.length), ...items.flat()];
}

export function name(text: string): number[] {
  return vector([...text].map((character) => [character.charCodeAt(0)]));
}

/**
 * A module importing memory `env.memory` and exporting one function per body under the given
 * names; each function has the given parameter types, optional result type and extra locals
 * (as [count, type] runs).
 */
export function moduleBytes(functions: { name: string; parameters: number[]; result?: number; locals: [number, number][]; body: number[] }[]): Uint8Array {
  const types = functions.map((f) => [0x60, ...vector(f.parameters.map((type) => [type])), ...(f.result === undefined ? [0] : [1, f.result])]);
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vector(types)),
    ...section(2, vector([[...name('env'), ...name('memory'), 0x02, 0x00, 1]])), // memory of at least one page
    ...section(3, vector(functions.map((_, index) => unsignedLeb(index)))),
    ...section(7, vector(functions.map((f, index) => [...name(f.name), 0x00, ...unsignedLeb(index)]))),
    ...section(10, vector(functions.map((f) => {
      const code = [...vector(f.locals.map(([count, type]) => [...unsignedLeb(count), type])), ...f.body, 0x0b];
      return [...unsignedLeb(code.length), ...code];
    }))),
  ]);
}

// instructions
export const get = (local: number): number[] => [0x20, ...unsignedLeb(local)];
export const set = (local: number): number[] => [0x21, ...unsignedLeb(local)];
export const tee = (local: number): number[] => [0x22, ...unsignedLeb(local)];
export const i32Const = (value: number): number[] => [0x41, ...signedLeb(value)];
export const i32Add = [0x6a];
export const i32Mul = [0x6c];
export const i32GreaterOrEqualUnsigned = [0x4f];
export const block = [0x02, 0x40];
export const loop = [0x03, 0x40];
export const end = [0x0b];
export const branch = (depth: number): number[] => [0x0c, ...unsignedLeb(depth)];
export const branchIf = (depth: number): number[] => [0x0d, ...unsignedLeb(depth)];
export const simd = (opcode: number, ...immediates: number[]): number[] => [0xfd, ...unsignedLeb(opcode), ...immediates];
export const f64Add = [0xa0];
export const f64PromoteF32 = [0xbb];

/** The part of the WebAssembly JS API the kernels use (typed here: the project does not load the DOM lib). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

export interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

/** The runtime's WebAssembly object, or undefined where there is none. */
export const webAssemblyApi = (): WebAssemblyApi | undefined => (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
