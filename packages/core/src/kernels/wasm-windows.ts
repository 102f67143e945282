import type { DataArray } from '../dtype.js';
import { registerScratchRelease } from './scratch.js';
import {
  I32, V128, block, branch, branchIf, end, f64Add, f64PromoteF32, get, i32Add, i32Const, i32GreaterOrEqualUnsigned, i32Mul, loop,
  moduleBytes, set, simd, tee, webAssemblyApi, type WasmMemory,
} from './wasm-assembly.js';

/**
 * WebAssembly versions of windows.ts's unfold (im2col) and fold (col2im) loops. Both walk the same
 * table of rows of window elements that lie inside the image (windows.ts's insideRows: per row,
 * its offset in the plane's columns, the image offset of position 0 and the positions first ≤ ow <
 * end inside), plane by plane. unfold copies each row's elements (16 bytes at a time where the
 * stride along W is 1); fold adds each row's values into float64 sums of the pixels, row by row
 * in table order, so every pixel's sum runs in the JavaScript loop's order and the results are
 * bit-identical. The planes go through WebAssembly memory in chunks of whole planes.
 */

const i32Load = (offset = 0): number[] => [0x28, 2, offset];
const i32Store = [0x36, 2, 0];
const i64Load = [0x29, 3, 0];
const i64Store = [0x37, 3, 0];
const f32Load = [0x2a, 2, 0];
const f64Load = [0x2b, 3, 0];
const f64Store = [0x39, 3, 0];
const i32Sub = [0x6b];
const i32Eq = [0x46];
const i32Eqz = [0x45];
const i32LessThanUnsigned = [0x49];
const ifVoid = [0x04, 0x40];
const orElse = [0x05];
const vectorLoad = (offset = 0): number[] => simd(0x00, 0, offset);
const vectorStore = (offset = 0): number[] => simd(0x0b, 0, offset);
const f64x2Add = simd(0xf0);
const promoteLow = simd(0x5f); // f64x2.promote_low_f32x4
const highHalf = simd(0x0d, 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15); // lanes 2, 3 of f32x4 to 0, 1

/** local += constant (i32). */
const addTo = (local: number, amount: number | number[]): number[] =>
  [...get(local), ...(typeof amount === 'number' ? i32Const(amount) : amount), ...i32Add, ...set(local)];

/**
 * The loop over planes and rows shared by both kernels. Parameters 0–6: source, target, rows
 * (address of the table), rowsEnd (its end address), planes, sourcePlaneBytes, targetPlaneBytes;
 * `plane` and `row` are the locals it counts in. `perRow` finds the table entry's address in `row`
 * and the plane's source and target in parameters 0 and 1.
 */
function planeLoop(plane: number, row: number, perRow: number[]): number[] {
  const [source, target, rows, rowsEnd, planes, sourcePlaneBytes, targetPlaneBytes] = [0, 1, 2, 3, 4, 5, 6];
  return [
    ...i32Const(0), ...set(plane),
    ...block, ...loop,
    ...get(plane), ...get(planes), ...i32GreaterOrEqualUnsigned, ...branchIf(1),
    ...get(rows), ...set(row),
    ...block, ...loop,
    ...get(row), ...get(rowsEnd), ...i32GreaterOrEqualUnsigned, ...branchIf(1),
    ...perRow,
    ...addTo(row, 16),
    ...branch(0), ...end, ...end,
    ...addTo(source, [...get(sourcePlaneBytes)]), ...addTo(target, [...get(targetPlaneBytes)]), ...addTo(plane, 1),
    ...branch(0), ...end, ...end,
  ];
}

/**
 * unfold(image, columns, rows, rowsEnd, planes, imagePlaneBytes, columnPlaneBytes, strideBytes,
 * elementBytes): for each table row, columns[row + ow] = image[pixel + ow · stride] for its positions.
 */
