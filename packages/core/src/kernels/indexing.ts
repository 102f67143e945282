import { createNd, dtypeOfNd, rowMajorStrides, sizeOf, type FloatNdArray } from './layout.js';
import { formatShape } from '../composite/validate.js';

/**
 * Index kernels: gather, its adjoint scatter-add, argmax/argmin and argsort along one axis.
 * Indices are int32 ndarrays; inputs may be strided or broadcast views; outputs are fresh and
 * contiguous.
 */

/**
 * Calls visit(offsets) for every position of `shape` in row-major order, with offsets[k] the
 * element offset of that position in array k (given by its offset and its strides over `shape`).
 */
function forEachPosition(shape: readonly number[], arrays: readonly { offset: number; strides: readonly number[] }[], visit: (offsets: number[]) => void): void {
  const size = sizeOf(shape);
  if (size === 0) return;
  const rank = shape.length;
  const count = arrays.length;
  const offsets = arrays.map((array) => array.offset);
  const counter = new Array<number>(rank).fill(0);
  for (let position = 0; position < size; position++) {
    visit(offsets);
    for (let axis = rank - 1; axis >= 0; axis--) {
      counter[axis]!++;
      for (let k = 0; k < count; k++) offsets[k]! += arrays[k]!.strides[axis]!;
      if (counter[axis]! < shape[axis]!) break;
      for (let k = 0; k < count; k++) offsets[k]! -= arrays[k]!.strides[axis]! * shape[axis]!;
      counter[axis] = 0;
    }
  }
}

/**
 * Splits a walk over `shape` into rows along its last axis: the outer shape, each array's strides
 * over it, the row length and each array's stride along the row (a 0-d shape is one row of one).
 * Axes of extent 1 are left out and an axis is merged into the next where every array steps
 * over both as over one axis, so rows are as long as the layouts allow; the walk's order is
 * row-major over `shape` either way.
 */
function rows(shape: readonly number[], strides: readonly (readonly number[])[]): { outer: number[]; outerStrides: number[][]; inner: number; innerStrides: number[] } {
  const merged: number[] = [];
  const mergedStrides: number[][] = strides.map(() => []);
  shape.forEach((extent, axis) => {
    if (extent === 1) return;
    const last = merged.length - 1;
    if (last >= 0 && strides.every((list, k) => mergedStrides[k]![last] === extent * list[axis]!)) {
      merged[last] = merged[last]! * extent;
      strides.forEach((list, k) => (mergedStrides[k]![last] = list[axis]!));
      return;
    }
    merged.push(extent);
    strides.forEach((list, k) => mergedStrides[k]!.push(list[axis]!));
  });
  const rank = merged.length;
  return {
    outer: merged.slice(0, Math.max(0, rank - 1)),
    outerStrides: mergedStrides.map((list) => list.slice(0, Math.max(0, rank - 1))),
    inner: rank === 0 ? 1 : merged[rank - 1]!,
    innerStrides: mergedStrides.map((list) => (rank === 0 ? 0 : list[rank - 1]!)),
  };
}

/** The strides with the given axis's set to 0 (the axis the index selects along). */
const withoutAxis = (strides: readonly number[], axis: number): number[] => strides.map((stride, index) => (index === axis ? 0 : stride));

function checkIndex(operation: string, value: number, extent: number, axis: number, shape: readonly number[]): void {
  if (!(value >= 0 && value < extent)) {
    throw new Error(`${operation}: index ${value} is out of range for axis ${axis} of extent ${extent} (input shape ${formatShape(shape)})`);
  }
}

/** out[p] = x[p with p[axis] replaced by index[p]]; out has index's shape. */
export function gatherKernel(operation: string, x: FloatNdArray, axis: number, index: FloatNdArray): FloatNdArray {
  const out = createNd(dtypeOfNd(x), index.shape);
  const extent = x.shape[axis]!;
  const axisStride = x.stride[axis]!;
  const walk = rows(index.shape, [index.stride, withoutAxis(x.stride, axis)]);
  const [indexStep, xStep] = walk.innerStrides as [number, number];
  const { data: indexData } = index;
  const { data: xData } = x;
  const outData = out.data;
  let position = 0;
  forEachPosition(walk.outer, [{ offset: index.offset, strides: walk.outerStrides[0]! }, { offset: x.offset, strides: walk.outerStrides[1]! }], ([indexOffset, xOffset]) => {
    for (let k = 0; k < walk.inner; k++) {
      const selected = indexData[indexOffset! + k * indexStep]!;
      if (!(selected >= 0 && selected < extent)) checkIndex(operation, selected, extent, axis, x.shape);
      outData[position++] = xData[xOffset! + k * xStep + selected * axisStride]!;
    }
  });
  return out;
}

