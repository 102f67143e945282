import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randn, tensor, type Tensor } from '@normgrad/core';
import { describe, expect, it } from 'vitest';
import {
  asInt32, asInt64, deserializeSafetensors, loadSafetensors, parseSafetensors, readSafetensors, safetensorsDType, saveSafetensors, serializeSafetensors,
} from '../src/index.js';
import { bfloat16ToNumber, float16ToNumber } from '../src/safetensors.js';

const fixtures = new URL('./fixtures/', import.meta.url);
const reference = JSON.parse(readFileSync(new URL('io_torch.json', fixtures), 'utf8')) as {
  dtypes: Record<string, { dtype: string; shape: number[]; values: number[] }>;
};

function headerOf(bytes: Uint8Array): Record<string, unknown> {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as Record<string, unknown>;
}

/** A file with this header (JSON text) and data bytes. */
function fileWith(header: string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const encoded = new TextEncoder().encode(header);
  const bytes = new Uint8Array(8 + encoded.length + data.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(encoded.length), true);
  bytes.set(encoded, 8);
  bytes.set(data, 8 + encoded.length);
  return bytes;
}

function sameTensor(actual: Tensor | undefined, expected: Tensor): void {
  expect(actual).toBeDefined();
  expect(actual!.dtype).toBe(expected.dtype);
  expect(actual!.shape).toEqual(expected.shape);
  expect(Array.from(actual!.toTypedArray())).toEqual(Array.from(expected.toTypedArray()));
}

