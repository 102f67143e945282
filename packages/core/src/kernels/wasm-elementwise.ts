import type { DType, DataArray } from '../dtype.js';
import type { FloatNdArray } from './layout.js';
import {
  F32, F64, I32, V128, block, branch, branchIf, end, f64Add, f64PromoteF32, get, i32Add, i32Const, i32GreaterOrEqualUnsigned, i32Mul,
  loop, moduleBytes, set, simd, tee, webAssemblyApi, type WasmMemory,
} from './wasm-assembly.js';

/**
 * WebAssembly SIMD versions of the compiled elementwise loops and sums, for expressions of
 * arithmetic (+ − × ÷, negation, square root, operands and numbers) and choices by comparison
 * (`c ? a : b`), assembled at run time per expression. The operands' elements are copied into
 * WebAssembly memory in cache-sized chunks of rows (one native copy per operand and chunk), the
 * loop runs four float32 or two float64 lanes at a time, and each chunk's result is copied out.
 * Sums accumulate in float64 lanes. float64 results equal the
 * JavaScript loop's (IEEE + − × ÷ √ either way); float32 rounds after every operation, as the
 * float32 arithmetic of other frameworks does, where the JavaScript loop computes in float64 and
 * rounds once.
 */

type Comparison = '===' | '!==' | '<' | '>' | '<=' | '>=';

/**
 * An elementwise expression over operands $0, $1, …: arithmetic, and conditions (comparisons,
 * joined by ||) that only choose between two values, as in `($0 > 0 ? $0 : 0)`.
 */
export type Arithmetic =
  | { kind: 'operand'; index: number }
  | { kind: 'number'; value: number }
  | { kind: 'negate'; operand: Arithmetic }
  | { kind: 'sqrt'; operand: Arithmetic }
  | { kind: 'binary'; operator: '+' | '-' | '*' | '/'; left: Arithmetic; right: Arithmetic }
  | { kind: 'select'; condition: Condition; whenTrue: Arithmetic; whenFalse: Arithmetic };

export type Condition =
  | { kind: 'compare'; operator: Comparison; left: Arithmetic; right: Arithmetic }
  | { kind: 'or'; left: Condition; right: Condition };

/**
 * The tree of an elementwise expression, with JavaScript's precedence; null for anything else
 * (function calls such as Math.exp, or a comparison used as a number).
 */
export function parseArithmetic(text: string): Arithmetic | null {
  const tokens = text.match(/\$\d+|\d+(?:\.\d*)?(?:e[+-]?\d+)?|NaN|Math\.sqrt|===|!==|<=|>=|\|\||\S/g) ?? [];
  let position = 0;
  const accept = (...operators: string[]): string | undefined => {
    const token = tokens[position];
    if (token === undefined || !operators.includes(token)) return undefined;
    position++;
    return token;
  };
  // primary := $n | number | NaN | -primary | Math.sqrt( conditional ) | ( conditional )
  const primary = (): Arithmetic | null => {
    const token = tokens[position++];
    if (token === undefined) return null;
    if (token === 'Math.sqrt') {
      if (!accept('(')) return null;
      const operand = conditional();
      return operand !== null && accept(')') ? { kind: 'sqrt', operand } : null;
    }
    if (token.startsWith('$')) return { kind: 'operand', index: Number(token.slice(1)) };
    if (token === 'NaN' || /^\d/.test(token)) return { kind: 'number', value: Number(token) };
    if (token === '-') {
      const operand = primary();
      return operand && { kind: 'negate', operand };
    }
    if (token !== '(') return null;
    const inner = conditional();
    return inner !== null && accept(')') ? inner : null;
  };
  const arithmetic = (operators: string[], operand: () => Arithmetic | null) => (): Arithmetic | null => {
    let left = operand();
    for (let operator = accept(...operators); left !== null && operator !== undefined; operator = accept(...operators)) {
      const right = operand();
      left = right && { kind: 'binary', operator: operator as '+' | '-' | '*' | '/', left, right };
    }
    return left;
  };
  const product = arithmetic(['*', '/'], primary);
  const sum = arithmetic(['+', '-'], product);
  // condition := sum comparison sum ( || condition )
  const condition = (): Condition | null => {
    const left = sum();
    const operator = accept('===', '!==', '<', '>', '<=', '>=') as Comparison | undefined;
    const right = operator && sum();
    if (left === null || !right) return null;
    const compare: Condition = { kind: 'compare', operator: operator!, left, right };
    if (!accept('||')) return compare;
    const rest = condition();
    return rest && { kind: 'or', left: compare, right: rest };
  };
  // conditional := condition ? conditional : conditional | sum
  const conditional = (): Arithmetic | null => {
    const start = position;
    const test = condition();
    if (test === null || !accept('?')) {
      position = start;
      return sum();
    }
    const whenTrue = conditional();
    if (whenTrue === null || !accept(':')) return null;
    const whenFalse = conditional();
    return whenFalse && { kind: 'select', condition: test, whenTrue, whenFalse };
  };
  const tree = conditional();
  return tree !== null && position === tokens.length ? tree : null;
}