/** The adjoint of gather: a zero array of `shape` with src[p] added at p with p[axis] replaced by index[p]. */
export function scatterAddKernel(operation: string, src: FloatNdArray, axis: number, index: FloatNdArray, shape: readonly number[]): FloatNdArray {
  const out = createNd(dtypeOfNd(src), shape);
  const outStrides = rowMajorStrides(shape);
  const extent = shape[axis]!;
  const axisStride = outStrides[axis]!;
  const walk = rows(index.shape, [index.stride, src.stride, withoutAxis(outStrides, axis)]);
  const [indexStep, srcStep, outStep] = walk.innerStrides as [number, number, number];
  const { data: indexData } = index;
  const { data: srcData } = src;
  const outData = out.data;
  forEachPosition(
    walk.outer,
    [
      { offset: index.offset, strides: walk.outerStrides[0]! },
      { offset: src.offset, strides: walk.outerStrides[1]! },
      { offset: 0, strides: walk.outerStrides[2]! },
    ],
    ([indexOffset, srcOffset, outOffset]) => {
      for (let k = 0; k < walk.inner; k++) {
        const selected = indexData[indexOffset! + k * indexStep]!;
        if (!(selected >= 0 && selected < extent)) checkIndex(operation, selected, extent, axis, shape);
        outData[outOffset! + k * outStep + selected * axisStride]! += srcData[srcOffset! + k * srcStep]!;
      }
    },
  );
  return out;
}

/**
 * The position of the largest (or, with minimize, smallest) element along the axis, as int32 with
 * the axis removed. The first position wins ties and NaN counts as the extreme (as PyTorch).
 */
export function argmaxKernel(x: FloatNdArray, axis: number, minimize: boolean): FloatNdArray {
  const lineShape = x.shape.filter((_, index) => index !== axis);
  const out = createNd('int32', lineShape);
  const extent = x.shape[axis]!;
  const axisStride = x.stride[axis]!;
  const walk = rows(lineShape, [x.stride.filter((_, index) => index !== axis)]);
  const [lineStep] = walk.innerStrides as [number];
  const { data } = x;
  const outData = out.data;
  let position = 0;
  forEachPosition(walk.outer, [{ offset: x.offset, strides: walk.outerStrides[0]! }], ([rowOffset]) => {
    for (let line = 0; line < walk.inner; line++) {
      const offset = rowOffset! + line * lineStep;
      let best = 0;
      let bestValue = data[offset]!;
      for (let k = 1; k < extent && bestValue === bestValue; k++) {
        const value = data[offset + k * axisStride]!;
        if (value !== value || (minimize ? value < bestValue : value > bestValue)) {
          best = k;
          bestValue = value;
        }
      }
      outData[position++] = best;
    }
  });
  return out;
}

/** Lines up to this length are sorted by insertion, longer ones by radix sort. */
const INSERTION_SORT_MAXIMUM = 64;