function unfoldBody(): { parameters: number[]; locals: [number, number][]; body: number[] } {
  const [image, columns, strideBytes, elementBytes] = [0, 1, 7, 8];
  const [plane, row, to, from, bytes] = [9, 10, 11, 12, 13];
  return {
    parameters: [I32, I32, I32, I32, I32, I32, I32, I32, I32],
    locals: [[5, I32]],
    body: planeLoop(plane, row, [
      // first = table[row + 8]; to = columns + (table[row] + first) · elementBytes; from = image + table[row + 4] · elementBytes + first · strideBytes
      ...get(row), ...i32Load(8), ...tee(bytes),
      ...get(row), ...i32Load(0), ...i32Add, ...get(elementBytes), ...i32Mul, ...get(columns), ...i32Add, ...set(to),
      ...get(row), ...i32Load(4), ...get(elementBytes), ...i32Mul, ...get(image), ...i32Add,
      ...get(bytes), ...get(strideBytes), ...i32Mul, ...i32Add, ...set(from),
      // bytes = (end − first) · elementBytes: the elements left, as bytes
      ...get(row), ...i32Load(12), ...get(bytes), ...i32Sub, ...get(elementBytes), ...i32Mul, ...set(bytes),
      ...get(strideBytes), ...get(elementBytes), ...i32Eq,
      ...ifVoid,
      // contiguous: 16 bytes at a time, then 4
      ...block, ...loop,
      ...get(bytes), ...i32Const(16), ...i32LessThanUnsigned, ...branchIf(1),
      ...get(to), ...get(from), ...vectorLoad(), ...vectorStore(),
      ...addTo(to, 16), ...addTo(from, 16), ...addTo(bytes, -16),
      ...branch(0), ...end, ...end,
      ...block, ...loop,
      ...get(bytes), ...i32Eqz, ...branchIf(1),
      ...get(to), ...get(from), ...i32Load(0), ...i32Store,
      ...addTo(to, 4), ...addTo(from, 4), ...addTo(bytes, -4),
      ...branch(0), ...end, ...end,
      ...orElse,
      // strided: one element at a time
      ...block, ...loop,
      ...get(bytes), ...i32Eqz, ...branchIf(1),
      ...get(elementBytes), ...i32Const(4), ...i32Eq,
      ...ifVoid, ...get(to), ...get(from), ...i32Load(0), ...i32Store,
      ...orElse, ...get(to), ...get(from), ...i64Load, ...i64Store, ...end,
      ...addTo(to, [...get(elementBytes)]), ...addTo(from, [...get(strideBytes)]), ...get(bytes), ...get(elementBytes), ...i32Sub, ...set(bytes),
      ...branch(0), ...end, ...end,
      ...end,
    ]),
  };
}

/**
 * fold(values, sums, rows, rowsEnd, planes, valuePlaneBytes, sumPlaneBytes, sumStrideBytes) over
 * float32 or float64 values: for each table row, sums[pixel + ow · stride] += values[row + ow]
 * (float64 sums; float32 values promoted exactly), positions in ascending order.
 */