type Operator = '+' | '-' | '*' | '/';

interface Lanes {
  bytes: number;
  /** Elements per 16-byte vector. */
  width: number;
  scalarType: number;
  load: number[];
  store: number[];
  constant(value: number): number[];
  splat: number[];
  vector: Record<Operator | Comparison | 'negate' | 'sqrt', number[]>;
  scalar: Record<Operator | Comparison | 'negate' | 'sqrt', number[]>;
}

const float32Lanes: Lanes = {
  bytes: 4, width: 4, scalarType: F32, load: [0x2a, 2, 0], store: [0x38, 2, 0],
  constant: (value) => [0x43, ...new Uint8Array(Float32Array.of(value).buffer)],
  splat: simd(0x13),
  vector: {
    '+': simd(0xe4), '-': simd(0xe5), '*': simd(0xe6), '/': simd(0xe7), negate: simd(0xe1), sqrt: simd(0xe3),
    '===': simd(0x41), '!==': simd(0x42), '<': simd(0x43), '>': simd(0x44), '<=': simd(0x45), '>=': simd(0x46),
  },
  scalar: {
    '+': [0x92], '-': [0x93], '*': [0x94], '/': [0x95], negate: [0x8c], sqrt: [0x91],
    '===': [0x5b], '!==': [0x5c], '<': [0x5d], '>': [0x5e], '<=': [0x5f], '>=': [0x60],
  },
};
const float64Lanes: Lanes = {
  bytes: 8, width: 2, scalarType: F64, load: [0x2b, 3, 0], store: [0x39, 3, 0],
  constant: (value) => [0x44, ...new Uint8Array(Float64Array.of(value).buffer)],
  splat: simd(0x14),
  vector: {
    '+': simd(0xf0), '-': simd(0xf1), '*': simd(0xf2), '/': simd(0xf3), negate: simd(0xed), sqrt: simd(0xef),
    '===': simd(0x47), '!==': simd(0x48), '<': simd(0x49), '>': simd(0x4a), '<=': simd(0x4b), '>=': simd(0x4c),
  },
  scalar: {
    '+': [0xa0], '-': [0xa1], '*': [0xa2], '/': [0xa3], negate: [0x9a], sqrt: [0x9f],
    '===': [0x61], '!==': [0x62], '<': [0x63], '>': [0x64], '<=': [0x65], '>=': [0x66],
  },
};

const vectorLoad = simd(0x00, 0, 0);
const vectorStore = simd(0x0b, 0, 0);
const f64x2Add = simd(0xf0);
const promoteLow = simd(0x5f); // f64x2.promote_low_f32x4
const highHalf = simd(0x0d, 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15); // lanes 2, 3 of f32x4 to 0, 1
const extractLane = (lane: number) => simd(0x21, lane); // f64x2.extract_lane
const i32And = [0x71];
const i32Or = [0x72];
const vectorOr = simd(0x50);
const bitSelect = simd(0x52); // (a, b, mask): a where mask bits are set, else b
const scalarSelect = [0x1b]; // (a, b, condition): condition ? a : b

/**
 * What a kernel does with the expression's value over one row of `count` elements:
 * - 'map': stores it at `out` (params: out, count, operand addresses…);
 * - 'sum': returns its float64 sum (params: count, operand addresses…);
 * - 'sumInto': adds it to the float64 row at `accumulator` (params: accumulator, count, operand addresses…).
 */
type Mode = 'map' | 'sum' | 'sumInto';

/** An operand read at consecutive elements ('unit') or one value for the whole row ('zero'). */
type Stride = 'unit' | 'zero';

