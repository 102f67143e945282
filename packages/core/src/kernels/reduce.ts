import { allocate, type DType, type DataArray } from '../dtype.js';
import { createNd, dtypeOfNd, isContiguous, rowMajorStrides, sizeOf, type FloatNdArray } from './layout.js';
import { strideKind, type StrideKind } from './elementwise.js';
import { E, printJs, structuralKey, type Expr } from './expr.js';
import { prepareWasmSum, prepareWasmSums, runWasmElementwise, tryWasmElementwise, type WasmSum, type Walk } from './wasm-elementwise.js';

export type ReductionKind = 'sum' | 'max';

/**
 * Reductions. Like the elementwise kernels, the loop is compiled once per expression: the value
 * reduced is an expression tree (expr.ts) over operand elements, so a pending elementwise result
 * (fusion.ts) is reduced straight from its operands without an array of its own. Plain `sum(x)`
 * is the expression `input(0)`. Sums accumulate in float64 whatever the dtype, in one order that
 * the WebAssembly kernels follow too, so sums are bit-identical across backends: along the run of
 * reduced axes innermost in the row-major layout, element i of the run goes to running total i mod 4
 * (the tail to total 0) and the run's sum is (t0 + t1) + (t2 + t3); runs are added to their output
 * in order, one at a time. Where an operand's strides split that run into several rows (a broadcast
 * row under fusion, a transposed view), the four totals are carried from row to row, so the sum is
 * the one of the row-major array, bit for bit, without computing that array.
 */
type ReductionKernel = (
  accumulator: Float64Array,
  size: number,
  inner: number,
  rows: number,
  runRows: number,
  outerShape: readonly number[],
  outerOutputStrides: readonly number[],
  ...operands: (DataArray | number | readonly number[])[]
) => void;

const compiledKernels = new Map<string, ReductionKernel>();

type InnerWalk = 'reduced' | 'carried' | 'kept';

const combine = (kind: ReductionKind, total: string, value: string): string =>
  kind === 'sum' ? `(${total} + ${value})` : `Math.max(${total}, ${value})`;

/**
 * The compiled reduction of `expression`, cached by expression, kind, how the innermost axis is
 * walked, and how each operand is read along it. The innermost axis is 'reduced' (one total per
 * row, four running totals along it), 'carried' (reduced, and each run of `runRows` consecutive
 * rows is one row-major run: the four totals go on from row to row, element i of the run to total
 * i mod 4, and are added to the output once per run) or 'kept' (one total per element of the row,
 * adding four rows of the reduced axis just outside it at a time).
 */
