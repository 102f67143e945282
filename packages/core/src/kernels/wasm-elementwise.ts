import type { DataArray, DType, FloatDType } from '../dtype.js';
import { registerSettingCheck, settings, updateSettings } from '../settings.js';
import type { FloatNdArray } from './layout.js';
import { comparisonOperators, hasWasm, operators, printSchedule, structuralKey, type Expr } from './expr.js';
import {
  F32, F64, I32, V128, block, branch, branchIf, end, f64Add, f64PromoteF32, get, i32Add, i32Const, i32GreaterOrEqualUnsigned, i32Mul,
  loop, moduleBytes, set, simd, tee, webAssemblyApi, type WasmMemory,
} from './wasm-assembly.js';

/**
 * WebAssembly SIMD versions of the compiled elementwise loops, sums, and maxima over a kept inner
 * axis, printed from the same expression trees as the JavaScript loops (expr.ts) for trees whose
 * operators all have WebAssembly instructions (arithmetic, square root, absolute value,
 * comparisons and selection), assembled at run time per tree. The operands' elements are copied into WebAssembly memory in
 * cache-sized chunks of rows (one native copy per operand and chunk), the loop runs four float32
 * or two float64 lanes at a time, and each chunk's result is copied out. Results are bit-identical
 * to the JavaScript loops': float32 lanes round after every operation as the JavaScript printer's
 * `Math.fround` does, float64 lanes are IEEE either way, sums accumulate in float64 in the
 * JavaScript loops' order (reduce.ts), and maxima are IEEE maximum as Math.max is.
 */

interface Lanes {
  dtype: FloatDType;
  bytes: number;
  /** Elements per 16-byte vector. */
  width: number;
  scalarType: number;
  load: number[];
  store: number[];
  constant(value: number): number[];
  splat: number[];
}

const float32Lanes: Lanes = {
  dtype: 'float32', bytes: 4, width: 4, scalarType: F32, load: [0x2a, 2, 0], store: [0x38, 2, 0],
  constant: (value) => [0x43, ...new Uint8Array(Float32Array.of(value).buffer)],
  splat: simd(0x13),
};
const float64Lanes: Lanes = {
  dtype: 'float64', bytes: 8, width: 2, scalarType: F64, load: [0x2b, 3, 0], store: [0x39, 3, 0],
  constant: (value) => [0x44, ...new Uint8Array(Float64Array.of(value).buffer)],
  splat: simd(0x14),
};

/** v128.load with a constant byte offset (its memory argument). */
const vectorLoadAt = (offset: number) => simd(0x00, 0, offset);
const vectorLoad = vectorLoadAt(0);
const vectorStoreAt = (offset: number) => simd(0x0b, 0, offset);
const vectorStore = vectorStoreAt(0);
const f64x2Add = simd(0xf0);
const f64x2Max = simd(0xf5); // IEEE maximum, as Math.max: NaN if either is NaN, +0 above -0
const f64Max = [0xa5];
const promoteLow = simd(0x5f); // f64x2.promote_low_f32x4
const highHalf = simd(0x0d, 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15); // lanes 2, 3 of f32x4 to 0, 1
const extractLane = (lane: number) => simd(0x21, lane); // f64x2.extract_lane
const replaceLane = (lane: number) => simd(0x22, lane); // f64x2.replace_lane
const i32And = [0x71];
/** Lanes 1 of the first vector and 0 of the second, of two f64x2: (t0, t1), (t2, t3) to (t1, t2). */
const laneOneAndZero = simd(0x0d, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23);
const bitSelect = simd(0x52); // (a, b, mask): a where mask bits are set, else b
const scalarSelect = [0x1b]; // (a, b, condition): condition ? a : b

/**
 * What a kernel does with the expression's value over one row of `count` elements:
 * - 'map': stores it at `out` (params: out, count, operand addresses…);
 * - 'sum': adds it to four float64 running totals at `lanes` (params: lanes, count, regular,
 *   operand addresses…): of the first `regular` elements, element i to total i mod 4, and the
 *   other elements (the tail) to total 0, so that a row staged in several chunks sums as in one
 *   go. Where `regular` is not a multiple of 4, each of its last `regular` mod 4 elements goes to
 *   total 0 and then the totals turn by one (total m takes total m + 1's value, total 3 total 0's),
 *   so that several rows carrying the totals sum as one row-major run (reduce.ts);
 * - 'sumInto': adds it to the float64 row at `accumulator` (params: accumulator, count, operand addresses…);
 * - 'maxInto': as 'sumInto', keeping the maximum of each accumulator element and the value instead of the sum.
 */
type Mode = 'map' | 'sum' | 'sumInto' | 'maxInto';

/** The modes that combine each row elementwise into a float64 accumulator row. */
const intoRow = (mode: Mode): mode is 'sumInto' | 'maxInto' => mode === 'sumInto' || mode === 'maxInto';

/** An operand read at consecutive elements ('unit') or one value for the whole row ('zero'). */
type Stride = 'unit' | 'zero';

/**
 * Instructions computing a tree's value (a v128 of lanes, or one scalar), printed from the
 * operator table; operator nodes used more than once are kept in locals and computed once per
 * evaluation. `operand(k, vectorized)` gives the instructions that push operand k.
 */
function treeEmitter(tree: Expr, lanes: Lanes, firstSharedLocal: number, operand: (k: number, vectorized: boolean) => number[]) {
  const { nodes, uses, canonical } = printSchedule(tree);
  const shared = nodes.filter((node) => (uses.get(node) ?? 0) > 1);
  const sharedIndex = new Map<Expr, number>(shared.map((node, k) => [node, k]));
  const localOf = (node: Expr, vectorized: boolean) => firstSharedLocal + sharedIndex.get(node)! + (vectorized ? 0 : shared.length);
  /** One evaluation of the tree: a fresh set of computed shared nodes. */
  const emit = (vectorized: boolean): number[] => {
    const computed = new Set<Expr>();
    const constant = (value: number): number[] => (vectorized ? [...lanes.constant(value), ...lanes.splat] : lanes.constant(value));
    const instructions = (name: keyof typeof operators): number[] => {
      const wasm = operators[name].wasm![lanes.dtype];
      return vectorized ? wasm.vector : wasm.scalar;
    };
    const choose = vectorized ? bitSelect : scalarSelect;
    /** A condition: a lane mask (vectors) or an i32 (scalars); any value other than 0 counts as true. */
    const condition = (node: Expr): number[] => {
      if (node.kind === 'apply' && comparisonOperators.includes(node.operator)) {
        return [...value(node.args[0]!), ...value(node.args[1]!), ...instructions(node.operator)];
      }
      return [...value(node), ...constant(0), ...instructions('ne')];
    };
    const value = (printed: Expr): number[] => {
      if (printed.kind === 'input') return operand(printed.index, vectorized);
      if (printed.kind === 'constant') return constant(printed.value);
      const node = canonical(printed) as Extract<Expr, { kind: 'apply' }>;
      if (sharedIndex.has(node) && computed.has(node)) return get(localOf(node, vectorized));
      let code: number[];
      if (node.operator === 'select') {
        code = [...value(node.args[1]!), ...value(node.args[2]!), ...condition(node.args[0]!), ...choose];
      } else if (comparisonOperators.includes(node.operator)) {
        // a comparison used as a number: 1 or 0
        code = [...constant(1), ...constant(0), ...condition(node), ...choose];
      } else {
        code = [...node.args.flatMap(value), ...instructions(node.operator)];
      }
      if (!sharedIndex.has(node)) return code;
      computed.add(node);
      return [...code, ...tee(localOf(node, vectorized))];
    };
    return value(tree);
  };
  return { emit, sharedLocals: shared.length };
}

