import { Tensor, checkOptions, formatShape, tensor } from '@normgrad/core';

/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * unsigned header length N, N bytes of JSON header
 *   { "<name>": { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] }, ...,
 *     "__metadata__": { "<key>": "<string value>" } }
 * then the tensors' bytes, row-major and little-endian, at [begin, end) counted from the end of
 * the header, back to back with no gaps.
 *
 * float32, float64 and int32 tensors are written as F32, F64 and I32, and those dtypes are read
 * into them. 64-bit integers:
 * - I64 is read into float64 tensors (every I64 up to 2^53 is exact in float64; a larger one is
 *   an error). Such a tensor remembers its stored dtype and is written back as I64, so loading
 *   and saving a file keeps its dtypes. `asInt64(t)` marks a float64 tensor of integers to be
 *   written that way (toTorchStateDict marks PyTorch's num_batches_tracked); `asInt32(t)` marks
 *   one to be written as I32 (read back as an int32 tensor). A tensor computed from a marked one
 *   is an ordinary float64 tensor.
 * - F16 and BF16 are read into float32 tensors (exact: float32 holds every float16 and bfloat16
 *   value) and written back as F32; `parseSafetensors` reports each tensor's stored dtype.
 * Any other dtype in a file is an error naming the tensor; nothing is converted silently.
 */

/** The dtypes of a safetensors file that normgrad reads. */
export type SafetensorsDType = 'F32' | 'F64' | 'I64' | 'I32' | 'F16' | 'BF16';

/** The dtypes normgrad writes: float32 → F32, float64 → F64, int32 → I32, marked float64 integer tensors → I64 / I32. */
export type WritableSafetensorsDType = 'F32' | 'F64' | 'I64' | 'I32';

export interface SafetensorsOptions {
  /** String key/value pairs stored in the header's `__metadata__` (e.g. a format or version). */
  metadata?: Record<string, string>;
}

export interface ParsedSafetensors {
  tensors: Record<string, Tensor>;
  /** The header's `__metadata__` ({} when it has none). */
  metadata: Record<string, string>;
  /** Each tensor's dtype in the file (F16/BF16 tensors were converted to float32). */
  dtypes: Record<string, SafetensorsDType>;
}

const METADATA_KEY = '__metadata__';
/** The safetensors reference implementation refuses headers above 100 MB. */
const MAXIMUM_HEADER_BYTES = 100_000_000;

const elementBytes: Record<SafetensorsDType, number> = { F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2 };

/** Float64 tensors of integers, by the integer dtype they are written as. */
const integerStorage = new WeakMap<Tensor, 'I64' | 'I32'>();

function markInteger(entryPoint: string, t: Tensor, dtype: 'I64' | 'I32'): Tensor {
  if (!(t instanceof Tensor)) throw new Error(`${entryPoint}: expected a Tensor, got ${describe(t)}`);
  if (t.dtype !== 'float64') throw new Error(`${entryPoint}: expected a float64 tensor holding integers, got dtype ${t.dtype}`);
  const values = t.toFloat64Array();
  const [low, high] = dtype === 'I64' ? [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER] : [-(2 ** 31), 2 ** 31 - 1];
  const bad = values.findIndex((v) => !Number.isInteger(v) || v < low || v > high);
  if (bad >= 0) throw new Error(`${entryPoint}: element ${bad} is ${values[bad]}, not an integer in [${low}, ${high}]`);
  integerStorage.set(t, dtype);
  return t;
}

/** Marks a float64 tensor of integers (|v| <= 2^53 - 1) to be written as I64; returns it. */
export function asInt64(t: Tensor): Tensor {
  return markInteger('asInt64', t, 'I64');
}

/** Marks a float64 tensor of int32 values to be written as I32; returns it. */
export function asInt32(t: Tensor): Tensor {
  return markInteger('asInt32', t, 'I32');
}

/** The dtype serializeSafetensors writes t as. */
export function safetensorsDType(t: Tensor): WritableSafetensorsDType {
  const integer = integerStorage.get(t);
  if (integer !== undefined) return integer;
  const dtype: string = t.dtype;
  if (dtype === 'float32') return 'F32';
  if (dtype === 'float64') return 'F64';
  if (dtype === 'int32') return 'I32';
  throw new Error(`safetensorsDType: tensors of dtype ${dtype} have no safetensors dtype here`);
}

/** The tensors (in key order) and metadata as the bytes of a safetensors file. */
export function serializeSafetensors(tensors: Record<string, Tensor>, options: SafetensorsOptions = {}): Uint8Array {
  return serialize('serializeSafetensors', tensors, options);
}

/** Serializes; errors start with `entryPoint` (saveSafetensors reuses it). */
export function serialize(entryPoint: string, tensors: Record<string, Tensor>, options: SafetensorsOptions): Uint8Array {
  checkOptions(entryPoint, options, ['metadata']);
  if (typeof tensors !== 'object' || tensors === null || Array.isArray(tensors) || tensors instanceof Tensor) {
    throw new Error(`${entryPoint}: expected a record of named Tensors, got ${describe(tensors)}`);
  }
  const header: Record<string, unknown> = {};
  const metadata = options.metadata;
  if (metadata !== undefined) {
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
      throw new Error(`${entryPoint}: metadata must be a record of strings, got ${describe(metadata)}`);
    }
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') throw new Error(`${entryPoint}: metadata "${key}" must be a string, got ${describe(value)}`);
    }
    header[METADATA_KEY] = { ...metadata };
  }
  const entries = Object.entries(tensors);
  const layout: { dtype: WritableSafetensorsDType; values: ArrayLike<number>; begin: number }[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === METADATA_KEY) throw new Error(`${entryPoint}: "${METADATA_KEY}" is reserved for metadata and cannot name a tensor`);
    if (!(t instanceof Tensor)) throw new Error(`${entryPoint}: "${name}" is ${describe(t)}, expected a Tensor`);
    const dtype = safetensorsDType(t);
    const marked = t.dtype === 'float64' && (dtype === 'I64' || dtype === 'I32');
    // a marked tensor's values are checked again: its storage may have been written since it was marked
    if (marked) markInteger(`${entryPoint}: "${name}" (${dtype})`, t, dtype);
    const values = t.toTypedArray();
    const end = offset + values.length * elementBytes[dtype];
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, end] };
    layout.push({ dtype, values, begin: offset });
    offset = end;
  }
  const encoded = new TextEncoder().encode(JSON.stringify(header));
  // Spaces pad the header to a multiple of 8 bytes, as the reference writer does, so data is aligned.
  const headerBytes = Math.ceil(encoded.length / 8) * 8;
  const bytes = new Uint8Array(8 + headerBytes + offset);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(headerBytes), true);
  bytes.set(encoded, 8);
  bytes.fill(0x20, 8 + encoded.length, 8 + headerBytes);
  const start = 8 + headerBytes;
  for (const { dtype, values, begin } of layout) writeValues(view, start + begin, dtype, values);
  return bytes;
}

