import type { DType, FloatDType } from '../dtype.js';
import { simd } from './wasm-assembly.js';

/**
 * Elementwise work as one typed expression tree. An expression computes one element of its
 * result from the elements of its inputs (`input(k)`), numbers (`constant`) and operators
 * (`apply`). The same tree is printed as a JavaScript loop body (elementwise.ts, reduce.ts), as
 * WebAssembly SIMD (wasm-elementwise.ts) and evaluated by `evaluate` (the tests' oracle); nothing
 * is ever parsed back from text. A tree may share subtrees (a DAG): a shared node is computed once
 * per element by every printer.
 *
 * float32 semantics: every operator whose exact result may not be a float32 is rounded to
 * float32 (`Math.fround` in JavaScript, float32 lanes in WebAssembly), so a float32 result is the
 * same whatever the backend, the fusion setting or the tensor size. + − × ÷ and √ rounded from
 * float64 equal the float32 operation exactly (float64 has more than twice float32's precision).
 */
export type Expr =
  | { readonly kind: 'input'; readonly index: number }
  | { readonly kind: 'constant'; readonly value: number }
  | { readonly kind: 'apply'; readonly operator: OperatorName; readonly args: readonly Expr[] };

export type OperatorName =
  | 'neg' | 'abs' | 'sqrt' | 'exp' | 'log' | 'sin' | 'cos' | 'tanh'
  | 'add' | 'sub' | 'mul' | 'div' | 'pow'
  | 'lt' | 'le' | 'gt' | 'ge' | 'eq' | 'ne'
  | 'select';

/** WebAssembly instructions for an operator: over 16-byte vectors and over single values. */
export interface WasmInstructions {
  vector: number[];
  scalar: number[];
}

export interface OperatorInfo {
  arity: number;
  /** JavaScript for the operator applied to its arguments' code (names or literals). */
  js(args: readonly string[]): string;
  /** The value in float64 arithmetic (the interpreter). */
  evaluate(args: readonly number[]): number;
  /** Whether the exact result can fall between float32 values (then float32 work rounds it). */
  rounds: boolean;
  /** Cheaper to compute again than to store and read back (a pending result of cheap operators is inlined by every consumer). */
  cheap: boolean;
  /**
   * WebAssembly SIMD instructions per dtype, where the operator has them. Comparisons give a lane
   * mask (vectors) or an i32 (single values); `select` is assembled by the printer.
   */
  wasm?: Record<FloatDType, WasmInstructions>;
}

const comparison = (symbol: string, test: (a: number, b: number) => boolean, f32: number, f64: number, f32Scalar: number, f64Scalar: number): OperatorInfo => ({
  arity: 2,
  js: ([a, b]) => `(${a} ${symbol} ${b} ? 1 : 0)`,
  evaluate: ([a, b]) => (test(a!, b!) ? 1 : 0),
  rounds: false,
  cheap: true,
  wasm: { float32: { vector: simd(f32), scalar: [f32Scalar] }, float64: { vector: simd(f64), scalar: [f64Scalar] } },
});

const arithmetic = (
  arity: number, js: OperatorInfo['js'], evaluate: OperatorInfo['evaluate'], rounds: boolean, cheap: boolean,
  opcodes?: { f32x4: number; f64x2: number; f32: number; f64: number },
): OperatorInfo => ({
  arity, js, evaluate, rounds, cheap,
  ...(opcodes && {
    wasm: {
      float32: { vector: simd(opcodes.f32x4), scalar: [opcodes.f32] },
      float64: { vector: simd(opcodes.f64x2), scalar: [opcodes.f64] },
    },
  }),
});

const call = (name: string) => (args: readonly string[]) => `Math.${name}(${args.join(', ')})`;