/**
 * The row kernel's parameters, locals and body. A sum kernel may take several rows of the same
 * length at once (`rowSets`), interleaved step by step: for 'sum', each row with its own running
 * totals, so that its sum is the same as alone and the independent additions overlap; for
 * 'sumInto', rows added one after the other into the same output row, which is loaded and stored
 * once for all of them ('maxInto' likewise, with maxima). Parameters: out | accumulator | lanes, count, (regular), operand
 * addresses…, then for each further row its lanes (unused by 'sumInto') and operand addresses.
 */
function kernelBody(tree: Expr, lanes: Lanes, mode: Mode, strides: readonly Stride[], rowSets = 1): { parameters: number[]; locals: [number, number][]; body: number[] } {
  const operandCount = strides.length;
  const leading = mode === 'sum' ? 3 : 2;
  const count = 1;
  const regular = 2;
  const parameterCount = leading + operandCount + (rowSets - 1) * (1 + operandCount);
  let next = parameterCount;
  const offset = next++; // byte offset into the operands' rows
  const targetOffset = next++; // byte offset into the output row (float64 rows for the sums)
  const vectorEnd = next++;
  const regularEnd = next++;
  const rowEnd = next++;
  const address = next++;
  const i32Locals = next - parameterCount;
  const locals: [number, number][] = [[i32Locals, I32]];
  /** Per row of a call: its parameters, value locals, running totals and tree emitter. */
  const sets = Array.from({ length: rowSets }, (_, index) => {
    const target = index === 0 ? 0 : leading + operandCount + (index - 1) * (1 + operandCount);
    const firstOperand = index === 0 ? leading : target + 1;
    const base = next;
    const vectorValue = (k: number) => base + k;
    const scalarValue = (k: number) => base + operandCount + k;
    const value = base + 2 * operandCount; // v128
    const accumulators = [value + 1, value + 2]; // v128: running totals 0, 1 and 2, 3 of a row sum
    const total = value + 3; // f64
    const { emit, sharedLocals } = treeEmitter(tree, lanes, total + 1, (k, vectorized) => get(vectorized ? vectorValue(k) : scalarValue(k)));
    locals.push([operandCount, V128], [operandCount, lanes.scalarType], [3, V128], [1, F64], [sharedLocals, V128], [sharedLocals, lanes.scalarType]);
    next = total + 1 + 2 * sharedLocals;
    return { target, operandAddress: (k: number) => firstOperand + k, vectorValue, scalarValue, value, accumulators, total, emit };
  });
  type RowSet = (typeof sets)[number];
  /** The code for each row of the call, one after the other. */
  const forEachRow = (code: (row: RowSet) => number[]): number[] => sets.flatMap(code);

  /** Loads of the 'unit' operands at the current offset (plus a constant byte displacement for vectors). */
  const readOperands = (row: RowSet, vectorized: boolean, displacement = 0): number[] =>
    strides.flatMap((stride, k) =>
      stride === 'unit'
        ? [...get(row.operandAddress(k)), ...get(offset), ...i32Add, ...(vectorized ? vectorLoadAt(displacement) : lanes.load), ...set(vectorized ? row.vectorValue(k) : row.scalarValue(k))]
        : [],
    );
  const targetAddress = (row: RowSet) => [...get(row.target), ...get(targetOffset), ...i32Add, ...tee(address)];
  const toFloat64 = lanes === float32Lanes ? f64PromoteF32 : [];
  // A float64 row sum takes four elements (two vectors) per step, so that element i goes to total i mod 4 as in reduce.ts.
  const vectorsPerStep = mode === 'sum' && lanes === float64Lanes ? 2 : 1;
  const elementsPerStep = lanes.width * vectorsPerStep;
  const targetStepBytes = mode === 'map' || lanes === float64Lanes ? 16 : 32;

  // one step of the vector loop and one element of the tail, for all the rows
  let vectorWork: number[];
  let scalarWork: number[];
  if (mode === 'map') {
    vectorWork = forEachRow((row) => [...readOperands(row, true), ...get(row.target), ...get(targetOffset), ...i32Add, ...row.emit(true), ...vectorStore]);
    scalarWork = forEachRow((row) => [...readOperands(row, false), ...get(row.target), ...get(targetOffset), ...i32Add, ...row.emit(false), ...lanes.store]);
  } else if (mode === 'sum') {
    vectorWork = forEachRow((row) => {
      const [first, second] = row.accumulators as [number, number];
      return lanes === float32Lanes
        ? [...readOperands(row, true), ...row.emit(true), ...set(row.value),
           ...get(first), ...get(row.value), ...promoteLow, ...f64x2Add, ...set(first),
           ...get(second), ...get(row.value), ...get(row.value), ...highHalf, ...promoteLow, ...f64x2Add, ...set(second)]
        : [...readOperands(row, true), ...get(first), ...row.emit(true), ...f64x2Add, ...set(first),
           ...readOperands(row, true, 16), ...get(second), ...row.emit(true), ...f64x2Add, ...set(second)];
    });
    scalarWork = forEachRow((row) => [...readOperands(row, false), ...get(row.total), ...row.emit(false), ...toFloat64, ...f64Add, ...set(row.total)]);
  } else {
    // accumulator row += value of each row in turn ('maxInto': the maximum of the two), as float64
    // pairs: one pair per float64 vector, two per float32 vector; the accumulator is loaded once and
    // stored once for all the rows
    const [vectorCombine, scalarCombine] = mode === 'maxInto' ? [f64x2Max, f64Max] : [f64x2Add, f64Add];
    const addPairs = (pair: (row: RowSet) => number[], byteOffset: number): number[] => [
      ...targetAddress(sets[0]!), ...(byteOffset > 0 ? [...i32Const(byteOffset), ...i32Add, ...tee(address)] : []),
      ...get(address), ...vectorLoad, ...forEachRow((row) => [...pair(row), ...vectorCombine]), ...vectorStore,
    ];
    const values = forEachRow((row) => [...readOperands(row, true), ...row.emit(true), ...set(row.value)]);
    vectorWork = lanes === float32Lanes
      ? [...values, ...addPairs((row) => [...get(row.value), ...promoteLow], 0), ...addPairs((row) => [...get(row.value), ...get(row.value), ...highHalf, ...promoteLow], 16)]
      : [...values, ...addPairs((row) => get(row.value), 0)];
    scalarWork = [
      ...forEachRow((row) => readOperands(row, false)),
      ...targetAddress(sets[0]!), ...get(address), ...float64Lanes.load, ...forEachRow((row) => [...row.emit(false), ...toFloat64, ...scalarCombine]), ...float64Lanes.store,
    ];
  }
  const targetStep = (bytes: number) => (mode === 'sum' ? [] : [...get(targetOffset), ...i32Const(bytes), ...i32Add, ...set(targetOffset)]);
  // a sum's regular elements past the last whole step: each to total 0, then the totals turn by one
  const turningElements = mode === 'sum'
    ? [
        ...block, ...loop,
        ...get(offset), ...get(regularEnd), ...i32GreaterOrEqualUnsigned, ...branchIf(1),
        ...forEachRow((row) => {
          const [first, second] = row.accumulators as [number, number];
          return [
            ...readOperands(row, false),
            ...get(first), ...get(first), ...extractLane(0), ...row.emit(false), ...toFloat64, ...f64Add, ...replaceLane(0), ...set(first),
            ...get(first), ...get(second), ...laneOneAndZero, ...get(second), ...get(first), ...laneOneAndZero, ...set(second), ...set(first),
          ];
        }),
        ...get(offset), ...i32Const(lanes.bytes), ...i32Add, ...set(offset),
        ...branch(0), ...end, ...end,
      ]
    : [];
  const body = [
    // the running totals so far
    ...(mode === 'sum'
      ? forEachRow((row) => [...get(row.target), ...vectorLoad, ...set(row.accumulators[0]!), ...get(row.target), ...vectorLoadAt(16), ...set(row.accumulators[1]!)])
      : []),
    // one value per row for the 'zero' operands
    ...forEachRow((row) => strides.flatMap((stride, k) =>
      stride === 'zero' ? [...get(row.operandAddress(k)), ...lanes.load, ...tee(row.scalarValue(k)), ...lanes.splat, ...set(row.vectorValue(k))] : [],
    )),
    ...get(mode === 'sum' ? regular : count), ...i32Const(-elementsPerStep), ...i32And, ...i32Const(lanes.bytes), ...i32Mul, ...set(vectorEnd),
    ...(mode === 'sum' ? [...get(regular), ...i32Const(lanes.bytes), ...i32Mul, ...set(regularEnd)] : []),
    ...get(count), ...i32Const(lanes.bytes), ...i32Mul, ...set(rowEnd),
    ...block, ...loop,
    ...get(offset), ...get(vectorEnd), ...i32GreaterOrEqualUnsigned, ...branchIf(1),
    ...vectorWork,
    ...get(offset), ...i32Const(16 * vectorsPerStep), ...i32Add, ...set(offset), ...targetStep(targetStepBytes),
    ...branch(0), ...end, ...end,
    ...turningElements,
    // the tail goes to running total 0
    ...(mode === 'sum' ? forEachRow((row) => [...get(row.accumulators[0]!), ...extractLane(0), ...set(row.total)]) : []),
    ...block, ...loop,
    ...get(offset), ...get(rowEnd), ...i32GreaterOrEqualUnsigned, ...branchIf(1),
    ...scalarWork,
    ...get(offset), ...i32Const(lanes.bytes), ...i32Add, ...set(offset), ...targetStep(mode === 'map' ? lanes.bytes : 8),
    ...branch(0), ...end, ...end,
    // store the running totals, the tail's in total 0
    ...(mode === 'sum'
      ? forEachRow((row) => [
          ...get(row.target), ...get(row.accumulators[0]!), ...get(row.total), ...replaceLane(0), ...vectorStore,
          ...get(row.target), ...get(row.accumulators[1]!), ...vectorStoreAt(16),
        ])
      : []),
  ];
  return { parameters: new Array<number>(parameterCount).fill(I32), locals, body };
}