function foldBody(float32: boolean): { parameters: number[]; locals: [number, number][]; body: number[] } {
  const [values, sums, strideBytes] = [0, 1, 7];
  const [plane, row, from, to, count, vector] = [8, 9, 10, 11, 12, 13];
  const valueBytes = float32 ? 4 : 8;
  const lanes = float32 ? 4 : 2;
  const addPair = (valueVector: number[], sumOffset: number): number[] =>
    [...get(to), ...get(to), ...vectorLoad(sumOffset), ...valueVector, ...f64x2Add, ...vectorStore(sumOffset)];
  return {
    parameters: [I32, I32, I32, I32, I32, I32, I32, I32],
    locals: [[5, I32], [1, V128]],
    body: planeLoop(plane, row, [
      // first = table[row + 8]; from = values + (table[row] + first) · valueBytes; to = sums + table[row + 4] · 8 + first · strideBytes
      ...get(row), ...i32Load(8), ...tee(count),
      ...get(row), ...i32Load(0), ...i32Add, ...i32Const(valueBytes), ...i32Mul, ...get(values), ...i32Add, ...set(from),
      ...get(row), ...i32Load(4), ...i32Const(8), ...i32Mul, ...get(sums), ...i32Add,
      ...get(count), ...get(strideBytes), ...i32Mul, ...i32Add, ...set(to),
      ...get(row), ...i32Load(12), ...get(count), ...i32Sub, ...set(count),
      // contiguous pixels: a vector of values at a time
      ...get(strideBytes), ...i32Const(8), ...i32Eq,
      ...ifVoid,
      ...block, ...loop,
      ...get(count), ...i32Const(lanes), ...i32LessThanUnsigned, ...branchIf(1),
      ...(float32
        ? [
            ...get(from), ...vectorLoad(), ...set(vector),
            ...addPair([...get(vector), ...promoteLow], 0),
            ...addPair([...get(vector), ...get(vector), ...highHalf, ...promoteLow], 16),
          ]
        : addPair([...get(from), ...vectorLoad()], 0)),
      ...addTo(from, 16), ...addTo(to, 8 * lanes), ...addTo(count, -lanes),
      ...branch(0), ...end, ...end,
      ...end,
      // the rest one at a time
      ...block, ...loop,
      ...get(count), ...i32Eqz, ...branchIf(1),
      ...get(to), ...get(to), ...f64Load, ...get(from), ...(float32 ? [...f32Load, ...f64PromoteF32] : f64Load), ...f64Add, ...f64Store,
      ...addTo(from, valueBytes), ...addTo(to, [...get(strideBytes)]), ...addTo(count, -1),
      ...branch(0), ...end, ...end,
    ]),
  };
}


interface WindowKernels {
  memory: WasmMemory;
  unfold: (...args: number[]) => void;
  fold32: (...args: number[]) => void;
  fold64: (...args: number[]) => void;
}

/** The compiled module (kept when the memory is released), null where it does not validate (no WebAssembly SIMD). */
let compiledModule: object | null | undefined;
let instance: WindowKernels | null | undefined;
registerScratchRelease('windows', () => {
  instance = undefined;
});

function windowKernels(): WindowKernels | null {
  if (instance !== undefined) return instance;
  instance = null;
  const api = webAssemblyApi();
  if (api === undefined) return instance;
  try {
    if (compiledModule === undefined) {
      const bytes = moduleBytes([
        { name: 'unfold', ...unfoldBody() },
        { name: 'fold32', ...foldBody(true) },
        { name: 'fold64', ...foldBody(false) },
      ]);
      compiledModule = api.validate(bytes) ? new api.Module(bytes) : null;
    }
    if (compiledModule === null) return instance;
    const memory = new api.Memory({ initial: 1 });
    const { exports } = new api.Instance(compiledModule, { env: { memory } });
    instance = { memory, unfold: exports.unfold as WindowKernels['unfold'], fold32: exports.fold32 as WindowKernels['fold32'], fold64: exports.fold64 as WindowKernels['fold64'] };
  } catch {
    instance = null;
  }
  return instance;
}

/** About how many bytes of planes one chunk stages (cache-sized). */
const CHUNK_BYTES = 1024 * 1024;
/** Largest memory the kernels grow to; a plane that needs more runs in the JavaScript loop. */
const MAX_MEMORY_BYTES = 256 * 1024 * 1024;

const aligned = (bytes: number): number => Math.ceil(bytes / 16) * 16;

/** The window table at address 0 and room for `chunkBytes` after it, or null beyond the limit. */
function prepare(kernels: WindowKernels, rows: Int32Array, chunkBytes: number): number | null {
  const rowsBytes = aligned(rows.length * 4);
  const needed = rowsBytes + chunkBytes;
  if (needed > MAX_MEMORY_BYTES) return null;
  const { memory } = kernels;
  if (memory.buffer.byteLength < needed) memory.grow(Math.ceil((needed - memory.buffer.byteLength) / 65536));
  new Int32Array(memory.buffer, 0, rows.length).set(rows);
  return rowsBytes;
}

const viewOf = (buffer: ArrayBuffer, float64: boolean, address: number, length: number): DataArray =>
  float64 ? new Float64Array(buffer, address, length) : new Float32Array(buffer, address, length);