function kernelBody(tree: Arithmetic, lanes: Lanes, mode: Mode, strides: readonly Stride[]): { parameters: number[]; result?: number; locals: [number, number][]; body: number[] } {
  const leading = mode === 'sum' ? 1 : 2; // [out | accumulator,] count
  const count = leading - 1;
  const target = 0;
  const operandAddress = (k: number) => leading + k;
  let next = leading + strides.length;
  const offset = next++; // byte offset into the operands' rows
  const targetOffset = next++; // byte offset into the output row (float64 rows for the sums)
  const vectorEnd = next++;
  const rowEnd = next++;
  const address = next++;
  const i32Locals = next - leading - strides.length;
  const vectorValue = (k: number) => next + k;
  const scalarValue = (k: number) => next + strides.length + k;
  const value = next + 2 * strides.length; // v128
  const accumulators = [value + 1, value + 2]; // v128
  const total = value + 3; // f64
  const locals: [number, number][] = [[i32Locals, I32], [strides.length, V128], [strides.length, lanes.scalarType], [3, V128], [1, F64]];

  const emit = (node: Arithmetic, vectorized: boolean): number[] => {
    const ops = vectorized ? lanes.vector : lanes.scalar;
    switch (node.kind) {
      case 'operand': return get(vectorized ? vectorValue(node.index) : scalarValue(node.index));
      case 'number': return vectorized ? [...lanes.constant(node.value), ...lanes.splat] : lanes.constant(node.value);
      case 'negate': return [...emit(node.operand, vectorized), ...ops.negate];
      case 'sqrt': return [...emit(node.operand, vectorized), ...ops.sqrt];
      case 'binary': return [...emit(node.left, vectorized), ...emit(node.right, vectorized), ...ops[node.operator]];
      case 'select':
        return [...emit(node.whenTrue, vectorized), ...emit(node.whenFalse, vectorized), ...test(node.condition, vectorized), ...(vectorized ? bitSelect : scalarSelect)];
    }
  };
  /** A condition as a lane mask (vectors) or an i32 (scalars). */
  const test = (node: Condition, vectorized: boolean): number[] =>
    node.kind === 'or'
      ? [...test(node.left, vectorized), ...test(node.right, vectorized), ...(vectorized ? vectorOr : i32Or)]
      : [...emit(node.left, vectorized), ...emit(node.right, vectorized), ...(vectorized ? lanes.vector : lanes.scalar)[node.operator]];
  const readOperands = (vectorized: boolean): number[] =>
    strides.flatMap((stride, k) =>
      stride === 'unit'
        ? [...get(operandAddress(k)), ...get(offset), ...i32Add, ...(vectorized ? vectorLoad : lanes.load), ...set(vectorized ? vectorValue(k) : scalarValue(k))]
        : [],
    );
  const targetAddress = [...get(target), ...get(targetOffset), ...i32Add, ...tee(address)];
  const toFloat64 = lanes === float32Lanes ? f64PromoteF32 : [];
  const vectorStep = mode === 'map' || lanes === float64Lanes ? 16 : 32;

  let vectorWork: number[];
  let scalarWork: number[];
  if (mode === 'map') {
    vectorWork = [...get(target), ...get(targetOffset), ...i32Add, ...emit(tree, true), ...vectorStore];
    scalarWork = [...get(target), ...get(targetOffset), ...i32Add, ...emit(tree, false), ...lanes.store];
  } else if (mode === 'sum') {
    const addHalves = lanes === float32Lanes
      ? [...get(accumulators[0]!), ...get(value), ...promoteLow, ...f64x2Add, ...set(accumulators[0]!),
         ...get(accumulators[1]!), ...get(value), ...get(value), ...highHalf, ...promoteLow, ...f64x2Add, ...set(accumulators[1]!)]
      : [...get(accumulators[0]!), ...get(value), ...f64x2Add, ...set(accumulators[0]!)];
    vectorWork = [...emit(tree, true), ...set(value), ...addHalves];
    scalarWork = [...get(total), ...emit(tree, false), ...toFloat64, ...f64Add, ...set(total)];
  } else {
    // accumulator row += value, as float64 pairs: one pair per float64 vector, two per float32 vector
    const addPair = (pair: number[], byteOffset: number): number[] => [
      ...targetAddress, ...(byteOffset > 0 ? [...i32Const(byteOffset), ...i32Add, ...tee(address)] : []),
      ...get(address), ...vectorLoad, ...pair, ...f64x2Add, ...vectorStore,
    ];
    vectorWork = lanes === float32Lanes
      ? [...emit(tree, true), ...set(value), ...addPair([...get(value), ...promoteLow], 0), ...addPair([...get(value), ...get(value), ...highHalf, ...promoteLow], 16)]
      : [...emit(tree, true), ...set(value), ...addPair(get(value), 0)];
    scalarWork = [...targetAddress, ...get(address), ...float64Lanes.load, ...emit(tree, false), ...toFloat64, ...f64Add, ...float64Lanes.store];
  }
  const targetStep = (bytes: number) => (mode === 'sum' ? [] : [...get(targetOffset), ...i32Const(bytes), ...i32Add, ...set(targetOffset)]);
  const body = [
    // one value per row for the 'zero' operands
    ...strides.flatMap((stride, k) =>
      stride === 'zero' ? [...get(operandAddress(k)), ...lanes.load, ...tee(scalarValue(k)), ...lanes.splat, ...set(vectorValue(k))] : [],
    ),
    ...get(count), ...i32Const(-lanes.width), ...i32And, ...i32Const(lanes.bytes), ...i32Mul, ...set(vectorEnd),
    ...get(count), ...i32Const(lanes.bytes), ...i32Mul, ...set(rowEnd),
    ...block, ...loop,
    ...get(offset), ...get(vectorEnd), ...i32GreaterOrEqualUnsigned, ...branchIf(1),
    ...readOperands(true), ...vectorWork,
    ...get(offset), ...i32Const(16), ...i32Add, ...set(offset), ...targetStep(vectorStep),
    ...branch(0), ...end, ...end,
    ...block, ...loop,
    ...get(offset), ...get(rowEnd), ...i32GreaterOrEqualUnsigned, ...branchIf(1),
    ...readOperands(false), ...scalarWork,
    ...get(offset), ...i32Const(lanes.bytes), ...i32Add, ...set(offset), ...targetStep(mode === 'map' ? lanes.bytes : 8),
    ...branch(0), ...end, ...end,
    ...(mode === 'sum'
      ? [...get(total), ...accumulators.flatMap((accumulator) => [...get(accumulator), ...extractLane(0), ...f64Add, ...get(accumulator), ...extractLane(1), ...f64Add])]
      : []),
  ];
  return { parameters: new Array<number>(leading + strides.length).fill(I32), result: mode === 'sum' ? F64 : undefined, locals, body };
}