/** A row kernel and the loop that calls it once per row of the outer axes. */
/**
 * The 'rows' function of a kernel module: the row kernel (function 0) over rows on up to two outer
 * axes, so that short rows cost no call from JavaScript each. Parameters (addresses and strides in
 * bytes): inner, regular (the row sum's regular elements, 'sum' only), n0, n1 (extents of the two
 * axes), target, targetStride0, targetStride1, lanes (the running totals, 'sum' only), then per
 * operand its address and strides along the two axes. 'map', 'sumInto' and 'maxInto' pass the
 * target to the row kernel; 'sum' starts each row's totals from 0 and adds (t0 + t1) + (t2 + t3)
 * to the float64 sum at the target, as the JavaScript walk does, rows in row-major order.
 */
function rowsDriverBody(mode: Mode, operandCount: number): { parameters: number[]; locals: [number, number][]; body: number[] } {
  const [inner, regular, n0, n1, target, targetStride0, targetStride1, lanesAddress] = [0, 1, 2, 3, 4, 5, 6, 7];
  const operand = (k: number) => ({ address: 8 + 3 * k, stride0: 9 + 3 * k, stride1: 10 + 3 * k });
  const parameterCount = 8 + 3 * operandCount;
  const [i, j, rowTarget] = [parameterCount, parameterCount + 1, parameterCount + 2];
  const rowAddress = (k: number) => parameterCount + 3 + k;
  const operands = Array.from({ length: operandCount }, (_, k) => k);
  const f64Const0 = [0x44, 0, 0, 0, 0, 0, 0, 0, 0];
  const f64LoadAt = (offset: number) => [0x2b, 3, offset];
  const f64StoreAt = (offset: number) => [0x39, 3, offset];
  const advance = (local: number, by: number) => [...get(local), ...get(by), ...i32Add, ...set(local)];
  const rowCall = mode === 'sum'
    ? [
        ...[0, 8, 16, 24].flatMap((offset) => [...get(lanesAddress), ...f64Const0, ...f64StoreAt(offset)]),
        ...get(lanesAddress), ...get(inner), ...get(regular), ...operands.flatMap((k) => get(rowAddress(k))), 0x10, 0,
        ...get(rowTarget), ...get(rowTarget), ...f64LoadAt(0),
        ...get(lanesAddress), ...f64LoadAt(0), ...get(lanesAddress), ...f64LoadAt(8), ...f64Add,
        ...get(lanesAddress), ...f64LoadAt(16), ...get(lanesAddress), ...f64LoadAt(24), ...f64Add, ...f64Add,
        ...f64Add, ...f64StoreAt(0),
      ]
    : [...get(rowTarget), ...get(inner), ...operands.flatMap((k) => get(rowAddress(k))), 0x10, 0];
  const body = [
    ...i32Const(0), ...set(i),
    ...block, ...loop,
    ...get(i), ...get(n0), ...i32GreaterOrEqualUnsigned, ...branchIf(1),
    ...i32Const(0), ...set(j), ...get(target), ...set(rowTarget), ...operands.flatMap((k) => [...get(operand(k).address), ...set(rowAddress(k))]),
    ...block, ...loop,
    ...get(j), ...get(n1), ...i32GreaterOrEqualUnsigned, ...branchIf(1),
    ...rowCall,
    ...advance(rowTarget, targetStride1), ...operands.flatMap((k) => advance(rowAddress(k), operand(k).stride1)),
    ...get(j), ...i32Const(1), ...i32Add, ...set(j),
    ...branch(0), ...end, ...end,
    ...advance(target, targetStride0), ...operands.flatMap((k) => advance(operand(k).address, operand(k).stride0)),
    ...get(i), ...i32Const(1), ...i32Add, ...set(i),
    ...branch(0), ...end, ...end,
  ];
  return { parameters: new Array<number>(parameterCount).fill(I32), locals: [[3 + operandCount, I32]], body };
}