/** The one operator table: arity, JavaScript, interpreter, float32 rounding, cost and WebAssembly instructions. */
export const operators: Record<OperatorName, OperatorInfo> = {
  neg: arithmetic(1, ([a]) => `(-${a})`, ([a]) => -a!, false, true, { f32x4: 0xe1, f64x2: 0xed, f32: 0x8c, f64: 0x9a }),
  abs: arithmetic(1, call('abs'), ([a]) => Math.abs(a!), false, true, { f32x4: 0xe0, f64x2: 0xec, f32: 0x8b, f64: 0x99 }),
  sqrt: arithmetic(1, call('sqrt'), ([a]) => Math.sqrt(a!), true, false, { f32x4: 0xe3, f64x2: 0xef, f32: 0x91, f64: 0x9f }),
  exp: arithmetic(1, call('exp'), ([a]) => Math.exp(a!), true, false),
  log: arithmetic(1, call('log'), ([a]) => Math.log(a!), true, false),
  sin: arithmetic(1, call('sin'), ([a]) => Math.sin(a!), true, false),
  cos: arithmetic(1, call('cos'), ([a]) => Math.cos(a!), true, false),
  tanh: arithmetic(1, call('tanh'), ([a]) => Math.tanh(a!), true, false),
  add: arithmetic(2, ([a, b]) => `(${a} + ${b})`, ([a, b]) => a! + b!, true, true, { f32x4: 0xe4, f64x2: 0xf0, f32: 0x92, f64: 0xa0 }),
  sub: arithmetic(2, ([a, b]) => `(${a} - ${b})`, ([a, b]) => a! - b!, true, true, { f32x4: 0xe5, f64x2: 0xf1, f32: 0x93, f64: 0xa1 }),
  mul: arithmetic(2, ([a, b]) => `(${a} * ${b})`, ([a, b]) => a! * b!, true, true, { f32x4: 0xe6, f64x2: 0xf2, f32: 0x94, f64: 0xa2 }),
  div: arithmetic(2, ([a, b]) => `(${a} / ${b})`, ([a, b]) => a! / b!, true, true, { f32x4: 0xe7, f64x2: 0xf3, f32: 0x95, f64: 0xa3 }),
  pow: arithmetic(2, call('pow'), ([a, b]) => Math.pow(a!, b!), true, false),
  eq: comparison('===', (a, b) => a === b, 0x41, 0x47, 0x5b, 0x61),
  ne: comparison('!==', (a, b) => a !== b, 0x42, 0x48, 0x5c, 0x62),
  lt: comparison('<', (a, b) => a < b, 0x43, 0x49, 0x5d, 0x63),
  gt: comparison('>', (a, b) => a > b, 0x44, 0x4a, 0x5e, 0x64),
  le: comparison('<=', (a, b) => a <= b, 0x45, 0x4b, 0x5f, 0x65),
  ge: comparison('>=', (a, b) => a >= b, 0x46, 0x4c, 0x60, 0x66),
  select: {
    arity: 3,
    js: ([condition, whenTrue, whenFalse]) => `(${condition} !== 0 ? ${whenTrue} : ${whenFalse})`,
    evaluate: ([condition, whenTrue, whenFalse]) => (condition !== 0 ? whenTrue! : whenFalse!),
    rounds: false,
    cheap: true,
  },
};

export const comparisonOperators: readonly OperatorName[] = ['eq', 'ne', 'lt', 'gt', 'le', 'ge'];

// ---- constructors -------------------------------------------------------------------------

export type ExprLike = Expr | number;

const lift = (value: ExprLike): Expr => (typeof value === 'number' ? { kind: 'constant', value } : value);
const apply = (operator: OperatorName, ...args: ExprLike[]): Expr => ({ kind: 'apply', operator, args: args.map(lift) });

/** Tree constructors: `E.mul(E.input(0), E.input(1))`; numbers are constants. */
export const E = {
  input: (index: number): Expr => ({ kind: 'input', index }),
  constant: (value: number): Expr => ({ kind: 'constant', value }),
  neg: (a: ExprLike) => apply('neg', a),
  abs: (a: ExprLike) => apply('abs', a),
  sqrt: (a: ExprLike) => apply('sqrt', a),
  exp: (a: ExprLike) => apply('exp', a),
  log: (a: ExprLike) => apply('log', a),
  sin: (a: ExprLike) => apply('sin', a),
  cos: (a: ExprLike) => apply('cos', a),
  tanh: (a: ExprLike) => apply('tanh', a),
  add: (a: ExprLike, b: ExprLike) => apply('add', a, b),
  sub: (a: ExprLike, b: ExprLike) => apply('sub', a, b),
  mul: (a: ExprLike, b: ExprLike) => apply('mul', a, b),
  div: (a: ExprLike, b: ExprLike) => apply('div', a, b),
  pow: (a: ExprLike, b: ExprLike) => apply('pow', a, b),
  eq: (a: ExprLike, b: ExprLike) => apply('eq', a, b),
  ne: (a: ExprLike, b: ExprLike) => apply('ne', a, b),
  lt: (a: ExprLike, b: ExprLike) => apply('lt', a, b),
  le: (a: ExprLike, b: ExprLike) => apply('le', a, b),
  gt: (a: ExprLike, b: ExprLike) => apply('gt', a, b),
  ge: (a: ExprLike, b: ExprLike) => apply('ge', a, b),
  /** condition ≠ 0 ? whenTrue : whenFalse (NaN counts as true, as in JavaScript's `!== 0`). */
  select: (condition: ExprLike, whenTrue: ExprLike, whenFalse: ExprLike) => apply('select', condition, whenTrue, whenFalse),
};

