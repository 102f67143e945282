/**
 * The expression tree (kernels/expr.ts) is the one representation of elementwise work: the
 * JavaScript printer, the WebAssembly kernels and the interpreter agree bit for bit on random
 * trees, in float64 and float32, with NaN, ±0 and ±∞ among the inputs; maps and sums.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { withSettings, type DType } from '@normgrad/core';
import { E, evaluate, hasWasm, nodeCount, operators, printJs, printSchedule, schedule, structuralKey, substitute, type Expr, type OperatorName } from '../src/kernels/expr.js';
import { mapElementwise } from '../src/kernels/elementwise.js';
import { reduceExpression } from '../src/kernels/reduce.js';
import { createNd } from '../src/kernels/layout.js';

const allOperators = Object.keys(operators) as OperatorName[];
const wasmOperators = allOperators.filter((name) => name === 'select' || operators[name].wasm !== undefined);
const INPUTS = 3;
const special = [NaN, 0, -0, Infinity, -Infinity, 1, -1, 0.5, 2, 3, 1e-30, 1e30, 1e-40, -7.25];

/** Random trees of depth ≤ 6 over the given operators, sometimes sharing a subtree. */
function treeArbitrary(names: readonly OperatorName[]): fc.Arbitrary<Expr> {
  const leaf: fc.Arbitrary<Expr> = fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 0, max: INPUTS - 1 }).map((index) => E.input(index)) },
    { weight: 1, arbitrary: fc.oneof(fc.constantFrom(...special), fc.integer({ min: -40, max: 40 }).map((k) => k / 7)).map((value) => E.constant(value)) },
  );
  // arithmetic drawn four times as often as comparisons and selection, so values stay interesting
  const weighted = names.flatMap((name) => (operators[name].rounds || name === 'neg' || name === 'abs' ? [name, name, name, name] : [name]));
  // level d: a tree of depth ≤ d, mostly operators
  let level = leaf;
  for (let depth = 1; depth <= 6; depth++) {
    const below = level;
    level = fc.oneof(
      { weight: 1, arbitrary: leaf },
      {
        weight: 5,
        arbitrary: fc.tuple(fc.constantFrom(...weighted), below, below, below, fc.integer({ min: 0, max: 4 }).map((draw) => draw === 0)).map(([operator, a, b, c, share]): Expr => {
          // share: reuse the first argument as the second (a DAG)
          const args = [a, share ? a : b, c].slice(0, operators[operator].arity);
          return { kind: 'apply', operator, args };
        }),
      },
    );
  }
  return level;
}

const valuesArbitrary = (length: number) =>
  fc.array(
    fc.oneof({ weight: 1, arbitrary: fc.constantFrom(...special) }, { weight: 4, arbitrary: fc.double({ min: -100, max: 100, noNaN: true }) }, { weight: 1, arbitrary: fc.double() }),
    { minLength: length, maxLength: length },
  );

const LENGTH = 103; // not a multiple of the vector widths: tails run too

function arrays(values: number[][], dtype: DType): Float32Array[] | Float64Array[] {
  return values.map((column) => (dtype === 'float32' ? Float32Array.from(column) : Float64Array.from(column))) as Float32Array[] | Float64Array[];
}

function run(tree: Expr, inputs: (Float32Array | Float64Array)[], dtype: DType, backend: 'js' | 'wasm') {
  return withSettings({ elementwiseBackend: backend }, () => {
    const nds = inputs.map((data) => createNd(dtype, [data.length], data));
    const mapped = Float64Array.from(mapElementwise(tree, nds, dtype).data);
    const summed = reduceExpression(tree, nds, [0], 'sum', dtype).data[0]!;
    return { mapped, summed };
  });
}

const same = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