interface Kernel {
  row: (...args: number[]) => void;
  /**
   * The row kernel over several rows at once: 'sum', two rows that are runs of their own, each
   * with its own running totals; 'sumInto' and 'maxInto', four consecutive rows into the same output row.
   */
  group: ((...args: number[]) => void) | null;
  /** The row kernel over rows on up to two outer axes (rowsDriverBody). */
  rows: (...args: number[]) => void;
  /**
   * (row, group, rows, inner, outerShape, outerTargetStrides, target, address0, strides0, …): calls row for
   * each row (or group for several); `target` is the output address ('map', 'sumInto', 'maxInto') or, for 'sum', the Float64Array of
   * sums with the running totals' view and address, whether this call starts and ends the rows, and
   * how rows make runs (`runRows` rows carry the totals; `firstRow` is the first row's index;
   * `paired`: every row is a run of its own);
   * addresses and strides are in bytes, target strides in elements.
   */
  walk: (...args: unknown[]) => void;
}

/** Rows per call of a group kernel. */
const groupRows = { sum: 2, sumInto: 4, maxInto: 4 } as const;

/**
 * Whether a kernel has a group form: every 'sumInto' and 'maxInto'; a 'sum' of a small tree (at most three
 * operands and three operators), whose rows wait on their additions; two rows of a larger tree
 * need more locals than there are registers.
 */
const grouped = (tree: Expr, mode: Mode, strides: readonly Stride[]): boolean =>
  intoRow(mode) || (mode === 'sum' && strides.length <= 3 && printSchedule(tree).nodes.length <= 3);

const kernels = new Map<string, Kernel | null>();
let memory: WasmMemory | null = null;

/** Whether this Node runs WebAssembly SIMD (checked once, by compiling a small kernel). */
let available: boolean | undefined;

function compile(tree: Expr, dtype: DType, mode: Mode, strides: readonly Stride[]): Kernel | null {
  const lanes = dtype === 'float64' ? float64Lanes : float32Lanes;
  const api = webAssemblyApi();
  let row: Kernel['row'];
  let group: Kernel['group'];
  let rows: Kernel['rows'];
  try {
    if (api === undefined) return null;
    memory ??= new api.Memory({ initial: 1 });
    const functions = [{ name: 'row', ...kernelBody(tree, lanes, mode, strides) }];
    if (grouped(tree, mode, strides)) functions.push({ name: 'group', ...kernelBody(tree, lanes, mode, strides, groupRows[mode as keyof typeof groupRows]) });
    functions.push({ name: 'rows', ...rowsDriverBody(mode, strides.length) });
    const bytes = moduleBytes(functions);
    if (!api.validate(bytes)) return null;
    const { exports } = new api.Instance(new api.Module(bytes), { env: { memory } });
    row = exports.row as Kernel['row'];
    group = grouped(tree, mode, strides) ? (exports.group as Kernel['group']) : null;
    rows = exports.rows as Kernel['rows'];
  } catch {
    return null;
  }
  const operands = strides.map((_, k) => k);
  const bytesPerTarget = mode === 'map' ? lanes.bytes : 8;
  const addresses = operands.map((k) => `address${k}`).join(', ');
  /** The step to the next row: the odometer over the outer axes. */
  const advance = `for (let axis = outerShape.length - 1; axis >= 0; axis--) {
        counter[axis]++; targetOffset += outerTargetStrides[axis]; ${operands.map((k) => `address${k} += strides${k}[axis];`).join(' ')}
        if (counter[axis] < outerShape[axis]) break;
        targetOffset -= outerTargetStrides[axis] * outerShape[axis]; ${operands.map((k) => `address${k} -= strides${k}[axis] * outerShape[axis];`).join(' ')}
        counter[axis] = 0;
      }`;
  // 'sum': rows that are runs of their own go two at a time (each with its own totals, lanes 0–3
  // and 4–7), their sums added to the output in row order. 'sumInto' and 'maxInto': four consecutive
  // rows of the innermost outer axis, when they go into the same output row, go in one call, in order.
  const pairedCall = mode === 'sum'
    ? `if (target.paired && group !== null && r + 1 < rows) {
         const firstTarget = targetOffset; ${operands.map((k) => `const first${k} = address${k};`).join(' ')}
         ${advance}
         for (let lane = 0; lane < 8; lane++) lanes[lane] = 0;
         group(target.lanesAddress, inner, inner & ~3, ${operands.map((k) => `first${k}`).join(', ')}, target.lanesAddress + 32, ${addresses});
         target.sums[firstTarget] += (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
         target.sums[targetOffset] += (lanes[4] + lanes[5]) + (lanes[6] + lanes[7]);
         r++;
         ${advance}
         continue;
       }`
    : intoRow(mode)
    ? `const last = outerShape.length - 1;
       if (group !== null && last >= 0 && outerTargetStrides[last] === 0 && counter[last] + 3 < outerShape[last]) {
         group(target + targetOffset * 8, inner, ${[0, 1, 2, 3].map((j) => operands.map((k) => (j === 0 ? `address${k}` : `address${k} + ${j} * strides${k}[last]`)).join(', ')).join(', target, ')});
         counter[last] += 3; ${operands.map((k) => `address${k} += 3 * strides${k}[last];`).join(' ')}
         r += 3;
         ${advance}
         continue;
       }`
    : '';
  // A run's sum: fresh running totals (unless continuing a row from the previous chunk, or a run
  // from the previous row), then (t0 + t1) + (t2 + t3), as in reduce.ts. Of a run of runRows rows,
  // all but the tail (its length mod 4 last elements) are regular.
  const call = mode === 'sum'
    ? `const runRow = (target.firstRow + r) % target.runRows;
       if (target.fresh && runRow === 0) { lanes[0] = 0; lanes[1] = 0; lanes[2] = 0; lanes[3] = 0; }
       const regular = target.runRows === 1 ? inner & ~3 : Math.max(0, Math.min(inner, target.runRegular - runRow * inner));
       row(target.lanesAddress, inner, regular, ${addresses});
       if (target.finish && runRow === target.runRows - 1) target.sums[targetOffset] += (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);`
    : `row(target + targetOffset * ${bytesPerTarget}, inner, ${addresses});`;
  const walk = new Function('row', 'group', 'rows', 'inner', 'outerShape', 'outerTargetStrides', 'target', ...operands.flatMap((k) => [`address${k}`, `strides${k}`]), `
    const counter = new Array(outerShape.length).fill(0);
    const lanes = target.lanes;
    let targetOffset = 0;
    for (let r = 0; r < rows; r++) {
      ${pairedCall}
      ${call}
      ${advance}
    }`) as Kernel['walk'];
  return { row, group, rows, walk };
}

