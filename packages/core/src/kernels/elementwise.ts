import { allocate, type DType, type DataArray, type FloatArray } from '../dtype.js';
import { createNd, dtypeOfNd, isContiguous, rowMajorStrides, sizeOf, type FloatNdArray } from './layout.js';
import { runWasmElementwise, tryWasmElementwise } from './wasm-elementwise.js';

/**
 * Elementwise kernels. Each op is given as a JavaScript expression over its operands' element
 * values `$0`, `$1`, … (e.g. '$0 * $1'); the whole loop for that expression — rows and the walk
 * over the outer axes — is compiled once with `new Function`, so V8 sees one monomorphic loop per
 * expression instead of a closure call per element (the technique ndarray-ops' cwise uses; about
 * 5–10× faster than calling a callback). Inputs may be strided or stride-0 broadcast views;
 * outputs are fresh and contiguous.
 */
type ElementwiseKernel = (
  out: DataArray,
  size: number,
  inner: number,
  outerShape: readonly number[],
  ...operands: (DataArray | number | readonly number[])[]
) => void;

const compiledKernels = new Map<string, ElementwiseKernel>();

/** How an operand is read along the innermost axis: 'unit' stride, stride 'zero' (broadcast), or 'any'. */
export type StrideKind = 'unit' | 'zero' | 'any';

export const strideKind = (stride: number): StrideKind => (stride === 1 ? 'unit' : stride === 0 ? 'zero' : 'any');

/**
 * The compiled loop `out[k] = expression`, cached by expression and by how each operand is read
 * along the innermost axis (a broadcast operand is read once per row, a unit-stride one without
 * a multiply). Per operand it takes its data, offset, innermost stride and outer-axis strides.
 */