function reductionKernel(expression: Expr, dtype: DType, kind: ReductionKind, innerWalk: InnerWalk, kinds: readonly StrideKind[]): ReductionKernel {
  const key = `${kind}:${dtype}:${innerWalk}:${kinds.join(',')}:${structuralKey(expression)}`;
  let kernel = compiledKernels.get(key);
  if (kernel === undefined) {
    const operands = kinds.map((_, k) => k);
    const parameters = operands.flatMap((k) => [`data${k}`, `offset${k}`, `stride${k}`, `rowStride${k}`, `outerStrides${k}`]);
    /** Reads of every operand at element `index` of row `row` of the block ('zero' operands: once per row). */
    const reads = (row: string, index: string, which: (k: number) => boolean): string =>
      operands
        .filter(which)
        .map((k) => `const $${k} = data${k}[offset${k}${row === '0' ? '' : ` + (${row}) * rowStride${k}`}${kinds[k] === 'zero' ? '' : kinds[k] === 'unit' ? ` + ${index}` : ` + (${index}) * stride${k}`}];`)
        .join(' ');
    const { statements, result: value } = printJs(expression, dtype);
    const initial = kind === 'sum' ? '0' : '-Infinity';
    const lanes = [0, 1, 2, 3];
    /** The value at element i of the row added to running total 0. */
    const addToTotal0 = `{ ${reads('0', 'i', (k) => kinds[k] !== 'zero')} ${statements} total0 = ${combine(kind, 'total0', value)}; }`;
    // Carried totals: total m holds running total (phase + m) mod 4 of the run, where phase is the
    // number of elements before the tail seen so far, mod 4; a single element goes to total 0 and
    // the totals turn by one. The tail (the last run length mod 4 elements) starts at phase 0.
    const carriedBlock = `${reads('0', 'i', (k) => kinds[k] === 'zero')}
        const regular = Math.min(inner, runRegular - runRow * inner);
        let i = 0;
        for (; i + 3 < regular; i += 4) {
          ${lanes.map((lane) => `{ ${reads('0', `i + ${lane}`, (k) => kinds[k] !== 'zero')} ${statements} total${lane} = ${combine(kind, `total${lane}`, value)}; }`).join('\n')}
        }
        for (; i < regular; i++) { ${addToTotal0} const turned = total0; total0 = total1; total1 = total2; total2 = total3; total3 = turned; }
        for (; i < inner; i++) ${addToTotal0}
        if (++runRow === runRows) {
          accumulator[outputOffset] = ${combine(kind, 'accumulator[outputOffset]', combine(kind, combine(kind, 'total0', 'total1'), combine(kind, 'total2', 'total3')))};
          runRow = 0; total0 = ${initial}; total1 = ${initial}; total2 = ${initial}; total3 = ${initial};
        }`;
    const block = innerWalk === 'carried' ? carriedBlock : innerWalk === 'reduced'
      ? `${reads('0', 'i', (k) => kinds[k] === 'zero')}
        let total0 = ${initial}, total1 = ${initial}, total2 = ${initial}, total3 = ${initial};
        let i = 0;
        for (; i + 3 < inner; i += 4) {
          ${lanes.map((lane) => `{ ${reads('0', `i + ${lane}`, (k) => kinds[k] !== 'zero')} ${statements} total${lane} = ${combine(kind, `total${lane}`, value)}; }`).join('\n')}
        }
        for (; i < inner; i++) ${addToTotal0}
        accumulator[outputOffset] = ${combine(kind, 'accumulator[outputOffset]', combine(kind, combine(kind, 'total0', 'total1'), combine(kind, 'total2', 'total3')))};`
      : `let r = 0;
        for (; r + 3 < rows; r += 4) {
          for (let i = 0; i < inner; i++) {
            let value0, value1, value2, value3;
            ${lanes.map((lane) => `{ ${reads(`r + ${lane}`, 'i', () => true)} ${statements} value${lane} = ${value}; }`).join('\n')}
            accumulator[outputOffset + i] = ${combine(kind, combine(kind, combine(kind, combine(kind, 'accumulator[outputOffset + i]', 'value0'), 'value1'), 'value2'), 'value3')};
          }
        }
        for (; r < rows; r++) {
          for (let i = 0; i < inner; i++) { ${reads('r', 'i', () => true)} ${statements} accumulator[outputOffset + i] = ${combine(kind, 'accumulator[outputOffset + i]', value)}; }
        }`;
    const advance = operands.map((k) => `offset${k} += outerStrides${k}[axis];`).join(' ');
    const rewind = operands.map((k) => `offset${k} -= outerStrides${k}[axis] * outerShape[axis];`).join(' ');
    const body = `
      const counter = new Array(outerShape.length).fill(0);
      let outputOffset = 0;
      ${innerWalk === 'carried' ? `let runRow = 0; let total0 = ${initial}, total1 = ${initial}, total2 = ${initial}, total3 = ${initial};
      const runRegular = inner * runRows - ((inner * runRows) % 4);` : ''}
      for (let start = 0; start < size; start += inner * rows) {
        ${block}
        for (let axis = outerShape.length - 1; axis >= 0; axis--) {
          counter[axis]++; ${advance} outputOffset += outerOutputStrides[axis];
          if (counter[axis] < outerShape[axis]) break;
          ${rewind} outputOffset -= outerOutputStrides[axis] * outerShape[axis]; counter[axis] = 0;
        }
      }`;
    kernel = new Function('accumulator', 'size', 'inner', 'rows', 'runRows', 'outerShape', 'outerOutputStrides', ...parameters, body) as ReductionKernel;
    compiledKernels.set(key, kernel);
  }
  return kernel;
}

