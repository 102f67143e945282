import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { loadIdxDirectory, parseIdx, readIdxDigits } from '../src/study/idx.js';

/** IDX bytes: 00 00 08 <ndim>, big-endian uint32 dims, then the values. */
function idx(dims: number[], values: number[], magicType = 0x08): Uint8Array {
  const header = new Uint8Array(4 + 4 * dims.length);
  const view = new DataView(header.buffer);
  header.set([0, 0, magicType, dims.length]);
  dims.forEach((extent, axis) => view.setUint32(4 + 4 * axis, extent, false));
  return new Uint8Array([...header, ...values]);
}

const dir = mkdtempSync(join(tmpdir(), 'normgrad-idx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

describe('MNIST IDX loader', () => {
  // three 2x2 "digits" and their labels
  const pixels = [0, 255, 51, 102, /**/ 255, 255, 0, 0, /**/ 1, 2, 3, 4];
  const labels = [7, 0, 9];

  it('reads raw and gzipped files alike, scaling pixels to [0, 1]', () => {
    const raw = readIdxDigits(write('raw-images', idx([3, 2, 2], pixels)), write('raw-labels', idx([3], labels)));
    const gz = readIdxDigits(write('gz-images.gz', gzipSync(idx([3, 2, 2], pixels))), write('gz-labels.gz', gzipSync(idx([3], labels))));
    for (const digits of [raw, gz]) {
      expect([digits.count, digits.height, digits.width]).toEqual([3, 2, 2]);
      expect(Array.from(digits.labels)).toEqual(labels);
      expect(Array.from(digits.images.slice(0, 4))).toEqual([0, 1, 0.2, 0.4].map((v) => Math.fround(v)));
    }
  });

  it('finds the standard file names in a --data directory (official and dotted names, raw or .gz)', () => {
    const sub = join(dir, 'mnist');
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, 'train-images-idx3-ubyte.gz'), gzipSync(idx([3, 2, 2], pixels)));
    writeFileSync(join(sub, 'train-labels-idx1-ubyte'), idx([3], labels));
    writeFileSync(join(sub, 't10k-images.idx3-ubyte'), idx([1, 2, 2], [9, 9, 9, 9]));
    writeFileSync(join(sub, 't10k-labels.idx1-ubyte.gz'), gzipSync(idx([1], [3])));
    const loaded = loadIdxDirectory(sub);
    expect(loaded.train.count).toBe(3);
    expect(Array.from(loaded.test.labels)).toEqual([3]);
    expect(loaded.source).toContain('3 train / 1 test');
  });

  it('gives clear errors for bad files', () => {
    expect(() => parseIdx(idx([3], labels, 0x0d), 'f')).toThrow(/f: wrong magic number 00 00 0d 01/);
    expect(() => parseIdx(new Uint8Array([1, 2]), 'f')).toThrow(/f: not an IDX file/);
    expect(() => parseIdx(new TextEncoder().encode('<html>not found</html>'), 'f')).toThrow(/wrong magic number 3c 68 74 6d/);
    expect(() => parseIdx(idx([3, 2, 2], pixels).subarray(0, 10), 'f')).toThrow(/f: truncated header: 3 dimensions need 16 bytes, the file has 10/);
    expect(() => parseIdx(idx([3, 2, 2], pixels).subarray(0, 20), 'f')).toThrow(/f: truncated: the header promises 3 x 2 x 2 = 12 bytes of data, the file holds 4/);
    expect(() => parseIdx(idx([3], [...labels, 1]), 'f')).toThrow(/1 unexpected bytes after the 3 = 3 bytes/);
    const images = write('images', idx([3, 2, 2], pixels));
    expect(() => readIdxDigits(images, write('labels-short', idx([2], [1, 2])))).toThrow(/count mismatch: .*images holds 3 images but .*labels-short holds 2 labels/);
    expect(() => readIdxDigits(images, write('labels-big', idx([3], [1, 2, 10])))).toThrow(/label 2 is 10, not a digit/);
    expect(() => readIdxDigits(write('labels-as-images', idx([3], labels)), write('labels-ok', idx([3], labels)))).toThrow(/expected a 3-dimensional images file/);
    expect(() => readIdxDigits(write('bad.gz', new Uint8Array([0x1f, 0x8b, 1, 2, 3])), images)).toThrow(/looks gzip-compressed but does not decompress/);
    expect(() => loadIdxDirectory(join(dir, 'nope'))).toThrow(/--data .*nope: no such directory/);
    expect(() => loadIdxDirectory(dir)).toThrow(/no train images file; expected one of train-images-idx3-ubyte, train-images-idx3-ubyte.gz/);
  });
});