/** What windows.ts passes: the table of rows inside the image and the planes' sizes. */
export interface WindowPlanes {
  rows: Int32Array;
  planes: number;
  /** Pixels per (H, W) plane, and column values per plane (C·kh·kw is per channel here: kh·kw·outH·outW). */
  planeSize: number;
  planeColumns: number;
  strideWidth: number;
}

/**
 * windows.ts's unfold loop in WebAssembly: columns (zero-filled, planes · planeColumns elements)
 * receive the image's (planes · planeSize) window elements. False, having done nothing, where the
 * kernels are not available or a plane does not fit.
 */
export function wasmUnfold(image: DataArray, columns: DataArray, { rows, planes, planeSize, planeColumns, strideWidth }: WindowPlanes): boolean {
  const kernels = windowKernels();
  if (kernels === null || image instanceof Int32Array || columns instanceof Int32Array) return false;
  const float64 = image instanceof Float64Array;
  if (float64 !== columns instanceof Float64Array) return false;
  const bytes = float64 ? 8 : 4;
  const planeBytes = aligned(planeSize * bytes) + aligned(planeColumns * bytes);
  const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / planeBytes));
  const chunkPlanes = Math.min(planes, perChunk);
  const imageAddress = prepare(kernels, rows, aligned(chunkPlanes * planeSize * bytes) + aligned(chunkPlanes * planeColumns * bytes));
  if (imageAddress === null) return false;
  const columnsAddress = imageAddress + aligned(chunkPlanes * planeSize * bytes);
  const { buffer } = kernels.memory;
  const rowsEnd = rows.length * 4;
  for (let first = 0; first < planes; first += chunkPlanes) {
    const count = Math.min(chunkPlanes, planes - first);
    viewOf(buffer, float64, imageAddress, count * planeSize).set(image.subarray(first * planeSize, (first + count) * planeSize));
    const staged = viewOf(buffer, float64, columnsAddress, count * planeColumns);
    staged.fill(0);
    kernels.unfold(imageAddress, columnsAddress, 0, rowsEnd, count, planeSize * bytes, planeColumns * bytes, strideWidth * bytes, bytes);
    columns.set(staged, first * planeColumns);
  }
  return true;
}

/**
 * windows.ts's fold loop in WebAssembly: each image pixel (planes · planeSize elements of `out`)
 * becomes the float64 sum, from 0, of its window elements among `values` in column order, rounded
 * once to `out`'s dtype. False, having done nothing, where the kernels are not available or a
 * plane does not fit.
 */
export function wasmFold(values: DataArray, out: DataArray, { rows, planes, planeSize, planeColumns, strideWidth }: WindowPlanes): boolean {
  const kernels = windowKernels();
  if (kernels === null || values instanceof Int32Array || out instanceof Int32Array) return false;
  const float64 = values instanceof Float64Array;
  if (float64 !== out instanceof Float64Array) return false;
  const bytes = float64 ? 8 : 4;
  const planeBytes = aligned(planeColumns * bytes) + aligned(planeSize * 8);
  const chunkPlanes = Math.min(planes, Math.max(1, Math.floor(CHUNK_BYTES / planeBytes)));
  const valuesAddress = prepare(kernels, rows, aligned(chunkPlanes * planeColumns * bytes) + aligned(chunkPlanes * planeSize * 8));
  if (valuesAddress === null) return false;
  const sumsAddress = valuesAddress + aligned(chunkPlanes * planeColumns * bytes);
  const { buffer } = kernels.memory;
  const fold = float64 ? kernels.fold64 : kernels.fold32;
  const rowsEnd = rows.length * 4;
  for (let first = 0; first < planes; first += chunkPlanes) {
    const count = Math.min(chunkPlanes, planes - first);
    viewOf(buffer, float64, valuesAddress, count * planeColumns).set(values.subarray(first * planeColumns, (first + count) * planeColumns));
    const sums = new Float64Array(buffer, sumsAddress, count * planeSize);
    sums.fill(0);
    fold(valuesAddress, sumsAddress, 0, rowsEnd, count, planeColumns * bytes, planeSize * 8, strideWidth * 8);
    out.set(sums, first * planeSize);
  }
  return true;
}
