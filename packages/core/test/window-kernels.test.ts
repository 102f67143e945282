/**
 * The unfold (im2col) and fold (col2im) kernels run plain loops over the rows of window elements
 * that lie inside the image. They must give exactly what the per-element definition gives: the
 * reference below visits every (window element, position) pair in column order, as the kernels
 * did before, and the results are compared bit for bit on random shapes, strides, paddings and
 * dilations, in float64 and float32 (fold's float32 sums run in float64 and round once), in both
 * the JavaScript loops and their WebAssembly versions (wasm-windows.ts), which also run on inputs
 * large enough to go through WebAssembly memory in several chunks of planes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as ng from '@normgrad/core';
import { foldKernel, insideRows, unfoldKernel, type WindowGeometry } from '../src/kernels/windows.js';
import { wasmFold, wasmUnfold } from '../src/kernels/wasm-windows.js';
import { createNd } from '../src/kernels/layout.js';

/** The per-element reference: visit(column, pixel) for every pair in column order, pixel -1 for padding. */
function forEachWindowElement(batch: number, channels: number, geometry: WindowGeometry, visit: (column: number, pixel: number) => void): void {
  const [kernelHeight, kernelWidth] = geometry.kernel;
  const [strideHeight, strideWidth] = geometry.stride;
  const [padHeight, padWidth] = geometry.padding;
  const [dilationHeight, dilationWidth] = geometry.dilation;
  const [height, width] = geometry.input;
  const [outHeight, outWidth] = geometry.output;
  let column = 0;
  for (let n = 0; n < batch; n++) {
    for (let c = 0; c < channels; c++) {
      const plane = (n * channels + c) * height * width;
      for (let ki = 0; ki < kernelHeight; ki++) {
        for (let kj = 0; kj < kernelWidth; kj++) {
          for (let oh = 0; oh < outHeight; oh++) {
            const ih = oh * strideHeight - padHeight + ki * dilationHeight;
            const rowInside = ih >= 0 && ih < height;
            for (let ow = 0; ow < outWidth; ow++, column++) {
              const iw = ow * strideWidth - padWidth + kj * dilationWidth;
              visit(column, rowInside && iw >= 0 && iw < width ? plane + ih * width + iw : -1);
            }
          }
        }
      }
    }
  }
}

function referenceUnfold(image: Float64Array | Float32Array, batch: number, channels: number, geometry: WindowGeometry): number[] {
  const windowSize = geometry.kernel[0] * geometry.kernel[1];
  const columns = new Array<number>(batch * channels * windowSize * geometry.output[0] * geometry.output[1]).fill(0);
  forEachWindowElement(batch, channels, geometry, (column, pixel) => {
    if (pixel >= 0) columns[column] = image[pixel]!;
  });
  return columns;
}

function referenceFold(values: Float64Array | Float32Array, batch: number, channels: number, geometry: WindowGeometry): number[] {
  const sums = new Float64Array(batch * channels * geometry.input[0] * geometry.input[1]);
  forEachWindowElement(batch, channels, geometry, (column, pixel) => {
    if (pixel >= 0) sums[pixel] = sums[pixel]! + values[column]!;
  });
  return Array.from(values instanceof Float32Array ? Float32Array.from(sums) : sums);
}

/** Element by element with Object.is (so -0 and 0 differ), reporting the first difference. */
function expectSameValues(actual: ArrayLike<number>, expected: readonly number[]): void {
  expect(actual.length).toBe(expected.length);
  const first = expected.findIndex((value, index) => !Object.is(value, actual[index]));
  expect(first === -1 ? null : { index: first, actual: actual[first], expected: expected[first] }).toBeNull();
}

const pairOf = (min: number, max: number) => fc.tuple(fc.integer({ min, max }), fc.integer({ min, max }));

/** A geometry whose windows fit the plane (the padding may exceed the dilated kernel, as unfold allows). */
const caseArbitrary = fc
  .record({
    batch: fc.integer({ min: 1, max: 2 }),
    channels: fc.integer({ min: 1, max: 3 }),
    kernel: pairOf(1, 4),
    stride: pairOf(1, 3),
    padding: pairOf(0, 3),
    dilation: pairOf(1, 3),
    plane: pairOf(1, 9),
    dtype: fc.constantFrom('float64' as const, 'float32' as const),
    seed: fc.integer({ min: 0, max: 1000 }),
  })
  .map((c) => {
    const output = [0, 1].map((axis) => Math.floor((c.plane[axis]! + 2 * c.padding[axis]! - c.dilation[axis]! * (c.kernel[axis]! - 1) - 1) / c.stride[axis]!) + 1) as [number, number];
    const geometry: WindowGeometry = { kernel: c.kernel, stride: c.stride, padding: c.padding, dilation: c.dilation, input: c.plane, output };
    return { ...c, geometry };
  })
  .filter((c) => c.geometry.output[0] >= 1 && c.geometry.output[1] >= 1);