function kernelFor(tree: Expr, dtype: DType, mode: Mode, strides: readonly Stride[]): Kernel | null {
  const key = `${mode}:${dtype}:${strides.join(',')}:${structuralKey(tree)}`;
  let kernel = kernels.get(key);
  if (kernel === undefined) {
    kernel = !hasWasm(tree) || (tree.kind === 'input' && mode === 'map') ? null : compile(tree, dtype, mode, strides);
    kernels.set(key, kernel);
  }
  return kernel;
}

export function wasmElementwiseAvailable(): boolean {
  if (available === undefined) {
    available = kernelFor({ kind: 'apply', operator: 'mul', args: [{ kind: 'input', index: 0 }, { kind: 'input', index: 1 }] }, 'float32', 'map', ['unit', 'zero']) !== null;
  }
  return available;
}

export type ElementwiseBackend = 'auto' | 'wasm' | 'js';

registerSettingCheck('elementwiseBackend', (choice) => (choice === 'wasm' && !wasmElementwiseAvailable() ? 'WebAssembly SIMD is not available here' : null));

/** Below this many elements the JavaScript loops win: copying in and out costs more than the SIMD lanes save. */
const WASM_MIN_SIZE = 2048;

/**
 * Chooses where elementwise loops and sums of arithmetic and comparisons run: 'wasm' (WebAssembly
 * SIMD), 'js' (the compiled JavaScript loops, always used for other expressions) or 'auto' (the
 * default): wasm when available for work of 2,048+ elements. Both give bit-identical results.
 * unfold and fold (windows.ts) follow the same choice. A thin wrapper over the settings (`withSettings({ elementwiseBackend }, fn)` is the scoped form).
 */
export function setElementwiseBackend(choice: ElementwiseBackend): void {
  updateSettings('setElementwiseBackend', { elementwiseBackend: choice });
}

export function getElementwiseBackend(): ElementwiseBackend {
  return settings.elementwiseBackend;
}

/** Whether a loop over `size` elements should try the WebAssembly kernels. */
export function tryWasmElementwise(size: number): boolean {
  const backend = settings.elementwiseBackend;
  return backend === 'wasm' || (backend === 'auto' && size >= WASM_MIN_SIZE);
}

/** About how many bytes of operands and results one chunk of rows stages (L2-sized). */
const CHUNK_BYTES = 512 * 1024;

/**
 * Largest memory the kernels may grow to (it grows to the largest staging so far and is reused,
 * never shrunk): one chunk of rows, the operands that do not move along the chunked axis, and
 * column sums; bigger work runs in the JavaScript loops.
 */
const MAX_MEMORY_BYTES = 256 * 1024 * 1024;

/** The bytes of `size` elements rounded up to a whole vector. */
const aligned = (bytes: number): number => Math.ceil(bytes / 16) * 16;

/** How the operands and the output of a kernel are laid out: what `mapElementwise` and `reduceExpression` pass in. */
export interface Walk {
  /** Row length, and the outer axes' extents. */
  inner: number;
  outerShape: readonly number[];
  /** Per operand: its stride along the row (0 or 1) and along each outer axis, in elements. */
  innerStrides: readonly number[];
  outerStrides: readonly (readonly number[])[];
  /** Per outer axis: the step of the output position, in elements. */
  outerTargetStrides: readonly number[];
  /** 'sum': how many consecutive rows make one run of the sum's order (reduce.ts); 1 when absent. */
  runRows?: number;
}

/**
 * Runs `expression` over the operands' rows in WebAssembly: 'map' writes the rows to `out` (row
 * r at r·inner), 'sum' adds each row's sum to sums[position], 'sumInto' adds each row elementwise to
 * sums[position …], 'maxInto' keeps the elementwise maximum there. Returns false, having done
 * nothing, when the expression or layout is not supported (then the caller runs its JavaScript loop).
 */