interface MergedAxes {
  shape: number[];
  reduced: boolean[];
  /** Per operand, its stride along each merged axis. */
  strides: number[][];
}

/**
 * Merges runs of neighbouring axes that are all reduced or all kept and over which every operand
 * is laid out contiguously (dropping extent-1 axes), so that e.g. summing (N, H, W) of NCHW
 * walks N | C | H·W.
 */
function mergeAxes(shape: readonly number[], reducedAxes: ReadonlySet<number>, strides: readonly (readonly number[])[]): MergedAxes {
  const merged: MergedAxes = { shape: [], reduced: [], strides: strides.map(() => []) };
  for (let axis = 0; axis < shape.length; axis++) {
    const extent = shape[axis]!;
    if (extent === 1) continue;
    const reduced = reducedAxes.has(axis);
    const last = merged.shape.length - 1;
    const mergeable = last >= 0 && merged.reduced[last] === reduced && strides.every((stride, k) => merged.strides[k]![last] === stride[axis]! * extent);
    if (mergeable) {
      merged.shape[last]! *= extent;
      strides.forEach((stride, k) => (merged.strides[k]![last] = stride[axis]!));
    } else {
      merged.shape.push(extent);
      merged.reduced.push(reduced);
      strides.forEach((stride, k) => merged.strides[k]!.push(stride[axis]!));
    }
  }
  return merged;
}

/** The extent of the innermost merged axis if it is reduced, else 0. */
function innermostReducedRun(merged: MergedAxes): number {
  const last = merged.shape.length - 1;
  return last >= 0 && merged.reduced[last]! ? merged.shape[last]! : 0;
}

/**
 * Sums or maximizes `expression` (a tree over the elements of same-shaped operands with any
 * strides, computed in `dtype`) over the given axes; the result, in `resultDtype` (default
 * `dtype`; float64 keeps a sum's float64 totals unrounded), has the kept axes only (no keepdims).
 */
export function reduceExpression(
  expression: Expr,
  operands: readonly FloatNdArray[],
  axes: readonly number[],
  kind: ReductionKind,
  dtype: DType,
  resultDtype: DType = dtype,
): FloatNdArray {
  const plan = planReduction(operands, axes, kind);
  // a float64 result is the accumulator itself, so it comes from `allocate` as every result does
  const accumulator = resultDtype === 'float64' ? allocate('float64', sizeOf(plan.outShape)) as Float64Array : new Float64Array(sizeOf(plan.outShape));
  if (kind === 'max') accumulator.fill(-Infinity);
  if (plan.size > 0) {
    if (plan.wasmWalk !== null && tryWasmElementwise(plan.size)) {
      if (runWasmElementwise(expression, operands, dtype, plan.wasmMode, plan.wasmWalk, accumulator)) return finish(accumulator, plan.outShape, resultDtype);
    }
    const { kernel, kernelArguments } = jsReduction(expression, operands, kind, dtype, plan, accumulator);
    Reflect.apply(kernel, undefined, kernelArguments);
  }
  return finish(accumulator, plan.outShape, resultDtype);
}

/** How a reduction walks its operands: resolved from their shape and strides alone. */
interface ReductionPlan {
  outShape: number[];
  size: number;
  merged: MergedAxes;
  /** Output strides of the merged axes: contiguous over the kept ones, 0 over the reduced ones. */
  outputStrides: number[];
  inner: number;
  innerReduced: boolean;
  runRows: number;
  /** The WebAssembly kernels' walk (sums with at least one merged axis, maxima whose inner axis is kept), else null. */
  wasmWalk: Walk | null;
  wasmMode: 'sum' | 'sumInto' | 'maxInto';
}