describe('serializeSafetensors / deserializeSafetensors', () => {
  it('round-trips float32, float64, int32 and int64 tensors, scalars, empty tensors and metadata bit for bit', () => {
    const tensors = {
      weight: randn([3, 4], { seed: 1 }),
      double: randn([2, 2, 2], { dtype: 'float64', seed: 2 }),
      steps: asInt64(tensor(12345678901234, { dtype: 'float64' })),
      labels: tensor([[-2147483648, 0], [7, 2147483647]], { dtype: 'int32' }),
      emptyIndices: tensor(new Int32Array(0), { shape: [2, 0] }),
      empty: tensor(new Float32Array(0), { shape: [0, 5] }),
      strided: randn([4, 3], { seed: 3 }).transpose(1, 0),
      stridedIndices: tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'int32' }).transpose(1, 0),
    };
    const bytes = serializeSafetensors(tensors, { metadata: { format: 'pt', note: 'ünïcode' } });
    const parsed = parseSafetensors(bytes);
    for (const [name, t] of Object.entries(tensors)) sameTensor(parsed.tensors[name], t);
    expect(parsed.metadata).toEqual({ format: 'pt', note: 'ünïcode' });
    expect(parsed.dtypes).toEqual({ weight: 'F32', double: 'F64', steps: 'I64', labels: 'I32', emptyIndices: 'I32', empty: 'F32', strided: 'F32', stridedIndices: 'I32' });
    expect(headerOf(bytes).labels).toEqual({ dtype: 'I32', shape: [2, 2], data_offsets: [120, 136] });
    // loaded integers keep their stored dtype when written again
    expect(parseSafetensors(serializeSafetensors(parsed.tensors)).dtypes).toEqual(parsed.dtypes);
    expect(Object.keys(deserializeSafetensors(bytes))).toEqual(Object.keys(tensors));
  });

  it('writes a float64 tensor marked asInt32 as I32, read back as an int32 tensor', () => {
    const marked = asInt32(tensor([-3, 0, 2147483647], { dtype: 'float64' }));
    const parsed = parseSafetensors(serializeSafetensors({ marked }));
    expect(parsed.dtypes.marked).toBe('I32');
    sameTensor(parsed.tensors.marked, tensor([-3, 0, 2147483647], { dtype: 'int32' }));
  });

  it('writes the format: 8-byte little-endian header length, an 8-byte-aligned JSON header, contiguous little-endian data', () => {
    const bytes = serializeSafetensors({ a: tensor([1, 2], { dtype: 'float64' }), b: tensor([[0.5]]) }, { metadata: { k: 'v' } });
    const length = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(length % 8).toBe(0);
    expect(bytes.length).toBe(8 + length + 16 + 4);
    expect(headerOf(bytes)).toEqual({
      __metadata__: { k: 'v' },
      a: { dtype: 'F64', shape: [2], data_offsets: [0, 16] },
      b: { dtype: 'F32', shape: [1, 1], data_offsets: [16, 20] },
    });
    const data = new DataView(bytes.buffer, 8 + length);
    expect([data.getFloat64(0, true), data.getFloat64(8, true), data.getFloat32(16, true)]).toEqual([1, 2, 0.5]);
  });

  it('reads every dtype of a file written by the Python safetensors package; F16 and BF16 become float32, reported as stored', () => {
    const parsed = readSafetensors(new URL('dtypes.safetensors', fixtures).pathname);
    const expectedDtype: Record<string, string> = { float16: 'F16', bfloat16: 'BF16', int32: 'I32', int64: 'I64', float32: 'F32', float64: 'F64' };
    for (const [name, { dtype, shape, values }] of Object.entries(reference.dtypes)) {
      const t = parsed.tensors[name]!;
      expect(parsed.dtypes[name], name).toBe(expectedDtype[dtype]);
      expect(t.dtype, name).toBe(dtype === 'int32' ? 'int32' : ['float64', 'int64'].includes(dtype) ? 'float64' : 'float32');
      expect(t.shape, name).toEqual(shape);
      expect(Array.from(t.toFloat64Array()), name).toEqual(values);
    }
    expect(safetensorsDType(parsed.tensors.half!)).toBe('F32');
    expect(safetensorsDType(parsed.tensors.int64!)).toBe('I64');
    expect(safetensorsDType(parsed.tensors.int32!)).toBe('I32');
  });

  it('writes the I32 and I64 tensors of the Python-written file back byte for byte', () => {
    const file = new Uint8Array(readFileSync(new URL('dtypes.safetensors', fixtures)));
    const dataOf = (bytes: Uint8Array, name: string): number[] => {
      const header = headerOf(bytes);
      const [begin, end] = (header[name] as { data_offsets: [number, number] }).data_offsets;
      const start = 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
      return Array.from(bytes.subarray(start + begin, start + end));
    };
    const parsed = parseSafetensors(file);
    for (const name of ['int32', 'int64']) {
      const written = serializeSafetensors({ [name]: parsed.tensors[name]! });
      expect(headerOf(written)[name], name).toEqual({ ...(headerOf(file)[name] as object), data_offsets: [0, dataOf(file, name).length] });
      expect(dataOf(written, name), name).toEqual(dataOf(file, name));
    }
  });

  it('decodes float16 and bfloat16 bit patterns', () => {
    expect([0x3c00, 0xc000, 0x0001, 0x8400, 0x7bff, 0x7c00, 0xfc00].map(float16ToNumber)).toEqual([1, -2, 2 ** -24, -(2 ** -14), 65504, Infinity, -Infinity]);
    expect(float16ToNumber(0x7e00)).toBeNaN();
    expect([0x3f80, 0xc040, 0x0001, 0x7f80].map(bfloat16ToNumber)).toEqual([1, -3, 2 ** -133, Infinity]);
  });

  it('rejects corrupt and truncated files with an error naming the problem', () => {
    const good = serializeSafetensors({ a: tensor([1, 2, 3]) });
    const length = Number(new DataView(good.buffer).getBigUint64(0, true));
    const cases: [Uint8Array, RegExp][] = [
      [good.subarray(0, 5), /5 bytes, fewer than the 8-byte header length/],
      [good.subarray(0, 20), /truncated: the header length field says \d+ bytes, but only 12 follow it/],
      [good.subarray(0, good.length - 1), /truncated: the header describes 12 bytes of tensor data, the file holds 11/],
      [new Uint8Array([...good, 0]), /1 bytes after the last tensor's data/],
      [fileWith('{"a": {"dtype": "F32", "shape": [2], '), /header is not UTF-8 JSON/],
      [fileWith('[1, 2]'), /the header is not a JSON object/],
      [fileWith('{"a": {"dtype": "BOOL", "shape": [1], "data_offsets": [0, 1]}}', new Uint8Array(1)), /tensor "a" has dtype BOOL; normgrad reads F64, I64, F32, I32, F16, BF16/],
      [fileWith('{"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}', new Uint8Array(8)), /tensor "a" \(F32, shape \[3\]\) needs 12 bytes, its data_offsets \[0, 8\] hold 8/],
      [fileWith('{"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}', new Uint8Array(4)), /shape \[-1\], not a list of non-negative integers/],
      [fileWith('{"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}', new Uint8Array(8)), /a gap of 4 bytes before tensor "a"/],
      [fileWith('{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', new Uint8Array(4)), /overlaps the tensor before it/],
      [fileWith('{"__metadata__": {"n": 1}}'), /__metadata__ "n" is number 1, not a string/],
    ];
    const huge = new Uint8Array(good);
    new DataView(huge.buffer).setBigUint64(0, 2n ** 40n, true);
    cases.push([huge, /header length field says 1099511627776 bytes \(more than 100000000\)/]);
    expect(length).toBeGreaterThan(0);
    const beyondFloat64 = fileWith('{"a": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}}', new Uint8Array([0, 0, 0, 0, 0, 0, 0x20, 0]));
    expect(() => deserializeSafetensors(beyondFloat64)).toThrow('deserializeSafetensors: tensor "a" (I64) holds 9007199254740992 at element 0, beyond 2^53 - 1');
    for (const [bytes, message] of cases) {
      expect(() => deserializeSafetensors(bytes), String(message)).toThrow(/^deserializeSafetensors: not a valid safetensors file: /);
      expect(() => deserializeSafetensors(bytes), String(message)).toThrow(message);
    }
  });

  it('rejects what it cannot write exactly, naming the entry point and the tensor', () => {
    expect(() => serializeSafetensors({ a: [1, 2] as unknown as Tensor })).toThrow('serializeSafetensors: "a" is an array, expected a Tensor');
    expect(() => serializeSafetensors({ __metadata__: tensor([1]) })).toThrow('"__metadata__" is reserved');
    expect(() => serializeSafetensors({}, { metadata: { n: 1 as unknown as string } })).toThrow('serializeSafetensors: metadata "n" must be a string, got number 1');
    expect(() => serializeSafetensors({}, { metdata: {} } as object)).toThrow(/serializeSafetensors: .*metdata/);
    expect(() => asInt64(tensor([1.5], { dtype: 'float64' }))).toThrow('asInt64: element 0 is 1.5, not an integer');
    expect(() => asInt64(tensor([1]))).toThrow('asInt64: expected a float64 tensor holding integers, got dtype float32');
    expect(() => asInt32(tensor([2 ** 31], { dtype: 'float64' }))).toThrow('asInt32: element 0 is 2147483648, not an integer in [-2147483648, 2147483647]');
  });
});