/** A row kernel and the loop that calls it once per row of the outer axes. */
interface Kernel {
  row: (...args: number[]) => number | undefined;
  /**
   * (row, rows, inner, outerShape, outerTargetStrides, target, address0, strides0, …): calls row for
   * each row; `target` is the output address ('map', 'sumInto') or a Float64Array of sums ('sum');
   * addresses and strides are in bytes, target strides in elements.
   */
  walk: (...args: unknown[]) => void;
}

const kernels = new Map<string, Kernel | null>();
let memory: WasmMemory | null = null;

/** Whether this Node runs WebAssembly SIMD (checked once, by compiling a small kernel). */
let available: boolean | undefined;

function compile(tree: Arithmetic, dtype: DType, mode: Mode, strides: readonly Stride[]): Kernel | null {
  const lanes = dtype === 'float64' ? float64Lanes : float32Lanes;
  const api = webAssemblyApi();
  let row: Kernel['row'];
  try {
    if (api === undefined) return null;
    memory ??= new api.Memory({ initial: 1 });
    const bytes = moduleBytes([{ name: 'row', ...kernelBody(tree, lanes, mode, strides) }]);
    if (!api.validate(bytes)) return null;
    row = new api.Instance(new api.Module(bytes), { env: { memory } }).exports.row as Kernel['row'];
  } catch {
    return null;
  }
  const operands = strides.map((_, k) => k);
  const bytesPerTarget = mode === 'map' ? lanes.bytes : 8;
  const call = mode === 'sum'
    ? `target[targetOffset] += row(inner, ${operands.map((k) => `address${k}`).join(', ')});`
    : `row(target + targetOffset * ${bytesPerTarget}, inner, ${operands.map((k) => `address${k}`).join(', ')});`;
  const walk = new Function('row', 'rows', 'inner', 'outerShape', 'outerTargetStrides', 'target', ...operands.flatMap((k) => [`address${k}`, `strides${k}`]), `
    const counter = new Array(outerShape.length).fill(0);
    let targetOffset = 0;
    for (let r = 0; r < rows; r++) {
      ${call}
      for (let axis = outerShape.length - 1; axis >= 0; axis--) {
        counter[axis]++; targetOffset += outerTargetStrides[axis]; ${operands.map((k) => `address${k} += strides${k}[axis];`).join(' ')}
        if (counter[axis] < outerShape[axis]) break;
        targetOffset -= outerTargetStrides[axis] * outerShape[axis]; ${operands.map((k) => `address${k} -= strides${k}[axis] * outerShape[axis];`).join(' ')}
        counter[axis] = 0;
      }
    }`) as Kernel['walk'];
  return { row, walk };
}

