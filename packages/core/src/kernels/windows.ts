import { allocate, type DataArray } from '../dtype.js';
import { contiguousData, createNd, dtypeOfNd, type FloatNdArray } from './layout.js';
import { registerScratchRelease } from './scratch.js';
import { tryWasmElementwise } from './wasm-elementwise.js';
import { wasmFold, wasmUnfold } from './wasm-windows.js';

/** The geometry of a 2-D sliding window over (N, C, H, W): kernel, stride, zero padding, dilation and output plane. */
export interface WindowGeometry {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  /** Spacing between kernel elements (1: adjacent). */
  dilation: [number, number];
  /** The (H, W) plane the windows slide over (before padding). */
  input: [number, number];
  /** Window positions along H and W. */
  output: [number, number];
}

/**
 * The window positions along one axis whose element at `offset` (kernel index · dilation −
 * padding) falls inside the input: positions first ≤ o < end, for which 0 ≤ o · stride + offset < size.
 */
function insideRange(offset: number, stride: number, size: number, positions: number): [number, number] {
  const first = offset >= 0 ? 0 : Math.ceil(-offset / stride);
  const end = size - 1 - offset < 0 ? 0 : Math.min(positions, Math.floor((size - 1 - offset) / stride) + 1);
  return [Math.min(first, end), end];
}

/**
 * The rows of window elements of one (H, W) plane that lie inside the image, in the order of the
 * column array (C·kh·kw, outH·outW) of that plane: four numbers per row — the row's offset in the
 * plane's columns (at position 0 of the row), the image offset of position 0's element (outside
 * the plane when the row starts in the padding), and the positions first ≤ ow < end that are
 * inside. Rows and positions in the padding are left out. Every plane of a batch has the same rows.
 */
export function insideRows(geometry: WindowGeometry): Int32Array {
  const key = [geometry.kernel, geometry.stride, geometry.padding, geometry.dilation, geometry.input, geometry.output].join(';');
  let rows = insideRowsByGeometry.get(key);
  if (rows === undefined) {
    if (insideRowsByGeometry.size >= INSIDE_ROWS_KEPT) insideRowsByGeometry.clear();
    rows = listInsideRows(geometry);
    insideRowsByGeometry.set(key, rows);
  }
  return rows;
}

/** How many geometries' rows insideRows keeps (a program slides few distinct windows). */
const INSIDE_ROWS_KEPT = 64;
const insideRowsByGeometry = new Map<string, Int32Array>();

/** The rows insideRows returns, computed afresh. */
function listInsideRows(geometry: WindowGeometry): Int32Array {
  const [kernelHeight, kernelWidth] = geometry.kernel;
  const [strideHeight, strideWidth] = geometry.stride;
  const [padHeight, padWidth] = geometry.padding;
  const [dilationHeight, dilationWidth] = geometry.dilation;
  const [height, width] = geometry.input;
  const [outHeight, outWidth] = geometry.output;
  const rows: number[] = [];
  for (let ki = 0; ki < kernelHeight; ki++) {
    const offsetHeight = ki * dilationHeight - padHeight;
    const [ohFirst, ohEnd] = insideRange(offsetHeight, strideHeight, height, outHeight);
    for (let kj = 0; kj < kernelWidth; kj++) {
      const offsetWidth = kj * dilationWidth - padWidth;
      const [owFirst, owEnd] = insideRange(offsetWidth, strideWidth, width, outWidth);
      if (owFirst === owEnd) continue;
      const kernelRow = (ki * kernelWidth + kj) * outHeight * outWidth;
      for (let oh = ohFirst; oh < ohEnd; oh++) {
        rows.push(kernelRow + oh * outWidth, (oh * strideHeight + offsetHeight) * width + offsetWidth, owFirst, owEnd);
      }
    }
  }
  return Int32Array.from(rows);
}

