import { allocate, type DType, type DataArray, type FloatArray } from '../dtype.js';
import { createNd, dtypeOfNd, isContiguous, rowMajorStrides, sizeOf, type FloatNdArray } from './layout.js';
import { writeStorage } from '../storage.js';
import { E, inputCount, printJs, structuralKey, type Expr } from './expr.js';
import { prepareWasmMap, runWasmElementwise, tryWasmElementwise, type Walk } from './wasm-elementwise.js';

/**
 * Elementwise kernels. Each op is an expression tree (expr.ts) over its operands' element values;
 * the whole loop for that tree — rows and the walk over the outer axes — is printed as JavaScript
 * and compiled once with `new Function`, so V8 sees one monomorphic loop per expression instead of
 * a closure call per element (the technique ndarray-ops' cwise uses). Inputs may be strided or
 * stride-0 broadcast views; outputs are fresh and contiguous.
 */
type ElementwiseKernel = (
  out: DataArray,
  size: number,
  inner: number,
  outerShape: readonly number[],
  ...operands: (DataArray | number | readonly number[])[]
) => void;

const compiledKernels = new Map<string, ElementwiseKernel>();
/** The kernels of each tree, by dtype and stride kinds (trees never change). */
const kernelsOfTree = new WeakMap<Expr, Map<string, ElementwiseKernel>>();

/** How an operand is read along the innermost axis: 'unit' stride, stride 'zero' (broadcast), or 'any'. */
export type StrideKind = 'unit' | 'zero' | 'any';

export const strideKind = (stride: number): StrideKind => (stride === 1 ? 'unit' : stride === 0 ? 'zero' : 'any');

/**
 * The compiled loop `out[k] = expression`, cached by the tree's structure, the dtype (float32
 * rounds per operator) and how each operand is read along the innermost axis (a broadcast operand
 * is read once per row, a unit-stride one without a multiply). Per operand it takes its data,
 * offset, innermost stride and outer-axis strides.
 */