function kernelFor(expression: string, dtype: DType, mode: Mode, strides: readonly Stride[]): Kernel | null {
  const key = `${mode}:${dtype}:${strides.join(',')}:${expression}`;
  let kernel = kernels.get(key);
  if (kernel === undefined) {
    const tree = parseArithmetic(expression);
    kernel = tree === null || tree.kind === 'operand' && mode === 'map' ? null : compile(tree, dtype, mode, strides);
    kernels.set(key, kernel);
  }
  return kernel;
}

export function wasmElementwiseAvailable(): boolean {
  if (available === undefined) {
    available = kernelFor('$0 * $1', 'float32', 'map', ['unit', 'zero']) !== null;
  }
  return available;
}

export type ElementwiseBackend = 'auto' | 'wasm' | 'js';

let backend: ElementwiseBackend = 'auto';

/** Below this many elements the JavaScript loops win: copying in and out costs more than the SIMD lanes save. */
const WASM_MIN_SIZE = 2048;

/**
 * Chooses where elementwise loops and sums of arithmetic and comparisons run: 'wasm' (WebAssembly
 * SIMD), 'js' (the compiled JavaScript loops, always used for other expressions) or 'auto' (the
 * default): wasm when available for work of 2,048+ elements.
 */
export function setElementwiseBackend(choice: ElementwiseBackend): void {
  if (choice !== 'auto' && choice !== 'wasm' && choice !== 'js') {
    throw new Error(`setElementwiseBackend: expected 'auto', 'wasm' or 'js', got ${JSON.stringify(choice)}`);
  }
  if (choice === 'wasm' && !wasmElementwiseAvailable()) throw new Error('setElementwiseBackend: WebAssembly SIMD is not available here');
  backend = choice;
}

export function getElementwiseBackend(): ElementwiseBackend {
  return backend;
}

/** Whether a loop over `size` elements should try the WebAssembly kernels. */
export function tryWasmElementwise(size: number): boolean {
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
}

/**
 * Runs `expression` over the operands' rows in WebAssembly: 'map' writes the rows to `out` (row
 * r at r·inner), 'sum' adds each row's sum to sums[position], 'sumInto' adds each row elementwise to
 * sums[position …]. Returns false, having done nothing, when the expression or layout is not
 * supported (then the caller runs its JavaScript loop).
 */
export function runWasmElementwise(
  expression: string, operands: readonly FloatNdArray[], dtype: DType, mode: Mode, walk: Walk, output: DataArray | Float64Array,
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
  const chunkedArrays = movesWithChunks.filter(Boolean).length + (mode === 'map' ? 1 : 0);
  const steps = extents[0]!;
  const stepsPerChunk = Math.max(1, Math.floor(CHUNK_BYTES / Math.max(1, chunkedArrays * stepElements * bytes)));
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

  const fixed = layout(operands.map((_, k) => k).filter((k) => !movesWithChunks[k]), 0, steps, 0);
  const accumulatorAddress = fixed.end;
  const chunkStart = accumulatorAddress + (mode === 'sumInto' ? aligned(output.length * 8) : 0);
  if (!reserve(chunkStart)) return false;
  stage(fixed.spans);
  if (mode === 'sumInto') view(accumulatorAddress, output.length, true).set(output); // adds to the sums so far
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
    const target = mode === 'sum' ? (output as Float64Array).subarray(first * targetStep)
      : mode === 'sumInto' ? accumulatorAddress + first * targetStep * 8 : outputAddress;
    kernel.walk(kernel.row, rows, outer.length > 0 ? walk.inner : count, chunkShape, walk.outerTargetStrides, target, ...operandArguments);
    if (mode === 'map') output.set(view(outputAddress, count * stepElements, bytes === 8), first * stepElements);
  }
  if (mode === 'sumInto') output.set(view(accumulatorAddress, output.length, true));
  return true;
}