const keyBits = new Float64Array(1);
const keyWords = new Uint32Array(keyBits.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const [LOW_WORD, HIGH_WORD] = LITTLE_ENDIAN ? [0, 1] : [1, 0];

/**
 * Writes the sort key of `value` at `k` in high and low: two unsigned words whose order (high
 * first) is the ascending order of the numbers, NaN above every number and −0 equal to +0 (as
 * PyTorch's sort); complemented for descending order.
 */
function writeKey(value: number, descending: boolean, k: number, high: Uint32Array, low: Uint32Array): void {
  let hi: number;
  let lo: number;
  if (value !== value) {
    hi = 0xffffffff;
    lo = 0xffffffff;
  } else {
    keyBits[0] = value === 0 ? 0 : value;
    hi = keyWords[HIGH_WORD]!;
    lo = keyWords[LOW_WORD]!;
    // IEEE 754 bits in sign-magnitude order: flip every bit of a negative, the sign bit of a positive
    if (hi & 0x80000000) {
      hi = ~hi;
      lo = ~lo;
    } else {
      hi |= 0x80000000;
    }
  }
  high[k] = descending ? ~hi : hi;
  low[k] = descending ? ~lo : lo;
}

/** Sorts order[0..n) by (high, low) of each position, stably, by insertion. */
function insertionSort(order: Int32Array, n: number, high: Uint32Array, low: Uint32Array): void {
  for (let i = 1; i < n; i++) {
    const moving = order[i]!;
    const hi = high[moving]!;
    const lo = low[moving]!;
    let j = i - 1;
    while (j >= 0) {
      const other = order[j]!;
      const otherHigh = high[other]!;
      if (otherHigh < hi || (otherHigh === hi && low[other]! <= lo)) break;
      order[j + 1] = other;
      j--;
    }
    order[j + 1] = moving;
  }
}

/** The arrays a radix sort moves between: keys (high, low words) and positions, each of the line's length. */
interface SortBuffers {
  high: Uint32Array;
  low: Uint32Array;
  order: Int32Array;
}

/**
 * Sorts `keys.order` (initially 0..n−1) by (high, low), stably: least-significant-digit radix sort
 * over the eight bytes of the key, skipping a byte every key shares. Each pass reads keys and
 * positions in sequence and moves them together into `spare`; the words of `keys` are overwritten.
 */
function radixSort(keys: SortBuffers, spare: SortBuffers, n: number, counts: Int32Array): void {
  let from = keys;
  let to = spare;
  for (let pass = 0; pass < 8; pass++) {
    const words = pass < 4 ? from.low : from.high;
    const shift = (pass % 4) * 8;
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[(words[i]! >>> shift) & 0xff]!++;
    if (counts[(words[0]! >>> shift) & 0xff] === n) continue;
    let total = 0;
    for (let digit = 0; digit < 256; digit++) {
      const count = counts[digit]!;
      counts[digit] = total;
      total += count;
    }
    const [fromHigh, fromLow, fromOrder] = [from.high, from.low, from.order];
    const [toHigh, toLow, toOrder] = [to.high, to.low, to.order];
    const moveLow = pass < 3; // the low words are not read after the fourth pass
    for (let i = 0; i < n; i++) {
      const target = counts[(words[i]! >>> shift) & 0xff]!++;
      toOrder[target] = fromOrder[i]!;
      toHigh[target] = fromHigh[i]!;
      if (moveLow) toLow[target] = fromLow[i]!;
    }
    [from, to] = [to, from];
  }
  if (from !== keys) keys.order.set(from.order);
}

/**
 * The positions that sort each line along the axis, as int32 of x's shape: ascending, or
 * descending; stable (equal elements keep their order), NaN above every number, −0 equal to +0.
 */
export function argsortKernel(x: FloatNdArray, axis: number, descending: boolean): FloatNdArray {
  const out = createNd('int32', x.shape);
  const extent = x.shape[axis]!;
  const axisStride = x.stride[axis]!;
  const outStrides = rowMajorStrides(x.shape);
  const outAxisStride = outStrides[axis]!;
  const lineShape = x.shape.map((size, index) => (index === axis ? 1 : size));
  const keys: SortBuffers = { high: new Uint32Array(extent), low: new Uint32Array(extent), order: new Int32Array(extent) };
  const spare: SortBuffers | null = extent > INSERTION_SORT_MAXIMUM ? { high: new Uint32Array(extent), low: new Uint32Array(extent), order: new Int32Array(extent) } : null;
  const counts = new Int32Array(256);
  forEachPosition(lineShape, [{ offset: x.offset, strides: x.stride }, { offset: 0, strides: outStrides }], ([offset, outOffset]) => {
    const { high, low, order } = keys;
    for (let k = 0; k < extent; k++) {
      writeKey(x.data[offset! + k * axisStride]!, descending, k, high, low);
      order[k] = k;
    }
    if (spare) radixSort(keys, spare, extent, counts);
    else insertionSort(order, extent, high, low);
    for (let k = 0; k < extent; k++) out.data[outOffset! + k * outAxisStride] = order[k]!;
  });
  return out;
}