export function runWasmElementwise(
  expression: Expr, operands: readonly FloatNdArray[], dtype: DType, mode: Mode, walk: Walk, output: DataArray | Float64Array,
): boolean {
  if (!wasmElementwiseAvailable()) return false;
  if (walk.innerStrides.some((stride) => stride !== 0 && stride !== 1)) return false;
  if (operands.some((operand) => (operand.data instanceof Float64Array ? 'float64' : 'float32') !== dtype)) return false;
  const strides = walk.innerStrides.map((stride): Stride => (stride === 1 ? 'unit' : 'zero'));
  const kernel = kernelFor(expression, dtype, mode, strides);
  if (kernel === null) return false;
  const bytes = dtype === 'float64' ? 8 : 4;
  const outer = walk.outerShape;
  const extents = [...outer, walk.inner];
  const operandStrides = operands.map((_, k) => [...walk.outerStrides[k]!, walk.innerStrides[k]!]);
  // Rows go in chunks along the first axis (the row itself when there is no outer axis), so that
  // what is staged stays cache-sized: operands that do not move along that axis are copied once,
  // the others chunk by chunk.
  const movesWithChunks = operandStrides.map((strides) => strides[0] !== 0);
  /** Elements per step along the first axis. */
  const stepElements = extents.slice(1).reduce((product, extent) => product * extent, 1);
  // what one step stages: each moving operand's advance along the first axis (a whole step for an
  // array, one element for a value per row), and the output's step in a map
  const stagedPerStep = operandStrides.reduce((total, strides) => total + Math.min(stepElements, Math.abs(strides[0]!)), mode === 'map' ? stepElements : 0);
  const steps = extents[0]!;
  const fitting = Math.max(1, Math.floor(CHUNK_BYTES / Math.max(1, stagedPerStep * bytes)));
  // a single row staged in chunks keeps element i in running total i mod 4: chunks of whole groups of four
  const stepsPerChunk = outer.length === 0 ? Math.max(4, fitting - (fitting % 4)) : fitting;
  /** The lowest and highest element of its data that operand k reads in steps [first, first + count) of the first axis. */
  const reach = (k: number, first: number, count: number): { low: number; high: number } => {
    const strides = operandStrides[k]!;
    let low = operands[k]!.offset + first * strides[0]!;
    let high = low;
    extents.forEach((extent, axis) => {
      const distance = ((axis === 0 ? count : extent) - 1) * strides[axis]!;
      if (distance < 0) low += distance;
      else high += distance;
    });
    return { low, high };
  };
  /** Lays out the spans of the given operands (one per distinct data array) from `address` on. */
  const layout = (which: number[], first: number, count: number, address: number) => {
    const spans = new Map<DataArray, { low: number; high: number; address: number }>();
    for (const k of which) {
      const { low, high } = reach(k, first, count);
      const span = spans.get(operands[k]!.data);
      spans.set(operands[k]!.data, span ? { low: Math.min(low, span.low), high: Math.max(high, span.high), address: 0 } : { low, high, address: 0 });
    }
    for (const span of spans.values()) {
      span.address = address;
      address += aligned((span.high - span.low + 1) * bytes);
    }
    return { spans, end: address };
  };
  const heap = memory!;
  const reserve = (end: number): boolean => {
    if (end > MAX_MEMORY_BYTES) return false;
    if (heap.buffer.byteLength < end) heap.grow(Math.ceil((end - heap.buffer.byteLength) / 65536));
    return true;
  };
  const view = (address: number, length: number, float64: boolean): DataArray =>
    float64 ? new Float64Array(heap.buffer, address, length) : new Float32Array(heap.buffer, address, length);
  const stage = (spans: Map<DataArray, { low: number; high: number; address: number }>) => {
    for (const [data, span] of spans) view(span.address, span.high - span.low + 1, bytes === 8).set(data.subarray(span.low, span.high + 1));
  };

  const runRows = walk.runRows ?? 1;
  const runLength = runRows * walk.inner;
  /** Rows per step along the first axis. */
  const rowsPerStep = outer.slice(1).reduce((product, extent) => product * extent, 1);
  const fixed = layout(operands.map((_, k) => k).filter((k) => !movesWithChunks[k]), 0, steps, 0);
  const accumulatorAddress = fixed.end;
  const chunkStart = accumulatorAddress + (intoRow(mode) ? aligned(output.length * 8) : mode === 'sum' ? 64 : 0);
  if (!reserve(chunkStart)) return false;
  stage(fixed.spans);
  if (intoRow(mode)) view(accumulatorAddress, output.length, true).set(output); // goes on from the values so far
  const moving = operands.map((_, k) => k).filter((k) => movesWithChunks[k]);
  // where a step along the first axis moves the output (a row of its own for each element when the row itself is chunked)
  const targetStep = outer.length > 0 ? walk.outerTargetStrides[0]! : mode === 'sum' ? 0 : 1;
  for (let first = 0; first < steps; first += stepsPerChunk) {
    const count = Math.min(stepsPerChunk, steps - first);
    const chunk = layout(moving, first, count, chunkStart);
    const outputAddress = chunk.end;
    if (!reserve(outputAddress + (mode === 'map' ? aligned(count * stepElements * bytes) : 0))) return false;
    stage(chunk.spans);
    const operandArguments = operands.flatMap((operand, k) => {
      const span = (movesWithChunks[k] ? chunk : fixed).spans.get(operand.data)!;
      const offset = operand.offset + first * operandStrides[k]![0]!;
      return [span.address + (offset - span.low) * bytes, walk.outerStrides[k]!.map((stride) => stride * bytes)];
    });
    const chunkShape = outer.length > 0 ? [count, ...outer.slice(1)] : [];
    const rows = chunkShape.reduce((product, extent) => product * extent, 1);
    const target = mode === 'sum'
      ? {
          sums: (output as Float64Array).subarray(first * targetStep),
          lanes: view(accumulatorAddress, 8, true),
          lanesAddress: accumulatorAddress,
          fresh: outer.length > 0 || first === 0,
          finish: outer.length > 0 || first + count >= steps,
          runRows, runRegular: runLength - (runLength % 4), firstRow: outer.length > 0 ? first * rowsPerStep : 0,
          paired: runRows === 1 && outer.length > 0,
        }
      : intoRow(mode) ? accumulatorAddress + first * targetStep * 8 : outputAddress;
    kernel.walk(kernel.row, kernel.group, rows, outer.length > 0 ? walk.inner : count, chunkShape, walk.outerTargetStrides, target, ...operandArguments);
    if (mode === 'map') output.set(view(outputAddress, count * stepElements, bytes === 8), first * stepElements);
  }
  if (intoRow(mode)) output.set(view(accumulatorAddress, output.length, true));
  return true;
}

/** Where one array an operand views (several operands may view one) is staged: its elements [low, high] at `address`. */
interface StagedSpan {
  /** The first operand that views the array. */
  operand: number;
  low: number;
  high: number;
  address: number;
}

/**
 * Where a prepared kernel's operands go in WebAssembly memory, chunk by chunk along the first axis
 * as runWasmElementwise makes them (`outputPerStep`: the elements per step a chunk also writes
 * to memory). The operands that do not move with the chunks (stride 0 on the first axis) are laid
 * out from address 0 (`fixed`); `chunkLayout` lays out one chunk's moving operands from an address.
 * Operands that view one array when prepared share its span; `stillShared` says whether they
 * still do, and `stage` copies the arrays the operands view now into their spans.
 */
function stagingPlan(operands: readonly FloatNdArray[], dtype: DType, walk: Walk, outputPerStep: number) {
  const bytes = dtype === 'float64' ? 8 : 4;
  const outer = walk.outerShape;
  const extents = [...outer, walk.inner];
  const operandStrides = operands.map((_, k) => [...walk.outerStrides[k]!, walk.innerStrides[k]!]);
  const movesWithChunks = operandStrides.map((strides) => strides[0] !== 0);
  const stepElements = extents.slice(1).reduce((product, extent) => product * extent, 1);
  const stagedPerStep = operandStrides.reduce((total, strides) => total + Math.min(stepElements, Math.abs(strides[0]!)), outputPerStep * stepElements);
  const steps = extents[0]!;
  const fitting = Math.max(1, Math.floor(CHUNK_BYTES / Math.max(1, stagedPerStep * bytes)));
  const stepsPerChunk = outer.length === 0 ? Math.max(4, fitting - (fitting % 4)) : fitting;
  /** The first operand viewing the same array as operand k, when prepared. */
  const sharing = operands.map((operand) => operands.findIndex((other) => other.data === operand.data));
  const layout = (which: number[], first: number, count: number, address: number): { spans: StagedSpan[]; end: number } => {
    const spans: StagedSpan[] = [];
    for (const k of which) {
      const strides = operandStrides[k]!;
      let low = operands[k]!.offset + first * strides[0]!;
      let high = low;
      extents.forEach((extent, axis) => {
        const distance = ((axis === 0 ? count : extent) - 1) * strides[axis]!;
        if (distance < 0) low += distance;
        else high += distance;
      });
      const span = spans.find((known) => known.operand === sharing[k]);
      if (span === undefined) spans.push({ operand: sharing[k]!, low, high, address: 0 });
      else [span.low, span.high] = [Math.min(low, span.low), Math.max(high, span.high)];
    }
    for (const span of spans) {
      span.address = address;
      address += aligned((span.high - span.low + 1) * bytes);
    }
    return { spans, end: address };
  };
  const all = operands.map((_, k) => k);
  const moving = all.filter((k) => movesWithChunks[k]);
  const fixed = layout(all.filter((k) => !movesWithChunks[k]), 0, steps, 0);
  const heap = memory!;
  const view = (address: number, length: number): DataArray =>
    bytes === 8 ? new Float64Array(heap.buffer, address, length) : new Float32Array(heap.buffer, address, length);
  return {
    bytes, steps, stepsPerChunk, stepElements, heap, fixed,
    /** Grows the memory to `end` bytes; false beyond the kernels' limit. */
    reserve(end: number): boolean {
      if (end > MAX_MEMORY_BYTES) return false;
      if (heap.buffer.byteLength < end) heap.grow(Math.ceil((end - heap.buffer.byteLength) / 65536));
      return true;
    },
    /** The spans of the moving operands of the chunk of `count` steps from `first`, from `address`, and the kernel's operand arguments for it. */
    chunkLayout(first: number, count: number, address: number): { spans: StagedSpan[]; end: number; operandArguments: unknown[] } {
      const chunk = layout(moving, first, count, address);
      const operandArguments = operands.flatMap((operand, k) => {
        const span = (movesWithChunks[k] ? chunk : fixed).spans.find((known) => known.operand === sharing[k])!;
        const offset = operand.offset + first * operandStrides[k]![0]!;
        return [span.address + (offset - span.low) * bytes, walk.outerStrides[k]!.map((stride) => stride * bytes)];
      });
      return { ...chunk, operandArguments };
    },
    view,
    stillShared: (): boolean => operands.every((operand, k) => operand.data === operands[sharing[k]!]!.data),
    stage(spans: readonly StagedSpan[]): void {
      for (const span of spans) {
        const data = operands[span.operand]!.data;
        const length = span.high - span.low + 1;
        view(span.address, length).set(span.low === 0 && length === data.length ? data : data.subarray(span.low, span.high + 1));
      }
    },
  };
}