function elementwiseKernel(expression: Expr, dtype: DType, kinds: readonly StrideKind[]): ElementwiseKernel {
  // first by the tree itself, then by its structure (a long string for a big tree, hashed once per tree and loop kind)
  let byLoop = kernelsOfTree.get(expression);
  if (byLoop === undefined) {
    byLoop = new Map();
    kernelsOfTree.set(expression, byLoop);
  }
  const loop = `${dtype}:${kinds.join(',')}`;
  let kernel = byLoop.get(loop);
  if (kernel !== undefined) return kernel;
  const key = `${loop}:${structuralKey(expression)}`;
  kernel = compiledKernels.get(key);
  if (kernel === undefined) {
    const operands = kinds.map((_, k) => k);
    const parameters = operands.flatMap((k) => [`data${k}`, `offset${k}`, `stride${k}`, `outerStrides${k}`]);
    const rowReads = operands.filter((k) => kinds[k] === 'zero').map((k) => `const $${k} = data${k}[offset${k}];`).join(' ');
    const elementReads = operands
      .filter((k) => kinds[k] !== 'zero')
      .map((k) => `const $${k} = data${k}[offset${k} + ${kinds[k] === 'unit' ? 'i' : `i * stride${k}`}];`)
      .join(' ');
    const { statements, result } = printJs(expression, dtype);
    const advance = operands.map((k) => `offset${k} += outerStrides${k}[axis];`).join(' ');
    const rewind = operands.map((k) => `offset${k} -= outerStrides${k}[axis] * outerShape[axis];`).join(' ');
    const body = `
      const counter = new Array(outerShape.length).fill(0);
      for (let start = 0; start < size; start += inner) {
        ${rowReads}
        for (let i = 0; i < inner; i++) { ${elementReads} ${statements} out[start + i] = ${result}; }
        for (let axis = outerShape.length - 1; axis >= 0; axis--) {
          counter[axis]++; ${advance}
          if (counter[axis] < outerShape[axis]) break;
          ${rewind} counter[axis] = 0;
        }
      }`;
    kernel = new Function('out', 'size', 'inner', 'outerShape', ...parameters, body) as ElementwiseKernel;
    compiledKernels.set(key, kernel);
  }
  byLoop.set(loop, kernel);
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

/** How a loop walks same-shaped arrays: the coalesced axes as rows of `inner` elements and the outer axes, per operand its strides. */
interface ElementwiseWalk {
  size: number;
  inner: number;
  outerShape: number[];
  innerStrides: number[];
  outerStrides: number[][];
}

function walkOf(inputs: readonly FloatNdArray[]): ElementwiseWalk {
  const shape = inputs[0]!.shape;
  const merged = coalesce(shape, inputs.map((input) => input.stride));
  const rank = merged.shape.length;
  return {
    size: sizeOf(shape),
    inner: rank === 0 ? 1 : merged.shape[rank - 1]!,
    outerShape: merged.shape.slice(0, Math.max(0, rank - 1)),
    innerStrides: merged.strides.map((strides) => (rank === 0 ? 0 : strides[rank - 1]!)),
    outerStrides: merged.strides.map((strides) => strides.slice(0, Math.max(0, rank - 1))),
  };
}

/** The walk in the form the WebAssembly kernels take (wasm-elementwise.ts). */
const wasmWalkOf = ({ inner, outerShape, innerStrides, outerStrides }: ElementwiseWalk): Walk => ({
  inner, outerShape, innerStrides, outerStrides, outerTargetStrides: rowMajorStrides(outerShape).map((stride) => stride * inner),
});

/**
 * out = expression (over inputs 0, 1, …) applied elementwise to same-shaped inputs (any strides),
 * in `dtype`: a fresh array, or the front of `target` when given (it must be of `dtype` and long enough).
 */
export function mapElementwise(expression: Expr, inputs: readonly FloatNdArray[], dtype: DType = dtypeOfNd(inputs[0]!), target?: FloatArray): FloatNdArray {
  const shape = inputs[0]!.shape;
  const size = sizeOf(shape);
  const out = target ? target.subarray(0, size) : allocate(dtype, size);
  if (size === 0) return createNd(dtype, shape, out);
  const walk = walkOf(inputs);
  if (tryWasmElementwise(size) && runWasmElementwise(expression, inputs, dtype, 'map', wasmWalkOf(walk), out)) return createNd(dtype, shape, out);
  // plain loops: this runs for every small op, so the arguments are gathered without closures
  const { inner, outerShape, innerStrides, outerStrides } = walk;
  const kinds = new Array<StrideKind>(inputs.length);
  const operands: (DataArray | number | readonly number[])[] = [];
  for (let k = 0; k < inputs.length; k++) {
    const input = inputs[k]!;
    operands.push(input.data, input.offset, innerStrides[k]!, outerStrides[k]!);
    kinds[k] = strideKind(innerStrides[k]!);
  }
  elementwiseKernel(expression, dtype, kinds)(out, size, inner, outerShape, ...operands);
  return createNd(dtype, shape, out);
}

/**
 * `mapElementwise(expression, inputs, dtype, out.data)` with everything but the arrays resolved
 * once: the loop (WebAssembly or JavaScript, chosen as mapElementwise chooses it now), the
 * coalesced walk and each operand's offset and strides (and for WebAssembly, the staging plan:
 * wasm-elementwise.ts's prepareWasmMap). The returned function runs the loop over
 * the arrays that `out` and `inputs` view at that moment (`.data` is read on every call: compile.ts
 * moves values by pointing views at other arrays); their shapes, strides and offsets must not
 * change. For compile's replays of a trace.
 */
export function prepareElementwise(expression: Expr, inputs: readonly FloatNdArray[], dtype: DType, out: FloatNdArray): () => void {
  const walk = walkOf(inputs);
  const { size, inner, outerShape, innerStrides, outerStrides } = walk;
  if (size === 0) return () => {};
  const kinds = innerStrides.map(strideKind);
  const kernel = elementwiseKernel(expression, dtype, kinds);
  // the kernel's arguments, of which the arrays are replaced on every call
  const args: (DataArray | number | readonly number[])[] = [out.data, size, inner, outerShape];
  inputs.forEach((input, k) => args.push(input.data, input.offset, innerStrides[k]!, outerStrides[k]!));
  const runJs = (): void => {
    args[0] = out.data;
    for (let k = 0; k < inputs.length; k++) args[4 + 4 * k] = inputs[k]!.data;
    Reflect.apply(kernel, undefined, args);
  };
  const runWasm = tryWasmElementwise(size) ? prepareWasmMap(expression, inputs, dtype, wasmWalkOf(walk)) : null;
  return runWasm === null ? runJs : () => runWasm(out.data);
}

/** Copies any (strided) ndarray into a fresh contiguous one, optionally converting the dtype. */
export function copyNd(x: FloatNdArray, dtype: DType = dtypeOfNd(x)): FloatNdArray {
  return mapElementwise(E.input(0), [x], dtype);
}

/** A contiguous ndarray with the same elements: the array itself when it already is one, else a copy. */
export function toContiguous(x: FloatNdArray): FloatNdArray {
  return isContiguous(x) && x.offset === 0 && x.data.length === sizeOf(x.shape) ? x : copyNd(x);
}

/**
 * Computes an expression elementwise into `output`, which may be one of the inputs (each element
 * is read before it is written): `expression` is a tree over the inputs, or a function that builds
 * one from the inputs' nodes, e.g. `(p, g, lr) => E.sub(p, E.mul(lr, g))`. Inputs have the
 * output's dtype and length, or length 1 (one value for all elements). The loop is compiled once
 * per expression: WebAssembly SIMD for arithmetic of 2,048+ elements (see withSettings), else
 * JavaScript. For optimizers and other in-place updates of raw storage; writing into a tensor's
 * storage this way goes through the same in-place path as `assignInPlace` (pending results that
 * read it are computed first, and its version is bumped).
 */
export function elementwiseInto(expression: Expr | ((...inputs: Expr[]) => Expr), inputs: readonly FloatArray[], output: FloatArray): void {
  const op = 'elementwiseInto';
  if (!Array.isArray(inputs)) throw new Error(`${op}: expected an array of input arrays, got ${typeof inputs}`);
  const tree = typeof expression === 'function' ? expression(...inputs.map((_, k) => E.input(k))) : expression;
  if (tree === null || typeof tree !== 'object' || !('kind' in tree)) {
    throw new Error(`${op}: expected an expression tree (built with E) or a function of the inputs' nodes returning one, got ${typeof expression === 'string' ? 'a string' : typeof tree}`);
  }
  const dtype = output instanceof Float64Array ? 'float64' : output instanceof Float32Array ? 'float32' : null;
  if (dtype === null) throw new Error(`${op}: the output must be a Float32Array or Float64Array`);
  const needed = inputCount(tree);
  if (needed > inputs.length) throw new Error(`${op}: the expression reads input ${needed - 1}, but ${inputs.length} input(s) were given`);
  inputs.forEach((input, index) => {
    if (!(input instanceof (dtype === 'float64' ? Float64Array : Float32Array))) throw new Error(`${op}: input ${index} must be a ${dtype === 'float64' ? 'Float64Array' : 'Float32Array'} like the output`);
    if (input.length !== output.length && input.length !== 1) throw new Error(`${op}: input ${index} has ${input.length} elements, the output ${output.length} (inputs have the output's length or 1)`);
  });
  if (output.length === 0) return;
  const length = output.length;
  const views = inputs.map((input) => createNd(dtype, [length], input));
  views.forEach((view, index) => {
    if (inputs[index]!.length === 1) view.stride[0] = 0;
  });
  // the write reaches the arrays through these ndarrays only, read when it runs (so compile may move the values they view)
  const target = createNd(dtype, [length], output);
  writeStorage(output, () => {
    const out = target.data as FloatArray;
    if (views.length > 0 && !tryWasmElementwise(length)) {
      // one row, each input read at every element or (of length 1) once: mapElementwise's walk of these inputs
      const kinds = inputs.map((input): StrideKind => (length === 1 || input.length === 1 ? 'zero' : 'unit'));
      const operands = views.flatMap((view, k) => [view.data, 0, kinds[k] === 'zero' ? 0 : 1, noOuterAxes]);
      elementwiseKernel(tree, dtype, kinds)(out, length, length, noOuterAxes, ...operands);
      return;
    }
    mapElementwise(tree, views.length > 0 ? views : [target], dtype, out);
  }, { target, reads: views });
}

const noOuterAxes: readonly number[] = [];