// ---- walking ------------------------------------------------------------------------------

/** The distinct operator nodes of a tree, each after its arguments, and how often each node is used. */
export interface Schedule {
  nodes: readonly Extract<Expr, { kind: 'apply' }>[];
  uses: ReadonlyMap<Expr, number>;
}

const schedules = new WeakMap<Expr, Schedule>();

/** The schedule of a tree (trees never change, so it is computed once per tree). */
export function schedule(root: Expr): Schedule {
  let found = schedules.get(root);
  if (found === undefined) {
    found = scheduleOf(root);
    schedules.set(root, found);
  }
  return found;
}

function scheduleOf(root: Expr): Schedule {
  const nodes: Extract<Expr, { kind: 'apply' }>[] = [];
  const uses = new Map<Expr, number>([[root, 1]]);
  const stack: { node: Expr; expanded: boolean }[] = [{ node: root, expanded: false }];
  const seen = new Set<Expr>();
  while (stack.length > 0) {
    const entry = stack.pop()!;
    const { node } = entry;
    if (node.kind !== 'apply') continue;
    if (entry.expanded) {
      nodes.push(node);
      continue;
    }
    if (seen.has(node)) continue;
    seen.add(node);
    stack.push({ node, expanded: true });
    for (let k = node.args.length - 1; k >= 0; k--) {
      const arg = node.args[k]!;
      uses.set(arg, (uses.get(arg) ?? 0) + 1);
      if (!seen.has(arg)) stack.push({ node: arg, expanded: false });
    }
  }
  return { nodes, uses };
}

/**
 * The schedule the printers compute: structurally equal operator nodes (the same operator on the
 * same arguments, e.g. one pending result inlined by two consumers) merged into one, computed
 * once per element. `canonical` maps every node of the tree to the node that stands for it.
 * Computing an operator once or twice on the same values gives the same value, so the merge never
 * changes a result.
 */
export interface PrintSchedule extends Schedule {
  canonical(node: Expr): Expr;
}

const printSchedules = new WeakMap<Expr, PrintSchedule>();

export function printSchedule(root: Expr): PrintSchedule {
  let found = printSchedules.get(root);
  if (found === undefined) {
    found = printScheduleOf(root);
    printSchedules.set(root, found);
  }
  return found;
}

function printScheduleOf(root: Expr): PrintSchedule {
  const representative = new Map<Expr, Expr>();
  const byKey = new Map<string, Extract<Expr, { kind: 'apply' }>>();
  const ids = new Map<Expr, number>();
  const canonical = (node: Expr): Expr => representative.get(node) ?? node;
  const argumentKey = (node: Expr): string =>
    node.kind === 'input' ? `i${node.index}` : node.kind === 'constant' ? `c${constantKey(node.value)}` : `t${ids.get(canonical(node))}`;
  const nodes: Extract<Expr, { kind: 'apply' }>[] = [];
  for (const node of schedule(root).nodes) {
    const key = `${node.operator}(${node.args.map(argumentKey).join(',')})`;
    const known = byKey.get(key);
    if (known !== undefined) {
      representative.set(node, known);
      continue;
    }
    byKey.set(key, node);
    ids.set(node, nodes.length);
    nodes.push(node);
  }
  const uses = new Map<Expr, number>([[canonical(root), 1]]);
  for (const node of nodes) for (const arg of node.args) uses.set(canonical(arg), (uses.get(canonical(arg)) ?? 0) + 1);
  return { nodes, uses, canonical };
}

/** How many distinct operator nodes the tree has (what limits fusion). */
export const nodeCount = (root: Expr): number => schedule(root).nodes.length;

/** The highest input index the tree reads, plus one. */
export function inputCount(root: Expr): number {
  let count = 0;
  const seen = new Set<Expr>();
  const stack = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (seen.has(node)) continue;
    seen.add(node);
    if (node.kind === 'input') count = Math.max(count, node.index + 1);
    else if (node.kind === 'apply') stack.push(...node.args);
  }
  return count;
}

