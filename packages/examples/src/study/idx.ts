import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Digits, TrainTestDigits } from './data.js';

/** An IDX array (http://yann.lecun.com/exdb/mnist/): its dimensions and unsigned-byte values. */
export interface IdxArray {
  dims: number[];
  values: Uint8Array;
}

const UNSIGNED_BYTE = 0x08;

/**
 * Parses IDX bytes: magic 0x00 0x00 <type> <ndim>, then ndim big-endian uint32 sizes, then the
 * values. Only unsigned-byte data (type 0x08, what MNIST uses) is accepted. `source` names the file
 * in errors.
 */
export function parseIdx(bytes: Uint8Array, source: string): IdxArray {
  if (bytes.length < 4) throw new Error(`${source}: not an IDX file: ${bytes.length} bytes, shorter than the 4-byte magic number`);
  const [zero0, zero1, type, ndim] = [bytes[0]!, bytes[1]!, bytes[2]!, bytes[3]!];
  const magic = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
  if (zero0 !== 0 || zero1 !== 0 || type !== UNSIGNED_BYTE || ndim < 1) {
    throw new Error(`${source}: wrong magic number ${magic}; an MNIST IDX file starts with 00 00 08 01 (labels) or 00 00 08 03 (images)`);
  }
  const headerLength = 4 + 4 * ndim;
  if (bytes.length < headerLength) throw new Error(`${source}: truncated header: ${ndim} dimensions need ${headerLength} bytes, the file has ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: ndim }, (_, axis) => view.getUint32(4 + 4 * axis, false));
  const expected = dims.reduce((product, extent) => product * extent, 1);
  const actual = bytes.length - headerLength;
  if (actual < expected) {
    throw new Error(`${source}: truncated: the header promises ${dims.join(' x ')} = ${expected} bytes of data, the file holds ${actual}`);
  }
  if (actual > expected) {
    throw new Error(`${source}: ${actual - expected} unexpected bytes after the ${dims.join(' x ')} = ${expected} bytes the header promises`);
  }
  return { dims, values: bytes.subarray(headerLength) };
}

/** Reads an IDX file, gunzipping it first when it starts with the gzip magic (1f 8b). */
export function readIdxFile(path: string): IdxArray {
  let bytes: Uint8Array = readFileSync(path);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (error) {
      throw new Error(`${path}: looks gzip-compressed but does not decompress: ${(error as Error).message}`);
    }
  }
  return parseIdx(bytes, path);
}

/** Images (N, H, W) and labels (N) from two IDX files, checked against each other. */
export function readIdxDigits(imagesPath: string, labelsPath: string): Digits {
  const images = readIdxFile(imagesPath);
  const labels = readIdxFile(labelsPath);
  if (images.dims.length !== 3) {
    throw new Error(`${imagesPath}: expected a 3-dimensional images file (count x height x width), got dimensions ${images.dims.join(' x ')}`);
  }
  if (labels.dims.length !== 1) throw new Error(`${labelsPath}: expected a 1-dimensional labels file, got dimensions ${labels.dims.join(' x ')}`);
  const [count, height, width] = images.dims as [number, number, number];
  if (labels.dims[0] !== count) {
    throw new Error(`count mismatch: ${imagesPath} holds ${count} images but ${labelsPath} holds ${labels.dims[0]} labels`);
  }
  const badLabel = labels.values.findIndex((label) => label > 9);
  if (badLabel >= 0) throw new Error(`${labelsPath}: label ${badLabel} is ${labels.values[badLabel]}, not a digit 0-9`);
  const pixels = new Float32Array(images.values.length);
  for (let i = 0; i < pixels.length; i++) pixels[i] = images.values[i]! / 255;
  return { images: pixels, labels: labels.values.slice(), count, height, width };
}

/** The accepted names of one IDX file: the official one and the dotted variant, raw or gzipped. */
function findIdxFile(dir: string, prefix: string, kind: 'images-idx3' | 'labels-idx1'): string {
  const [what, format] = kind.split('-') as [string, string];
  const names = [`${prefix}-${what}-${format}-ubyte`, `${prefix}-${what}.${format}-ubyte`];
  const candidates = names.flatMap((name) => [name, `${name}.gz`]);
  const found = candidates.find((name) => existsSync(join(dir, name)));
  if (found === undefined) throw new Error(`--data ${dir}: no ${prefix} ${what} file; expected one of ${candidates.join(', ')}`);
  return join(dir, found);
}

/** The standard MNIST files in a directory: train-{images,labels} and t10k-{images,labels}. */
export function loadIdxDirectory(dir: string): TrainTestDigits {
  if (!existsSync(dir)) throw new Error(`--data ${dir}: no such directory`);
  const train = readIdxDigits(findIdxFile(dir, 'train', 'images-idx3'), findIdxFile(dir, 'train', 'labels-idx1'));
  const test = readIdxDigits(findIdxFile(dir, 't10k', 'images-idx3'), findIdxFile(dir, 't10k', 'labels-idx1'));
  if (train.height !== test.height || train.width !== test.width) {
    throw new Error(`--data ${dir}: train images are ${train.height}x${train.width} but test images are ${test.height}x${test.width}`);
  }
  return { train, test, source: `IDX files in ${dir} (${train.count} train / ${test.count} test digits)` };
}
