/** Helpers of the prepared-step tests (compile-prepared*.test.ts): operands in every layout, seeded values, moved arrays, bit comparison. */
import ndarray from 'ndarray';
import type { DType } from '@normgrad/core';
import type { DataArray } from '../src/dtype.js';
import type { FloatNdArray } from '../src/kernels/layout.js';

export type Backend = 'js' | 'wasm';

type Floats = Float32Array | Float64Array | DataArray;

/** The first element whose bits differ between two arrays (so -0 and NaN payloads count), or -1 when none does (a short message on failure, whatever the length). */
export function firstDifference(actual: Floats, expected: Floats): number {
  if (actual.length !== expected.length) return Math.min(actual.length, expected.length);
  const bytes = actual.BYTES_PER_ELEMENT;
  const [a, b] = [new Uint8Array(actual.buffer, actual.byteOffset, actual.byteLength), new Uint8Array(expected.buffer, expected.byteOffset, expected.byteLength)];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return Math.floor(i / bytes);
  return -1;
}

/**
 * How an operand of a given shape is laid out: its own contiguous array, a transposed view, a view
 * at an offset, broadcast from one row, or (rank 3 and more) broadcast along axis 1 only, so that
 * the walk keeps two outer axes that do not coalesce.
 */
export type Layout = 'contiguous' | 'transposed' | 'offset' | 'broadcast' | 'middleBroadcast';

export function makeView(shape: readonly number[], layout: Layout, dtype: DType, random: () => number): FloatNdArray {
  const size = shape.reduce((product, extent) => product * extent, 1);
  const fill = (length: number): DataArray => {
    const data = dtype === 'float64' ? new Float64Array(length) : new Float32Array(length);
    for (let i = 0; i < length; i++) data[i] = random() * 4 - 2;
    return data;
  };
  const rowMajor = (extents: readonly number[]) => extents.map((_, axis) => extents.slice(axis + 1).reduce((product, extent) => product * extent, 1));
  if (layout === 'transposed' && shape.length >= 2) {
    const reversed = shape.slice().reverse();
    const strides = rowMajor(reversed).reverse();
    return ndarray(fill(size), shape.slice(), strides, 0) as FloatNdArray;
  }
  if (layout === 'middleBroadcast' && shape.length >= 3) {
    const stored = shape.map((extent, axis) => (axis === 1 ? 1 : extent));
    const strides = rowMajor(stored).map((stride, axis) => (axis === 1 ? 0 : stride));
    return ndarray(fill(size / shape[1]!), shape.slice(), strides, 0) as FloatNdArray;
  }
  if (layout === 'offset') return ndarray(fill(size + 3), shape.slice(), rowMajor(shape), 3) as FloatNdArray;
  if (layout === 'broadcast' && shape.length >= 1) {
    const rowLength = shape[shape.length - 1]!;
    return ndarray(fill(rowLength), shape.slice(), [...shape.slice(0, -1).map(() => 0), 1], 0) as FloatNdArray;
  }
  return ndarray(fill(size), shape.slice(), rowMajor(shape), 0) as FloatNdArray;
}

/** A seeded generator of numbers in [0, 1). */
export function seeded(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/** The same views pointed at fresh arrays of new values (all views of one array at the same new array), and a fresh output array. */
export function moveAll(inputs: readonly FloatNdArray[], out: FloatNdArray, random: () => number): void {
  const moved = new Map<DataArray, DataArray>();
  for (const view of inputs) {
    let array = moved.get(view.data);
    if (array === undefined) {
      array = view.data.slice();
      for (let i = 0; i < array.length; i++) array[i] = random() * 4 - 2;
      moved.set(view.data, array);
    }
    view.data = array;
  }
  out.data = out.data.slice().fill(0);
}