/** Random values with repeats, exact zeros and negative zeros, so sums and signs of zero are exercised. */
function valuesOf(length: number, dtype: 'float64' | 'float32', seed: number): Float64Array | Float32Array {
  const random = ng.randn([length], { dtype: 'float64', seed }).toArray() as number[];
  const values = random.map((value, index) => (index % 7 === 3 ? -0 : index % 11 === 5 ? 0 : value));
  return dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values);
}

describe.each(['js', 'wasm'] as const)('unfold and fold kernels (%s) equal the per-element definition bit for bit', (backend) => {
  const run = <T>(fn: () => T): T => ng.withSettings({ elementwiseBackend: backend }, fn);

  it('unfold on random geometries', () => {
    fc.assert(
      fc.property(caseArbitrary, ({ batch, channels, plane, dtype, seed, geometry }) => {
        const image = valuesOf(batch * channels * plane[0] * plane[1], dtype, seed);
        const columns = run(() => unfoldKernel(createNd(dtype, [batch, channels, plane[0], plane[1]], image), geometry));
        expect(Array.from(columns.data)).toEqual(referenceUnfold(image, batch, channels, geometry));
      }),
      { numRuns: 150, seed: 18 },
    );
  });

  it('fold on random geometries', () => {
    fc.assert(
      fc.property(caseArbitrary, ({ batch, channels, dtype, seed, geometry }) => {
        const rows = channels * geometry.kernel[0] * geometry.kernel[1];
        const positions = geometry.output[0] * geometry.output[1];
        const values = valuesOf(batch * rows * positions, dtype, seed);
        const image = run(() => foldKernel(createNd(dtype, [batch, rows, positions], values), channels, geometry));
        expect(image.shape).toEqual([batch, channels, ...geometry.input]);
        expect(Array.from(image.data)).toEqual(referenceFold(values, batch, channels, geometry));
      }),
      { numRuns: 150, seed: 19 },
    );
  });

  it('unfold and fold of inputs that take several chunks of planes', () => {
    // 320 planes of 20×20: about 64 planes per chunk in WebAssembly memory
    const geometries: WindowGeometry[] = [
      { kernel: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], input: [20, 20], output: [20, 20] },
      { kernel: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1], input: [20, 20], output: [10, 10] },
      { kernel: [3, 2], stride: [2, 3], padding: [2, 1], dilation: [2, 1], input: [20, 20], output: [10, 7] },
    ];
    for (const geometry of geometries) {
      for (const dtype of ['float32', 'float64'] as const) {
        const [batch, channels] = [20, 16];
        const image = valuesOf(batch * channels * 400, dtype, 5);
        const columns = run(() => unfoldKernel(createNd(dtype, [batch, channels, 20, 20], image), geometry));
        expectSameValues(columns.data, referenceUnfold(image, batch, channels, geometry));
        const values = valuesOf(columns.size, dtype, 6);
        const folded = run(() => foldKernel(createNd(dtype, columns.shape, values), channels, geometry));
        expectSameValues(folded.data, referenceFold(values, batch, channels, geometry));
        if (backend === 'wasm') {
          // the WebAssembly kernels themselves ran (they return false where they do not)
          const planes = { rows: insideRows(geometry), planes: batch * channels, planeSize: 400, planeColumns: columns.size / (batch * channels), strideWidth: geometry.stride[1] };
          const direct = new (dtype === 'float64' ? Float64Array : Float32Array)(columns.size);
          expect(wasmUnfold(image, direct, planes)).toBe(true);
          expectSameValues(direct, Array.from(columns.data));
          const directFold = new (dtype === 'float64' ? Float64Array : Float32Array)(image.length);
          expect(wasmFold(values, directFold, planes)).toBe(true);
          expectSameValues(directFold, Array.from(folded.data));
        }
      }
    }
  });

  it('fold in float32 reuses its float64 sums without carrying values from an earlier call', () => {
    const geometry: WindowGeometry = { kernel: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], input: [6, 6], output: [6, 6] };
    const large = valuesOf(2 * 18 * 36, 'float32', 3);
    run(() => foldKernel(createNd('float32', [2, 18, 36], large), 2, geometry));
    const small = valuesOf(9 * 36, 'float32', 4);
    const image = run(() => foldKernel(createNd('float32', [1, 9, 36], small), 1, geometry));
    expect(Array.from(image.data)).toEqual(referenceFold(small, 1, 1, geometry));
  });

  it('a strided (non-contiguous) input is read in row-major order', () => {
    const x = ng.randn([2, 3, 5, 4], { dtype: 'float64', seed: 9 });
    const transposed = x.permute([0, 1, 3, 2]);
    const geometry: WindowGeometry = { kernel: [2, 3], stride: [2, 1], padding: [1, 0], dilation: [1, 2], input: [4, 5], output: [3, 1] };
    const nested = transposed.toArray();
    if (!Array.isArray(nested)) throw new Error('a rank-4 tensor reads as nested arrays');
    const contiguous = Float64Array.from(nested.flat(3) as number[]);
    expect(Array.from(run(() => unfoldKernel(transposed.data, geometry)).data)).toEqual(referenceUnfold(contiguous, 2, 3, geometry));
  });
});