function writeValues(view: DataView, position: number, dtype: WritableSafetensorsDType, values: ArrayLike<number>): void {
  const step = elementBytes[dtype];
  for (let i = 0; i < values.length; i++, position += step) {
    const value = values[i]!;
    if (dtype === 'F32') view.setFloat32(position, value, true);
    else if (dtype === 'F64') view.setFloat64(position, value, true);
    else if (dtype === 'I64') view.setBigInt64(position, BigInt(value), true);
    else view.setInt32(position, value, true);
  }
}

/** The tensors of a safetensors file's bytes (see parseSafetensors for metadata and stored dtypes). */
export function deserializeSafetensors(bytes: Uint8Array | ArrayBuffer): Record<string, Tensor> {
  return parse('deserializeSafetensors', bytes).tensors;
}

/** Tensors, metadata and each tensor's stored dtype from a safetensors file's bytes. */
export function parseSafetensors(bytes: Uint8Array | ArrayBuffer): ParsedSafetensors {
  return parse('parseSafetensors', bytes);
}

/** Parses; errors start with `context` (loadSafetensors passes its name and the path). */
export function parse(context: string, input: Uint8Array | ArrayBuffer): ParsedSafetensors {
  const bytes = input instanceof ArrayBuffer ? new Uint8Array(input) : input;
  if (!(bytes instanceof Uint8Array)) throw new Error(`${context}: expected a Uint8Array or ArrayBuffer, got ${describe(input)}`);
  const fail = (problem: string): never => {
    throw new Error(`${context}: not a valid safetensors file: ${problem}`);
  };
  if (bytes.length < 8) fail(`${bytes.length} bytes, fewer than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getBigUint64(0, true);
  if (declared > BigInt(MAXIMUM_HEADER_BYTES)) fail(`the header length field says ${declared} bytes (more than ${MAXIMUM_HEADER_BYTES})`);
  const headerBytes = Number(declared);
  if (8 + headerBytes > bytes.length) fail(`truncated: the header length field says ${headerBytes} bytes, but only ${bytes.length - 8} follow it`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerBytes)));
  } catch (error) {
    fail(`the ${headerBytes}-byte header is not UTF-8 JSON (${(error as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('the header is not a JSON object');
  const dataStart = 8 + headerBytes;
  const dataBytes = bytes.length - dataStart;

  const metadata: Record<string, string> = {};
  const rawMetadata = (header as Record<string, unknown>)[METADATA_KEY];
  if (rawMetadata !== undefined && rawMetadata !== null) {
    if (typeof rawMetadata !== 'object' || Array.isArray(rawMetadata)) fail(`${METADATA_KEY} is not an object`);
    for (const [key, value] of Object.entries(rawMetadata as object)) {
      if (typeof value !== 'string') fail(`${METADATA_KEY} "${key}" is ${describe(value)}, not a string`);
      metadata[key] = value as string;
    }
  }

  const entries: { name: string; dtype: SafetensorsDType; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) continue;
    if (typeof info !== 'object' || info === null) fail(`tensor "${name}" has no {dtype, shape, data_offsets} entry`);
    const { dtype, shape, data_offsets: offsets } = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string') fail(`tensor "${name}" has no dtype`);
    if (!(dtype as string in elementBytes)) {
      fail(`tensor "${name}" has dtype ${dtype}; normgrad reads ${Object.keys(elementBytes).join(', ')}`);
    }
    if (!Array.isArray(shape) || !shape.every((extent) => Number.isSafeInteger(extent) && extent >= 0)) {
      fail(`tensor "${name}" has shape ${JSON.stringify(shape)}, not a list of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
      fail(`tensor "${name}" has data_offsets ${JSON.stringify(offsets)}, not [begin, end] with 0 <= begin <= end`);
    }
    const [begin, end] = offsets as [number, number];
    const elements = (shape as number[]).reduce((product, extent) => product * extent, 1);
    const expected = elements * elementBytes[dtype as SafetensorsDType];
    if (end - begin !== expected) {
      fail(`tensor "${name}" (${dtype}, shape ${formatShape(shape as number[])}) needs ${expected} bytes, its data_offsets [${begin}, ${end}] hold ${end - begin}`);
    }
    entries.push({ name, dtype: dtype as SafetensorsDType, shape: shape as number[], begin, end });
  }
  // The data must be covered exactly: tensors back to back, from 0 to the end of the file.
  const ordered = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const entry of ordered) {
    if (entry.begin !== covered) {
      fail(entry.begin < covered ? `tensor "${entry.name}" overlaps the tensor before it (data_offsets [${entry.begin}, ${entry.end}])` : `a gap of ${entry.begin - covered} bytes before tensor "${entry.name}"`);
    }
    covered = entry.end;
  }
  if (covered > dataBytes) fail(`truncated: the header describes ${covered} bytes of tensor data, the file holds ${dataBytes}`);
  if (covered < dataBytes) fail(`${dataBytes - covered} bytes after the last tensor's data`);

  const tensors: Record<string, Tensor> = {};
  const dtypes: Record<string, SafetensorsDType> = {};
  for (const { name, dtype, shape, begin, end } of entries) {
    const values = readValues(context, name, view, dataStart + begin, (end - begin) / elementBytes[dtype], dtype);
    const t = tensor(values, { shape });
    if (dtype === 'I64') integerStorage.set(t, dtype);
    tensors[name] = t;
    dtypes[name] = dtype;
  }
  return { tensors, metadata, dtypes };
}

function readValues(context: string, name: string, view: DataView, position: number, count: number, dtype: SafetensorsDType): Float32Array | Float64Array | Int32Array {
  const step = elementBytes[dtype];
  if (dtype === 'I32') {
    const values = new Int32Array(count);
    for (let i = 0; i < count; i++, position += step) values[i] = view.getInt32(position, true);
    return values;
  }
  if (dtype === 'F64' || dtype === 'I64') {
    const values = new Float64Array(count);
    for (let i = 0; i < count; i++, position += step) {
      if (dtype === 'F64') values[i] = view.getFloat64(position, true);
      else {
        const value = view.getBigInt64(position, true);
        if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) {
          throw new Error(`${context}: tensor "${name}" (I64) holds ${value} at element ${i}, beyond 2^53 - 1, which float64 cannot hold exactly`);
        }
        values[i] = Number(value);
      }
    }
    return values;
  }
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++, position += step) {
    if (dtype === 'F32') values[i] = view.getFloat32(position, true);
    else if (dtype === 'F16') values[i] = float16ToNumber(view.getUint16(position, true));
    else values[i] = bfloat16ToNumber(view.getUint16(position, true));
  }
  return values;
}

/** IEEE 754 binary16 bits to their value. */
export function float16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** bfloat16 bits (the top half of a float32) to their value. */
export function bfloat16ToNumber(bits: number): number {
  bfloat16Scratch.setUint32(0, bits << 16);
  return bfloat16Scratch.getFloat32(0);
}

const bfloat16Scratch = new DataView(new ArrayBuffer(4));

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Tensor) return `a Tensor of shape ${formatShape(value.shape)}`;
  if (typeof value === 'object') return `a ${value.constructor?.name ?? 'plain'} object`;
  return `${typeof value} ${JSON.stringify(value)}`;
}