/** Whether every operator of the tree is cheap to recompute. */
export const isCheap = (root: Expr): boolean => schedule(root).nodes.every((node) => operators[node.operator].cheap);

/** Whether every operator of the tree has WebAssembly instructions (select and comparisons included). */
export const hasWasm = (root: Expr): boolean =>
  schedule(root).nodes.every((node) => node.operator === 'select' || operators[node.operator].wasm !== undefined);

/** The tree with input k replaced by `replacements[k]`, sharing preserved. */
export function substitute(root: Expr, replacements: readonly Expr[]): Expr {
  const memo = new Map<Expr, Expr>();
  const rebuild = (node: Expr): Expr => {
    const known = memo.get(node);
    if (known) return known;
    let result: Expr;
    if (node.kind === 'input') {
      result = replacements[node.index]!;
      if (result === undefined) throw new Error(`substitute: no replacement for input ${node.index}`);
    } else if (node.kind === 'constant') {
      result = node;
    } else {
      result = { kind: 'apply', operator: node.operator, args: node.args.map(rebuild) };
    }
    memo.set(node, result);
    return result;
  };
  // deep chains: rebuild in schedule order so recursion depth stays at one level
  for (const node of schedule(root).nodes) rebuild(node);
  return rebuild(root);
}

const constantKey = (value: number): string => (Object.is(value, -0) ? '-0' : String(value));

const keys = new WeakMap<Expr, string>();

/** A structural key: equal for trees of the same structure and sharing (the kernel caches' key); computed once per tree. */
export function structuralKey(root: Expr): string {
  let key = keys.get(root);
  if (key === undefined) {
    key = keyOf(root);
    keys.set(root, key);
  }
  return key;
}

function keyOf(root: Expr): string {
  if (root.kind === 'input') return `i${root.index}`;
  if (root.kind === 'constant') return `c${constantKey(root.value)}`;
  const { nodes } = schedule(root);
  const ids = new Map<Expr, number>(nodes.map((node, id) => [node, id]));
  const argument = (node: Expr): string =>
    node.kind === 'input' ? `i${node.index}` : node.kind === 'constant' ? `c${constantKey(node.value)}` : `t${ids.get(node)}`;
  return nodes.map((node) => `${node.operator}(${node.args.map(argument).join(',')})`).join(';');
}

// ---- printing and evaluating ----------------------------------------------------------------

/** A constant as a JavaScript literal, rounded to float32 for float32 work. */
export function jsLiteral(value: number, dtype: DType): string {
  const v = dtype === 'float32' ? Math.fround(value) : value;
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '(-Infinity)';
  if (Object.is(v, -0)) return '(-0)';
  return v < 0 ? `(${String(v)})` : String(v);
}

/**
 * JavaScript statements computing the tree for one element, with the inputs' element values in
 * `$0`, `$1`, …: `{ statements, result }`, where result is a name or literal. Every operator node
 * of the print schedule gets a `const` named `${prefix}k`, so shared and repeated nodes are
 * computed once.
 */
export function printJs(root: Expr, dtype: DType, prefix = 't'): { statements: string; result: string } {
  const names = new Map<Expr, string>();
  const { nodes, canonical } = printSchedule(root);
  const code = (node: Expr): string =>
    node.kind === 'input' ? `$${node.index}` : node.kind === 'constant' ? jsLiteral(node.value, dtype) : names.get(canonical(node))!;
  const lines = nodes.map((node, k) => {
    const info = operators[node.operator];
    const value = info.js(node.args.map(code));
    const name = `${prefix}${k}`;
    names.set(node, name);
    return `const ${name} = ${dtype === 'float32' && info.rounds ? `Math.fround(${value})` : value};`;
  });
  return { statements: lines.join(' '), result: code(root) };
}

/**
 * The tree's value for one element (the tests' oracle): float32 work rounds every operator's
 * result, independently of the table's `rounds` (which only spares the printers exact roundings).
 */
export function evaluate(root: Expr, inputs: readonly number[], dtype: DType): number {
  const round = dtype === 'float32' ? Math.fround : (value: number) => value;
  const values = new Map<Expr, number>();
  const value = (node: Expr): number =>
    node.kind === 'input' ? round(inputs[node.index]!) : node.kind === 'constant' ? round(node.value) : values.get(node)!;
  for (const node of schedule(root).nodes) {
    const result = operators[node.operator].evaluate(node.args.map(value));
    values.set(node, round(result));
  }
  return value(root);
}