describe('expression trees: printers and interpreter agree bit for bit', () => {
  for (const dtype of ['float64', 'float32'] as DType[]) {
    for (const [family, names] of [['WebAssembly operators', wasmOperators], ['all operators', allOperators]] as const) {
      it(`${dtype}, ${family}: JavaScript loop, WebAssembly kernel and interpreter give the same maps and sums`, () => {
        fc.assert(
          fc.property(treeArbitrary(names), fc.tuple(valuesArbitrary(LENGTH), valuesArbitrary(LENGTH), valuesArbitrary(LENGTH)), (tree, columns) => {
            const inputs = arrays(columns, dtype);
            const expected = Array.from({ length: LENGTH }, (_, i) => evaluate(tree, inputs.map((input) => input[i]!), dtype));
            // the stored value: float32 storage rounds the interpreter's (already float32) value exactly
            const stored = Float64Array.from(dtype === 'float32' ? Float32Array.from(expected) : expected);
            const js = run(tree, inputs, dtype, 'js');
            const wasm = run(tree, inputs, dtype, 'wasm');
            for (let i = 0; i < LENGTH; i++) {
              expect(same(js.mapped[i]!, stored[i]!), `js element ${i}: ${js.mapped[i]} vs ${stored[i]} of ${structuralKey(tree)}`).toBe(true);
              expect(same(wasm.mapped[i]!, stored[i]!), `wasm element ${i}: ${wasm.mapped[i]} vs ${stored[i]} of ${structuralKey(tree)}`).toBe(true);
            }
            // the sum in its documented order: element i into total i mod 4, the tail into total 0, (t0 + t1) + (t2 + t3)
            const totals = [0, 0, 0, 0];
            let i = 0;
            for (; i + 3 < LENGTH; i += 4) for (let lane = 0; lane < 4; lane++) totals[lane]! += stored[i + lane]!;
            for (; i < LENGTH; i++) totals[0]! += stored[i]!;
            const total = (totals[0]! + totals[1]!) + (totals[2]! + totals[3]!);
            const sum = dtype === 'float32' ? Math.fround(total) : total;
            expect(same(js.summed, sum), `js sum ${js.summed} vs ${sum}`).toBe(true);
            expect(same(wasm.summed, sum), `wasm sum ${wasm.summed} vs ${sum}`).toBe(true);
          }),
          { seed: dtype === 'float64' ? 7 : 8, numRuns: 60 },
        );
      });
    }
  }
});

/** A copy of a tree made of new nodes (its own sharing kept): structurally equal, sharing nothing with it. */
function copyTree(tree: Expr, memo = new Map<Expr, Expr>()): Expr {
  const known = memo.get(tree);
  if (known) return known;
  const copy: Expr = tree.kind === 'apply' ? { kind: 'apply', operator: tree.operator, args: tree.args.map((arg) => copyTree(arg, memo)) } : { ...tree };
  memo.set(tree, copy);
  return copy;
}

describe('expression trees: repeated subtrees', () => {
  it('are computed once by the printers, with the interpreter\'s values (float32 and float64, both backends)', () => {
    fc.assert(
      fc.property(treeArbitrary(wasmOperators), fc.tuple(valuesArbitrary(LENGTH), valuesArbitrary(LENGTH), valuesArbitrary(LENGTH)), fc.constantFrom<DType>('float32', 'float64'), (inner, columns, dtype) => {
        // the same subtree twice, as separate nodes (as when two consumers inline one pending result)
        const tree = E.sub(E.mul(inner, E.input(1)), E.mul(copyTree(inner), E.input(1)));
        expect(printJs(tree, dtype).statements.split(';').filter((line) => line.trim() !== '')).toHaveLength(printSchedule(inner).nodes.length + 2);
        const inputs = arrays(columns, dtype);
        const expected = Array.from({ length: LENGTH }, (_, i) => evaluate(tree, inputs.map((input) => input[i]!), dtype));
        const stored = Float64Array.from(dtype === 'float32' ? Float32Array.from(expected) : expected);
        for (const backend of ['js', 'wasm'] as const) {
          const { mapped } = run(tree, inputs, dtype, backend);
          for (let i = 0; i < LENGTH; i++) expect(same(mapped[i]!, stored[i]!), `${backend} element ${i}: ${mapped[i]} vs ${stored[i]}`).toBe(true);
        }
      }),
      { seed: 9, numRuns: 40 },
    );
  });
});

describe('expression trees: structure', () => {
  it('prints shared nodes once and keys trees by structure and sharing', () => {
    const x = E.input(0);
    const shared = E.exp(x);
    const tree = E.add(shared, E.mul(shared, 2));
    expect(schedule(tree).nodes).toHaveLength(3);
    const { statements, result } = printJs(tree, 'float64');
    expect(statements.match(/Math\.exp/g)).toHaveLength(1);
    expect(result).toBe('t2');
    expect(printJs(tree, 'float32').statements).toContain('Math.fround(Math.exp($0))');
    const rebuilt = E.exp(E.input(0));
    expect(structuralKey(E.add(rebuilt, E.mul(rebuilt, 2)))).toBe(structuralKey(tree));
    expect(structuralKey(E.add(E.exp(x), E.mul(E.exp(x), 2)))).not.toBe(structuralKey(tree));
    expect(structuralKey(E.add(x, x))).toBe('add(i0,i0)');
    expect(structuralKey(E.constant(-0))).not.toBe(structuralKey(E.constant(0)));
    expect(hasWasm(E.add(x, 1))).toBe(true);
    expect(hasWasm(E.exp(x))).toBe(false);
  });

  it('substitutes inputs in linear time on deep chains', () => {
    let tree: Expr = E.input(0);
    for (let step = 0; step < 5000; step++) tree = E.mul(E.add(tree, E.input(1)), E.input(2));
    const start = performance.now();
    const replaced = substitute(tree, [E.input(2), E.input(0), E.input(1)]);
    expect(nodeCount(replaced)).toBe(10000);
    expect(structuralKey(replaced).length).toBeGreaterThan(10000);
    expect(performance.now() - start).toBeLessThan(1000);
  });
});