describe('saveSafetensors / loadSafetensors', () => {
  it('writes a file and reads it back; missing files and bad paths are errors naming the path', () => {
    const directory = mkdtempSync(join(tmpdir(), 'normgrad-io-'));
    try {
      const path = join(directory, 'model.safetensors');
      const tensors = { w: randn([2, 3], { seed: 4 }), n: asInt64(tensor(3, { dtype: 'float64' })) };
      saveSafetensors(tensors, path, { metadata: { epoch: '3' } });
      expect(readFileSync(path)).toEqual(Buffer.from(serializeSafetensors(tensors, { metadata: { epoch: '3' } })));
      const loaded = loadSafetensors(path);
      sameTensor(loaded.w, tensors.w);
      sameTensor(loaded.n, tensors.n);
      expect(readSafetensors(path).metadata).toEqual({ epoch: '3' });
      expect(() => loadSafetensors(join(directory, 'missing.safetensors'))).toThrow(/^loadSafetensors: cannot read .*missing\.safetensors: ENOENT/);
      expect(() => saveSafetensors(tensors, join(directory, 'no', 'such', 'dir.safetensors'))).toThrow(/^saveSafetensors: cannot write .*ENOENT/);
      expect(() => loadSafetensors('' as string)).toThrow('loadSafetensors: path must be a non-empty string');
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