function planReduction(operands: readonly FloatNdArray[], axes: readonly number[], kind: ReductionKind): ReductionPlan {
  const shape = operands[0]!.shape;
  const reducedAxes = new Set(axes);
  const outShape = shape.filter((_, axis) => !reducedAxes.has(axis));
  const size = sizeOf(shape);
  const merged = mergeAxes(shape, reducedAxes, operands.map((operand) => operand.stride));
  const rank = merged.shape.length;
  const outputStrides = new Array<number>(rank).fill(0);
  for (let axis = rank - 1, stride = 1; axis >= 0; axis--) {
    if (merged.reduced[axis]) continue;
    outputStrides[axis] = stride;
    stride *= merged.shape[axis]!;
  }
  const inner = rank === 0 ? 1 : merged.shape[rank - 1]!;
  const innerReduced = rank > 0 && merged.reduced[rank - 1]!;
  // The order of a sum is the one its row-major layout gives: the four running totals walk the
  // run of reduced axes merged innermost in that layout. Where an operand's strides split that
  // run (a broadcast row, a transposed view), each run is `runRows` rows of `inner`, and the
  // kernels carry the totals across them, so fusion and views never change a sum's bits.
  const runRows = kind === 'sum' && innerReduced && size > 0 ? innermostReducedRun(mergeAxes(shape, reducedAxes, [rowMajorStrides(shape)])) / inner : 1;
  // a maximum's order does not change its value (Math.max and WebAssembly's max are both IEEE
  // maximum), so only its layout limits it: rows combined elementwise into a kept inner axis
  const wasmWalk = rank > 0 && (kind === 'sum' || !innerReduced)
    ? {
        inner, outerShape: merged.shape.slice(0, rank - 1), innerStrides: merged.strides.map((strides) => strides[rank - 1]!),
        outerStrides: merged.strides.map((strides) => strides.slice(0, rank - 1)), outerTargetStrides: outputStrides.slice(0, rank - 1), runRows,
      }
    : null;
  return { outShape, size, merged, outputStrides, inner, innerReduced, runRows, wasmWalk, wasmMode: kind === 'max' ? 'maxInto' : innerReduced ? 'sum' : 'sumInto' };
}

/** The JavaScript kernel of a planned reduction and its arguments (the operands' arrays at 7 + 5k, the accumulator at 0). */
function jsReduction(
  expression: Expr, operands: readonly FloatNdArray[], kind: ReductionKind, dtype: DType, plan: ReductionPlan, accumulator: Float64Array,
): { kernel: ReductionKernel; kernelArguments: unknown[] } {
  const { merged, inner, innerReduced, runRows, outputStrides, size } = plan;
  const rank = merged.shape.length;
  // a kept inner axis takes the reduced axis just outside it as the block's rows
  const blocked = !innerReduced && rank >= 2 && merged.reduced[rank - 2]!;
  const rows = blocked ? merged.shape[rank - 2]! : 1;
  const outer = Math.max(0, rank - (blocked ? 2 : 1));
  const innerStrides = merged.strides.map((strides) => (rank === 0 ? 0 : strides[rank - 1]!));
  const operandArguments = operands.flatMap((operand, k) => [
    operand.data, operand.offset, innerStrides[k]!, blocked ? merged.strides[k]![rank - 2]! : 0, merged.strides[k]!.slice(0, outer),
  ]);
  const innerWalk: InnerWalk = !innerReduced ? 'kept' : runRows > 1 ? 'carried' : 'reduced';
  const kernel = reductionKernel(expression, dtype, kind, innerWalk, innerStrides.map(strideKind));
  return { kernel, kernelArguments: [accumulator, size, inner, rows, runRows, merged.shape.slice(0, outer), outputStrides.slice(0, outer), ...operandArguments] };
}

/**
 * `reduceExpression(expression, operands, axes, kind, dtype, out's dtype)` computed into `out`,
 * with the kernel, the walk and (WebAssembly) the staging resolved once: the returned function
 * reads the operands' and out's `.data` on every call (compile moves a value by pointing its views
 * at another array) and gives the same bits as reduceExpression. Null when `out` is not one whole
 * contiguous array of the result's shape (the caller then runs reduceExpression).
 */