function elementwiseKernel(expression: string, kinds: readonly StrideKind[]): ElementwiseKernel {
  const key = `${kinds.join(',')}:${expression}`;
  let kernel = compiledKernels.get(key);
  if (kernel === undefined) {
    const operands = kinds.map((_, k) => k);
    const parameters = operands.flatMap((k) => [`data${k}`, `offset${k}`, `stride${k}`, `outerStrides${k}`]);
    const rowReads = operands.filter((k) => kinds[k] === 'zero').map((k) => `const $${k} = data${k}[offset${k}];`).join(' ');
    const elementReads = operands
      .filter((k) => kinds[k] !== 'zero')
      .map((k) => `const $${k} = data${k}[offset${k} + ${kinds[k] === 'unit' ? 'i' : `i * stride${k}`}];`)
      .join(' ');
    const advance = operands.map((k) => `offset${k} += outerStrides${k}[axis];`).join(' ');
    const rewind = operands.map((k) => `offset${k} -= outerStrides${k}[axis] * outerShape[axis];`).join(' ');
    const body = `
      const counter = new Array(outerShape.length).fill(0);
      for (let start = 0; start < size; start += inner) {
        ${rowReads}
        for (let i = 0; i < inner; i++) { ${elementReads} out[start + i] = ${expression}; }
        for (let axis = outerShape.length - 1; axis >= 0; axis--) {
          counter[axis]++; ${advance}
          if (counter[axis] < outerShape[axis]) break;
          ${rewind} counter[axis] = 0;
        }
      }`;
    kernel = new Function('out', 'size', 'inner', 'outerShape', ...parameters, body) as ElementwiseKernel;
    compiledKernels.set(key, kernel);
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

/**
 * out = expression (over $0, $1, …) applied elementwise to same-shaped inputs (any strides), in
 * `dtype`: a fresh array, or the front of `target` when given (it must be of `dtype` and long enough).
 */
export function mapElementwise(expression: string, inputs: readonly FloatNdArray[], dtype: DType = dtypeOfNd(inputs[0]!), target?: DataArray): FloatNdArray {
  const shape = inputs[0]!.shape;
  const size = sizeOf(shape);
  const out = target ? target.subarray(0, size) : allocate(dtype, size);
  if (size === 0) return createNd(dtype, shape, out);
  const merged = coalesce(shape, inputs.map((input) => input.stride));
  const rank = merged.shape.length;
  const inner = rank === 0 ? 1 : merged.shape[rank - 1]!;
  const outerShape = merged.shape.slice(0, Math.max(0, rank - 1));
  const innerStrides = merged.strides.map((strides) => (rank === 0 ? 0 : strides[rank - 1]!));
  const outerStrides = merged.strides.map((strides) => strides.slice(0, Math.max(0, rank - 1)));
  const walk = { inner, outerShape, innerStrides, outerStrides, outerTargetStrides: rowMajorStrides(outerShape).map((stride) => stride * inner) };
  if (!(tryWasmElementwise(size) && runWasmElementwise(expression, inputs, dtype, 'map', walk, out))) {
    const operands = inputs.flatMap((input, k) => [input.data, input.offset, innerStrides[k]!, outerStrides[k]!]);
    elementwiseKernel(expression, innerStrides.map(strideKind))(out, size, inner, outerShape, ...operands);
  }
  return createNd(dtype, shape, out);
}

/** Copies any (strided) ndarray into a fresh contiguous one, optionally converting the dtype. */
export function copyNd(x: FloatNdArray, dtype: DType = dtypeOfNd(x)): FloatNdArray {
  return mapElementwise('$0', [x], dtype);
}

/** A contiguous ndarray with the same elements: the array itself when it already is one, else a copy. */
export function toContiguous(x: FloatNdArray): FloatNdArray {
  return isContiguous(x) && x.offset === 0 && x.data.length === sizeOf(x.shape) ? x : copyNd(x);
}

/**
 * Computes `expression` — JavaScript arithmetic over the elements $0, $1, … of `inputs`, e.g.
 * '$0 * $1 + $2' — elementwise into `output`, which may be one of the inputs (each element is read
 * before it is written). Inputs have the output's dtype and length, or length 1 (one value for all
 * elements). The loop is compiled once per expression: WebAssembly SIMD for float32 arithmetic of
 * 2,048+ elements (see setElementwiseBackend), else JavaScript. The expression is compiled as
 * code, so pass only text of your own. For optimizers and other in-place updates of raw storage.
 */
export function elementwiseInto(expression: string, inputs: readonly FloatArray[], output: FloatArray): void {
  const op = 'elementwiseInto';
  if (typeof expression !== 'string' || expression.trim() === '') throw new Error(`${op}: expected an expression over $0, $1, …, got ${JSON.stringify(expression)}`);
  const dtype = output instanceof Float64Array ? 'float64' : output instanceof Float32Array ? 'float32' : null;
  if (dtype === null) throw new Error(`${op}: the output must be a Float32Array or Float64Array`);
  const referenced = [...expression.matchAll(/\$(\d+)/g)].map((match) => Number(match[1]));
  const missing = referenced.find((index) => index >= inputs.length);
  if (missing !== undefined) throw new Error(`${op}: the expression reads $${missing}, but ${inputs.length} input(s) were given`);
  inputs.forEach((input, index) => {
    if (!(input instanceof (dtype === 'float64' ? Float64Array : Float32Array))) throw new Error(`${op}: input ${index} must be a ${dtype === 'float64' ? 'Float64Array' : 'Float32Array'} like the output`);
    if (input.length !== output.length && input.length !== 1) throw new Error(`${op}: input ${index} has ${input.length} elements, the output ${output.length} (inputs have the output's length or 1)`);
  });
  if (output.length === 0) return;
  const views = inputs.map((input) => createNd(dtype, [output.length], input));
  views.forEach((view, index) => {
    if (inputs[index]!.length === 1) view.stride[0] = 0;
  });
  mapElementwise(expression, views.length > 0 ? views : [createNd(dtype, [output.length], output)], dtype, output);
}