/** im2col: (N, C, H, W) → (N, C·kh·kw, outH·outW), zeros where a window overlaps the padding. */
export function unfoldKernel(x: FloatNdArray, geometry: WindowGeometry): FloatNdArray {
  const [batch, channels] = x.shape as [number, number];
  const image = contiguousData(x);
  const dtype = dtypeOfNd(x);
  const windowSize = geometry.kernel[0] * geometry.kernel[1];
  const positions = geometry.output[0] * geometry.output[1];
  const columns = allocate(dtype, batch * channels * windowSize * positions);
  const strideWidth = geometry.stride[1];
  const rows = insideRows(geometry);
  const planeSize = geometry.input[0] * geometry.input[1];
  const planeColumns = windowSize * positions;
  const planes = batch * channels;
  if (tryWasmElementwise(columns.length) && wasmUnfold(image, columns, { rows, planes, planeSize, planeColumns, strideWidth })) {
    return createNd(dtype, [batch, channels * windowSize, positions], columns);
  }
  for (let plane = 0; plane < batch * channels; plane++) {
    const imageStart = plane * planeSize;
    const columnStart = plane * planeColumns;
    for (let r = 0; r < rows.length; r += 4) {
      const row = columnStart + rows[r]!;
      const pixel = imageStart + rows[r + 1]!;
      const end = rows[r + 3]!;
      for (let ow = rows[r + 2]!; ow < end; ow++) columns[row + ow] = image[pixel + ow * strideWidth]!;
    }
  }
  return createNd(dtype, [batch, channels * windowSize, positions], columns);
}

/** The float64 sums of fold on float32 columns, kept between calls. */
let foldSums = new Float64Array(0);
registerScratchRelease('fold', () => {
  foldSums = new Float64Array(0);
});

/** Whether no two window elements fall on one pixel: along each axis the kernel's span is at most the stride. */
function disjointWindows(geometry: WindowGeometry): boolean {
  return [0, 1].every((axis) => geometry.dilation[axis]! * (geometry.kernel[axis]! - 1) + 1 <= geometry.stride[axis]!);
}

/**
 * col2im: the adjoint of unfold — each column value is added back to the pixel it came from.
 * Each pixel's sum runs in float64 from 0 over its window elements in column order (float32
 * results are rounded once at the end). Where windows are disjoint, each pixel is 0 plus at most
 * one value, which float32 holds exactly, so float32 sums run in the output itself.
 */
export function foldKernel(columns: FloatNdArray, channels: number, geometry: WindowGeometry): FloatNdArray {
  const batch = columns.shape[0]!;
  const values = contiguousData(columns);
  const dtype = dtypeOfNd(columns);
  const [height, width] = geometry.input;
  const length = batch * channels * height * width;
  const out = allocate(dtype, length);
  const strideWidth = geometry.stride[1];
  const rows = insideRows(geometry);
  const planeSize = height * width;
  const planeColumns = geometry.kernel[0] * geometry.kernel[1] * geometry.output[0] * geometry.output[1];
  if (tryWasmElementwise(values.length) && wasmFold(values, out, { rows, planes: batch * channels, planeSize, planeColumns, strideWidth })) {
    return createNd(dtype, [batch, channels, height, width], out);
  }
  let sums: DataArray;
  if (out instanceof Float64Array || disjointWindows(geometry)) {
    sums = out;
  } else {
    if (foldSums.length < length) foldSums = new Float64Array(length);
    sums = foldSums.subarray(0, length);
    sums.fill(0);
  }
  for (let plane = 0; plane < batch * channels; plane++) {
    const imageStart = plane * planeSize;
    const columnStart = plane * planeColumns;
    for (let r = 0; r < rows.length; r += 4) {
      const row = columnStart + rows[r]!;
      const pixel = imageStart + rows[r + 1]!;
      const end = rows[r + 3]!;
      for (let ow = rows[r + 2]!; ow < end; ow++) {
        const target = pixel + ow * strideWidth;
        sums[target] = sums[target]! + values[row + ow]!;
      }
    }
  }
  if (sums !== out) out.set(sums);
  return createNd(dtype, [batch, channels, height, width], out);
}