export function prepareReduceExpression(
  expression: Expr, operands: readonly FloatNdArray[], axes: readonly number[], kind: ReductionKind, dtype: DType, out: FloatNdArray,
): (() => void) | null {
  const plan = planReduction(operands, axes, kind);
  const outSize = sizeOf(plan.outShape);
  const wholeArray = out.offset === 0 && out.data.length === outSize && out.shape.length === plan.outShape.length &&
    out.shape.every((extent, axis) => extent === plan.outShape[axis]) && isContiguous(out);
  if (!wholeArray) return null;
  const initial = kind === 'max' ? -Infinity : 0;
  const accumulator = new Float64Array(outSize);
  const write = (): void => {
    out.data.set(accumulator);
  };
  if (plan.size === 0) {
    return () => {
      accumulator.fill(initial);
      write();
    };
  }
  const runWasm = plan.wasmWalk !== null && tryWasmElementwise(plan.size)
    ? prepareWasmSum(expression, operands, dtype, plan.wasmMode, plan.wasmWalk, accumulator)
    : null;
  if (runWasm !== null) {
    const step = (): void => {
      accumulator.fill(initial);
      runWasm();
      write();
    };
    wasmReductions.set(step, { sum: { expression, operands, mode: plan.wasmMode, walk: plan.wasmWalk!, sums: accumulator }, dtype, initial, write });
    return step;
  }
  const { kernel, kernelArguments } = jsReduction(expression, operands, kind, dtype, plan, accumulator);
  return () => {
    accumulator.fill(initial);
    for (let k = 0; k < operands.length; k++) kernelArguments[7 + 5 * k] = operands[k]!.data;
    Reflect.apply(kernel, undefined, kernelArguments);
    write();
  };
}

/** What a prepared reduction that runs in WebAssembly does, for combinePreparedReductions. */
interface PreparedWasmReduction {
  sum: WasmSum;
  dtype: DType;
  initial: number;
  write: () => void;
}

/** The prepared reductions (prepareReduceExpression's steps) that run in WebAssembly. */
const wasmReductions = new WeakMap<() => void, PreparedWasmReduction>();

/**
 * What rows a prepared reduction step sums in WebAssembly (dtype, row length and outer extents),
 * or null for any other step: steps with the same key can run as one (combinePreparedReductions).
 */
export function preparedReductionRows(step: () => void): string | null {
  const reduction = wasmReductions.get(step);
  return reduction === undefined ? null : `${reduction.dtype}:${reduction.sum.walk.inner}:${reduction.sum.walk.outerShape.join(',')}`;
}

/**
 * One step that runs the given prepared reductions (steps with the same preparedReductionRows key,
 * none reading another's result) with one staging plan (wasm-elementwise.ts's prepareWasmSums), so
 * an array that several of them read is copied into WebAssembly memory once; each result is the
 * one its own step computes. Null where they cannot share one.
 */
export function combinePreparedReductions(steps: readonly (() => void)[]): (() => void) | null {
  const reductions = steps.map((step) => wasmReductions.get(step));
  if (reductions.length < 2 || reductions.some((reduction) => reduction === undefined || reduction.dtype !== reductions[0]!.dtype)) return null;
  const known = reductions as PreparedWasmReduction[];
  const runAll = prepareWasmSums(known[0]!.dtype, known.map((reduction) => reduction.sum));
  if (runAll === null) return null;
  return () => {
    for (const reduction of known) reduction.sum.sums.fill(reduction.initial);
    runAll();
    for (const reduction of known) reduction.write();
  };
}

/** The float64 totals as a result of `dtype`. */
function finish(accumulator: Float64Array, outShape: readonly number[], dtype: DType): FloatNdArray {
  const out = dtype === 'float64' ? accumulator : allocate(dtype, accumulator.length);
  if (out !== accumulator) out.set(accumulator);
  return createNd(dtype, outShape, out);
}

/** Sums or maximizes x over the given axes; the result (in resultDtype, default x's) has the kept axes only (no keepdims). */
export function reduceAxes(x: FloatNdArray, axes: readonly number[], kind: ReductionKind, dtype: DType = dtypeOfNd(x), resultDtype: DType = dtype): FloatNdArray {
  return reduceExpression(E.input(0), [x], axes, kind, dtype, resultDtype);
}
