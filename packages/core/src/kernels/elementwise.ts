import { allocate, type DType, type FloatArray } from '../dtype.js';
import { createNd, dtypeOfNd, sizeOf, type FloatNdArray } from './layout.js';

/**
 * Elementwise kernels. Each op is given as a JavaScript expression over the element values
 * `a`, `b`, `c` (e.g. 'a * b'); the row loop for that expression is compiled once with
 * `new Function`, so V8 sees one monomorphic loop per op instead of a closure call per element
 * (the technique ndarray-ops' cwise uses; about 5–10× faster than calling a callback).
 * Inputs may be strided or stride-0 broadcast views; outputs are fresh and contiguous.
 */
export type RowKernel = (out: FloatArray, outStart: number, length: number, ...arrays: (FloatArray | number)[]) => void;

const compiledRows = new Map<string, RowKernel>();

const operandNames = ['a', 'b', 'c'] as const;

/** The compiled row loop `out[outStart + i] = expression` for `arity` inputs, cached by expression. */
function rowKernel(expression: string, arity: number): RowKernel {
  const key = `${arity}:${expression}`;
  let kernel = compiledRows.get(key);
  if (kernel === undefined) {
    const names = operandNames.slice(0, arity);
    const parameters = names.flatMap((name) => [`${name}Data`, `${name}Offset`, `${name}Stride`]);
    const reads = names.map((name) => `const ${name} = ${name}Data[${name}Offset + i * ${name}Stride];`).join(' ');
    const body = `for (let i = 0; i < length; i++) { ${reads} out[outStart + i] = ${expression}; }`;
    kernel = new Function('out', 'outStart', 'length', ...parameters, body) as RowKernel;
    compiledRows.set(key, kernel);
  }
  return kernel;
}

/**
 * Merges neighbouring axes over which every array is laid out contiguously (dropping extent-1
 * axes), so that e.g. (N, C, H, W) · (1, C, 1, 1) iterates as N · C rows of length H·W.
 */
function coalesce(shape: readonly number[], strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const mergedShape: number[] = [];
  const mergedStrides: number[][] = strides.map(() => []);
  for (let axis = 0; axis < shape.length; axis++) {
    const extent = shape[axis]!;
    if (extent === 1) continue;
    const last = mergedShape.length - 1;
    const mergeable = last >= 0 && strides.every((stride, k) => mergedStrides[k]![last] === stride[axis]! * extent);
    if (mergeable) {
      mergedShape[last]! *= extent;
      strides.forEach((stride, k) => (mergedStrides[k]![last] = stride[axis]!));
    } else {
      mergedShape.push(extent);
      strides.forEach((stride, k) => mergedStrides[k]!.push(stride[axis]!));
    }
  }
  return { shape: mergedShape, strides: mergedStrides };
}

/** out = expression applied elementwise to same-shaped inputs (any strides), in `dtype`. */
export function mapElementwise(expression: string, inputs: readonly FloatNdArray[], dtype: DType = dtypeOfNd(inputs[0]!)): FloatNdArray {
  const shape = inputs[0]!.shape;
  const size = sizeOf(shape);
  const out = allocate(dtype, size);
  if (size === 0) return createNd(dtype, shape, out);
  const kernel = rowKernel(expression, inputs.length);
  const merged = coalesce(shape, inputs.map((input) => input.stride));
  const rank = merged.shape.length;
  const [first, second, third] = inputs as [FloatNdArray, FloatNdArray | undefined, FloatNdArray | undefined];
  const offsets = inputs.map((input) => input.offset);
  const innerStrides = merged.strides.map((stride) => (rank === 0 ? 0 : stride[rank - 1]!));
  const inner = rank === 0 ? size : merged.shape[rank - 1]!;
  const runRow = (outStart: number): void => {
    // direct calls by arity: no per-row argument arrays
    if (third) kernel(out, outStart, inner, first.data, offsets[0]!, innerStrides[0]!, second!.data, offsets[1]!, innerStrides[1]!, third.data, offsets[2]!, innerStrides[2]!);
    else if (second) kernel(out, outStart, inner, first.data, offsets[0]!, innerStrides[0]!, second.data, offsets[1]!, innerStrides[1]!);
    else kernel(out, outStart, inner, first.data, offsets[0]!, innerStrides[0]!);
  };
  const counter = new Array<number>(rank).fill(0);
  for (let outStart = 0; outStart < size; outStart += inner) {
    runRow(outStart);
    for (let axis = rank - 2; axis >= 0; axis--) {
      counter[axis]!++;
      for (let k = 0; k < inputs.length; k++) offsets[k]! += merged.strides[k]![axis]!;
      if (counter[axis]! < merged.shape[axis]!) break;
      for (let k = 0; k < inputs.length; k++) offsets[k]! -= merged.strides[k]![axis]! * merged.shape[axis]!;
      counter[axis] = 0;
    }
  }
  return createNd(dtype, shape, out);
}

/** Copies any (strided) ndarray into a fresh contiguous one, optionally converting the dtype. */
export function copyNd(x: FloatNdArray, dtype: DType = dtypeOfNd(x)): FloatNdArray {
  return mapElementwise('a', [x], dtype);
}