/** The kernel of a prepared call, or null where runWasmElementwise would not run one. */
function preparedKernel(expression: Expr, operands: readonly FloatNdArray[], dtype: DType, mode: Mode, walk: Walk): Kernel | null {
  if (!wasmElementwiseAvailable()) return null;
  if (walk.innerStrides.some((stride) => stride !== 0 && stride !== 1)) return null;
  if (operands.some((operand) => (operand.data instanceof Float64Array ? 'float64' : 'float32') !== dtype)) return null;
  return kernelFor(expression, dtype, mode, walk.innerStrides.map((stride): Stride => (stride === 1 ? 'unit' : 'zero')));
}

/** Rows of at most this many elements go through the kernel's rows function in prepared calls (longer rows pay for one call each from JavaScript anyway). */
const DRIVEN_ROW_LENGTH = 256;

/** Whether a prepared call's chunks run through the rows function: one or two outer axes of short rows. */
const drivenRows = (walk: Walk): boolean => walk.outerShape.length >= 1 && walk.outerShape.length <= 2 && walk.inner <= DRIVEN_ROW_LENGTH;

/**
 * The rows function's arguments for one chunk of `count` steps along the first outer axis:
 * `target` and its strides per outer axis (bytes), each operand's address and strides (bytes, as
 * chunkLayout gives them), `regular` and `lanes` for 'sum'.
 */
function drivenArguments(walk: Walk, count: number, regular: number, target: number, targetStrides: readonly number[], lanes: number, operandArguments: readonly unknown[]): number[] {
  const single = walk.outerShape.length === 1;
  const [n0, n1] = single ? [1, count] : [count, walk.outerShape[1]!];
  const [targetStride0, targetStride1] = single ? [0, targetStrides[0]!] : [targetStrides[0]!, targetStrides[1]!];
  const operands: number[] = [];
  for (let k = 0; k < operandArguments.length; k += 2) {
    const strides = operandArguments[k + 1] as number[];
    operands.push(operandArguments[k] as number, single ? 0 : strides[0]!, single ? strides[0]! : strides[1]!);
  }
  return [walk.inner, regular, n0, n1, target, targetStride0, targetStride1, lanes, ...operands];
}

/**
 * `runWasmElementwise(expression, operands, dtype, 'map', walk, output)` with the kernel, the
 * chunks and where each operand's elements go in WebAssembly memory resolved once: the returned
 * function stages the arrays that the operands view when it is called (`.data` is read on every
 * call), runs the chunks and copies each chunk's result to `output`. Operands that viewed one array
 * when prepared are staged once; if they no longer do, the call runs runWasmElementwise. Null
 * where runWasmElementwise would return false.
 */
export function prepareWasmMap(expression: Expr, operands: readonly FloatNdArray[], dtype: DType, walk: Walk): ((output: DataArray) => void) | null {
  const kernel = preparedKernel(expression, operands, dtype, 'map', walk);
  if (kernel === null) return null;
  const plan = stagingPlan(operands, dtype, walk, 1);
  const { bytes, steps, stepsPerChunk, stepElements, fixed } = plan;
  const outer = walk.outerShape;
  if (!plan.reserve(fixed.end)) return null;
  const driven = drivenRows(walk);
  const chunks: { spans: StagedSpan[]; run: Kernel['walk'] | Kernel['rows']; kernelArguments: unknown[]; outputAddress: number; length: number; at: number }[] = [];
  for (let first = 0; first < steps; first += stepsPerChunk) {
    const count = Math.min(stepsPerChunk, steps - first);
    const chunk = plan.chunkLayout(first, count, fixed.end);
    const outputAddress = chunk.end;
    if (!plan.reserve(outputAddress + aligned(count * stepElements * bytes))) return null;
    const chunkShape = outer.length > 0 ? [count, ...outer.slice(1)] : [];
    const rows = chunkShape.reduce((product, extent) => product * extent, 1);
    chunks.push({
      spans: chunk.spans,
      run: driven ? kernel.rows : kernel.walk,
      kernelArguments: driven
        ? drivenArguments(walk, count, 0, outputAddress, walk.outerTargetStrides.map((stride) => stride * bytes), 0, chunk.operandArguments)
        : [kernel.row, kernel.group, rows, outer.length > 0 ? walk.inner : count, chunkShape, walk.outerTargetStrides, outputAddress, ...chunk.operandArguments],
      outputAddress, length: count * stepElements, at: first * stepElements,
    });
  }
  return (output) => {
    if (!plan.stillShared()) {
      runWasmElementwise(expression, operands, dtype, 'map', walk, output);
      return;
    }
    plan.stage(fixed.spans);
    for (const chunk of chunks) {
      plan.stage(chunk.spans);
      Reflect.apply(chunk.run, undefined, chunk.kernelArguments);
      output.set(plan.view(chunk.outputAddress, chunk.length), chunk.at);
    }
  };
}

/** One sum of prepareWasmSums: what runWasmElementwise(expression, operands, dtype, mode, walk, sums) would add into `sums`. */
export interface WasmSum {
  expression: Expr;
  operands: readonly FloatNdArray[];
  mode: 'sum' | 'sumInto' | 'maxInto';
  walk: Walk;
  sums: Float64Array;
}

/**
 * `runWasmElementwise(expression, operands, dtype, mode, walk, sums)` for the sum modes, with the
 * kernel, the chunks, where each operand's elements go in WebAssembly memory and the targets in
 * `sums` resolved once: the returned function stages the arrays that the operands view when it
 * is called (`.data` is read on every call) and adds the chunks' sums into `sums` (the array
 * given here), in runWasmElementwise's order. Operands that viewed one array when prepared are
 * staged once; if they no longer do, the call runs runWasmElementwise. Null where
 * runWasmElementwise would return false.
 */
export function prepareWasmSum(
  expression: Expr, operands: readonly FloatNdArray[], dtype: DType, mode: 'sum' | 'sumInto' | 'maxInto', walk: Walk, sums: Float64Array,
): (() => void) | null {
  return prepareWasmSums(dtype, [{ expression, operands, mode, walk, sums }]);
}

/**
 * prepareWasmSum for several sums over the same rows (each walk's `inner` and `outerShape` the
 * same): one staging plan for all their operands, so an array that several of them read is staged
 * once per chunk, and each chunk runs every sum's kernel in turn. Each sum's order, and so its
 * value, is the one runWasmElementwise gives it alone (a chunk boundary along the first axis does
 * not change a sum). Null where one of them would be.
 */
export function prepareWasmSums(dtype: DType, items: readonly WasmSum[]): (() => void) | null {
  const first = items[0];
  if (first === undefined) return null;
  const { inner, outerShape: outer } = first.walk;
  if (items.some(({ walk }) => walk.inner !== inner || walk.outerShape.length !== outer.length || walk.outerShape.some((extent, axis) => extent !== outer[axis]))) return null;
  const kernels = items.map((item) => preparedKernel(item.expression, item.operands, dtype, item.mode, item.walk));
  if (kernels.some((kernel) => kernel === null)) return null;
  const operands = items.flatMap((item) => item.operands);
  /** Where each sum's operands start in `operands`. */
  const operandStarts = items.map((_, k) => items.slice(0, k).reduce((count, item) => count + item.operands.length, 0));
  const merged: Walk = {
    inner, outerShape: outer, innerStrides: items.flatMap((item) => item.walk.innerStrides), outerStrides: items.flatMap((item) => item.walk.outerStrides), outerTargetStrides: [],
  };
  const plan = stagingPlan(operands, dtype, merged, 0);
  const { steps, stepsPerChunk, fixed, heap } = plan;
  const rowsPerStep = outer.slice(1).reduce((product, extent) => product * extent, 1);
  // Short rows on one or two outer axes go through each kernel's rows function ('sum' when every
  // row is a run of its own); a 'sum' so run keeps its sums in memory, as 'sumInto' does.
  const driven = items.map(({ mode, walk }) => drivenRows(walk) && (mode !== 'sum' || (walk.runRows ?? 1) === 1));
  // each sum's float64 accumulator (the running totals of 'sum', the output rows of the others;
  // a driven 'sum', its totals and then its sums), then the chunks
  let chunkStart = fixed.end;
  const accumulatorAddresses = items.map(({ mode, sums }, k) => {
    const address = chunkStart;
    chunkStart += intoRow(mode) ? aligned(sums.length * 8) : 64 + (driven[k] ? aligned(sums.length * 8) : 0);
    return address;
  });
  /** Where each sum that lives in memory while the call runs keeps it, or null. */
  const sumsInMemory = items.map(({ mode }, k) => (intoRow(mode) ? accumulatorAddresses[k]! : driven[k] ? accumulatorAddresses[k]! + 64 : null));
  if (!plan.reserve(chunkStart)) return null;
  /** The running totals' view of each 'sum' target, made again when the memory grows (its buffer changes). */
  const sumTargets: { lanes: Float64Array; lanesAddress: number }[] = [];
  const chunks: { spans: StagedSpan[]; kernelArguments: unknown[][] }[] = [];
  for (let firstStep = 0; firstStep < steps; firstStep += stepsPerChunk) {
    const count = Math.min(stepsPerChunk, steps - firstStep);
    const chunk = plan.chunkLayout(firstStep, count, chunkStart);
    if (!plan.reserve(chunk.end)) return null;
    const chunkShape = outer.length > 0 ? [count, ...outer.slice(1)] : [];
    const rows = chunkShape.reduce((product, extent) => product * extent, 1);
    const kernelArguments = items.map(({ mode, walk, sums }, k) => {
      const kernel = kernels[k]!;
      const accumulatorAddress = accumulatorAddresses[k]!;
      const targetStep = outer.length > 0 ? walk.outerTargetStrides[0]! : mode === 'sum' ? 0 : 1;
      const operandArguments = chunk.operandArguments.slice(2 * operandStarts[k]!, 2 * (operandStarts[k]! + items[k]!.operands.length));
      if (driven[k]) {
        const target = sumsInMemory[k]! + firstStep * targetStep * 8;
        const targetStrides = walk.outerTargetStrides.map((stride) => stride * 8);
        return drivenArguments(walk, count, mode === 'sum' ? inner & ~3 : 0, target, targetStrides, accumulatorAddress, operandArguments);
      }
      let target: unknown;
      if (mode === 'sum') {
        const runRows = walk.runRows ?? 1;
        const runLength = runRows * inner;
        const sumTarget = {
          sums: sums.subarray(firstStep * targetStep),
          lanes: new Float64Array(heap.buffer, accumulatorAddress, 8),
          lanesAddress: accumulatorAddress,
          fresh: outer.length > 0 || firstStep === 0,
          finish: outer.length > 0 || firstStep + count >= steps,
          runRows, runRegular: runLength - (runLength % 4), firstRow: outer.length > 0 ? firstStep * rowsPerStep : 0,
          paired: runRows === 1 && outer.length > 0,
        };
        sumTargets.push(sumTarget);
        target = sumTarget;
      } else {
        target = accumulatorAddress + firstStep * targetStep * 8;
      }
      return [kernel.row, kernel.group, rows, outer.length > 0 ? inner : count, chunkShape, walk.outerTargetStrides, target, ...operandArguments];
    });
    chunks.push({ spans: chunk.spans, kernelArguments });
  }
  const kernelRuns = kernels.map((kernel, k) => (driven[k] ? kernel!.rows : kernel!.walk));
  let buffer = heap.buffer;
  return () => {
    if (!plan.stillShared()) {
      for (const { expression, operands: itemOperands, mode, walk, sums } of items) runWasmElementwise(expression, itemOperands, dtype, mode, walk, sums);
      return;
    }
    if (heap.buffer !== buffer) {
      buffer = heap.buffer;
      for (const target of sumTargets) target.lanes = new Float64Array(buffer, target.lanesAddress, 8);
    }
    plan.stage(fixed.spans);
    // the sums so far go on from their values
    items.forEach(({ sums }, k) => sumsInMemory[k] !== null && new Float64Array(buffer, sumsInMemory[k]!, sums.length).set(sums));
    for (const chunk of chunks) {
      plan.stage(chunk.spans);
      for (let k = 0; k < kernelRuns.length; k++) Reflect.apply(kernelRuns[k]!, undefined, chunk.kernelArguments[k]!);
    }
    items.forEach(({ sums }, k) => sumsInMemory[k] !== null && sums.set(new Float64Array(buffer, sumsInMemory[k]!, sums.length)));
  };
}
