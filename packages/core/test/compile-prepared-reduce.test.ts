/**
 * compile's prepared fused reductions: a replayed reduction of a pending elementwise result
 * resolves its kernel, walk and WebAssembly staging once and then only runs over the arrays its
 * views hold at that moment. It equals `reduceExpression` bit for bit on any layout (either
 * backend, both dtypes), and follows values that moved to other arrays between calls.
 */
import fc from 'fast-check';
import ndarray from 'ndarray';
import { describe, expect, it } from 'vitest';
import { compile, tensor, valueAndGrad, withSettings, type DType, type Tensor } from '@normgrad/core';
import { E, type Expr } from '../src/kernels/expr.js';
import { combinePreparedReductions, prepareReduceExpression, preparedReductionRows, reduceExpression, type ReductionKind } from '../src/kernels/reduce.js';
import type { FloatNdArray } from '../src/kernels/layout.js';
import { firstDifference, makeView, moveAll, seeded, type Backend, type Layout } from './prepared-steps.js';

/** Trees over inputs 0…2 that both backends run (arithmetic, square root, selection) or only JavaScript (tanh). */
const trees: ((a: Expr, b: Expr, c: Expr) => Expr)[] = [
  (a) => a,
  (a, b) => E.add(E.mul(a, b), 0.5),
  (a, b, c) => E.div(E.sub(a, c), E.add(E.abs(b), 1)),
  (a, b, c) => E.select(E.gt(a, b), E.sqrt(E.abs(c)), E.mul(a, c)),
  (a, b) => E.mul(E.tanh(a), b),
];

/** The trace's array for a reduction's result: a contiguous one of the kept axes. */
function outputFor(shape: readonly number[], axes: readonly number[], dtype: DType): FloatNdArray {
  const kept = shape.filter((_, axis) => !axes.includes(axis));
  const size = kept.reduce((product, extent) => product * extent, 1);
  return ndarray(dtype === 'float64' ? new Float64Array(size) : new Float32Array(size), kept) as FloatNdArray;
}

describe('prepareReduceExpression', () => {
  const caseArbitrary = fc.record({
    tree: fc.nat(trees.length - 1),
    shape: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 0, maxLength: 3 }),
    reduced: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
    layouts: fc.array(fc.constantFrom<Layout>('contiguous', 'transposed', 'offset', 'broadcast', 'middleBroadcast'), { minLength: 3, maxLength: 3 }),
    shareFirst: fc.boolean(),
    dtype: fc.constantFrom<DType>('float32', 'float64'),
    float64Result: fc.boolean(),
    kind: fc.constantFrom<ReductionKind>('sum', 'sum', 'max'),
    backend: fc.constantFrom<Backend>('js', 'wasm'),
    seed: fc.nat(),
  });

  it('equals reduceExpression bit for bit, and after every array moved, equals it over the new arrays', () => {
    fc.assert(
      fc.property(caseArbitrary, ({ tree, shape, reduced, layouts, shareFirst, dtype, float64Result, kind, backend, seed }) => withSettings({ elementwiseBackend: backend }, () => {
        const random = seeded(seed);
        const expression = trees[tree]!(E.input(0), E.input(1), E.input(2));
        const inputs = layouts.map((layout) => makeView(shape, layout, dtype, random));
        // two operands that view one array (x·x reads x once)
        if (shareFirst) inputs[1] = ndarray(inputs[0]!.data, inputs[0]!.shape.slice(), inputs[0]!.stride.slice(), inputs[0]!.offset) as FloatNdArray;
        const axes = shape.map((_, axis) => axis).filter((axis) => reduced[axis]);
        const resultDtype = kind === 'sum' && float64Result ? 'float64' : dtype;
        const out = outputFor(shape, axes, resultDtype);
        const step = prepareReduceExpression(expression, inputs, axes, kind, dtype, out);
        expect(step).not.toBeNull();
        for (let call = 0; call < 3; call++) {
          if (call > 0) moveAll(inputs, out, random);
          step!();
          const expected = reduceExpression(expression, inputs, axes, kind, dtype, resultDtype).data;
          expect(firstDifference(out.data, expected)).toBe(-1);
        }
      })),
      { seed: 18, numRuns: 150 },
    );
  });

  it('stages WebAssembly sums in several chunks as reduceExpression does, and follows moved arrays, float32 and float64', () => {
    const random = seeded(5);
    const cases: [number[], Layout[], number[]][] = [
      [[300, 600], ['contiguous', 'broadcast', 'offset'], [1]],
      [[300, 600], ['transposed', 'contiguous', 'broadcast'], [0]],
      [[300, 600], ['contiguous', 'broadcast', 'transposed'], [0, 1]],
      [[140_000], ['offset', 'contiguous', 'contiguous'], [0]],
      [[4, 30, 2000], ['contiguous', 'broadcast', 'offset'], [0, 2]],
      // short rows on two outer axes, in several chunks: the kernels' rows function
      [[2000, 4, 50], ['contiguous', 'middleBroadcast', 'offset'], [1]],
      [[2000, 4, 50], ['middleBroadcast', 'contiguous', 'offset'], [0]],
      [[2000, 4, 50], ['contiguous', 'middleBroadcast', 'offset'], [2]],
    ];
    for (const dtype of ['float32', 'float64'] as const) {
      for (const [shape, layouts, axes] of cases) {
        withSettings({ elementwiseBackend: 'wasm' }, () => {
          const inputs = layouts.map((layout) => makeView(shape, layout, dtype, random));
          const expression = trees[2]!(E.input(0), E.input(1), E.input(2));
          const out = outputFor(shape, axes, dtype);
          const step = prepareReduceExpression(expression, inputs, axes, 'sum', dtype, out)!;
          for (let call = 0; call < 2; call++) {
            if (call > 0) moveAll(inputs, out, random);
            step();
            expect(firstDifference(out.data, reduceExpression(expression, inputs, axes, 'sum', dtype).data)).toBe(-1);
          }
        });
      }
    }
  });

  it('operands that viewed one array and no longer do are read from their own arrays', () => {
    for (const backend of ['js', 'wasm'] as const) {
      withSettings({ elementwiseBackend: backend }, () => {
        const x = ndarray(Float64Array.of(1, 2, 3, 4), [4]) as FloatNdArray;
        const alsoX = ndarray(x.data, [4]) as FloatNdArray;
        const out = ndarray(new Float64Array(1), []) as FloatNdArray;
        const step = prepareReduceExpression(E.sub(E.input(0), E.mul(E.input(1), 2)), [x, alsoX], [0], 'sum', 'float64', out)!;
        step();
        expect(out.data[0]).toBe(-10);
        alsoX.data = Float64Array.of(10, 20, 30, 40);
        step();
        expect(out.data[0]).toBe(10 - 200);
      });
    }
  });

  it('writes into the array its output views at each call, leaving the one it wrote before as it was', () => {
    for (const backend of ['js', 'wasm'] as const) {
      withSettings({ elementwiseBackend: backend }, () => {
        const input = ndarray(Float32Array.of(1, 2, 3, 4, 5, 6), [2, 3]) as FloatNdArray;
        const out = ndarray(new Float32Array(2), [2]) as FloatNdArray;
        const step = prepareReduceExpression(E.mul(E.input(0), 2), [input], [1], 'sum', 'float32', out)!;
        step();
        const first = out.data;
        expect(Array.from(first)).toEqual([12, 30]);
        input.data = Float32Array.of(10, 20, 30, 40, 50, 60);
        out.data = new Float32Array(2);
        step();
        expect(Array.from(out.data)).toEqual([120, 300]);
        expect(Array.from(first)).toEqual([12, 30]);
      });
    }
  });

  it('is null for an output that is not one whole contiguous array of the result', () => {
    const input = ndarray(Float64Array.of(1, 2, 3, 4, 5, 6), [2, 3]) as FloatNdArray;
    const atOffset = ndarray(new Float64Array(3), [2], [1], 1) as FloatNdArray;
    expect(prepareReduceExpression(E.input(0), [input], [1], 'sum', 'float64', atOffset)).toBeNull();
  });
});

describe('combinePreparedReductions', () => {
  const caseArbitrary = fc.record({
    trees: fc.array(fc.nat(trees.length - 2), { minLength: 2, maxLength: 4 }),
    kinds: fc.array(fc.constantFrom<ReductionKind>('sum', 'sum', 'max'), { minLength: 4, maxLength: 4 }),
    shape: fc.constantFrom([300, 600], [6, 50, 40], [140_000], [4, 30, 2000], [64, 9]),
    axesPick: fc.nat(),
    layouts: fc.array(fc.constantFrom<Layout>('contiguous', 'contiguous', 'offset', 'broadcast', 'middleBroadcast'), { minLength: 3, maxLength: 3 }),
    dtype: fc.constantFrom<DType>('float32', 'float64'),
    seed: fc.nat(),
  });

  it('runs WebAssembly reductions over the same rows as one step, each result bit for bit its own, and after every array moved', () => {
    let combinedCases = 0;
    fc.assert(
      fc.property(caseArbitrary, ({ trees: chosen, kinds, shape, axesPick, layouts, dtype, seed }) => withSettings({ elementwiseBackend: 'wasm' }, () => {
        const random = seeded(seed);
        const choices = shape.length === 1 ? [[0]] : shape.length === 2 ? [[1], [0], [0, 1]] : [[2], [0, 2], [1, 2], [0]];
        const axes = choices[axesPick % choices.length]!;
        // one array (operand 0) that every reduction reads, and operands of their own
        const shared = makeView(shape, layouts[0]!, dtype, random);
        const reductions = chosen.map((tree, k) => {
          const kind = kinds[k]!;
          const inputs = [shared, makeView(shape, layouts[1]!, dtype, random), makeView(shape, layouts[2]!, dtype, random)];
          const expression = trees[tree]!(E.input(0), E.input(1), E.input(2));
          const out = outputFor(shape, axes, dtype);
          return { kind, inputs, expression, out, step: prepareReduceExpression(expression, inputs, axes, kind, dtype, out)! };
        });
        // a maximum along the row runs in JavaScript, and layouts may merge axes differently: those do not combine
        const rows = reductions.map(({ step }) => preparedReductionRows(step));
        const sameRows = rows.every((key) => key !== null && key === rows[0]);
        const combined = combinePreparedReductions(reductions.map(({ step }) => step));
        expect(combined !== null).toBe(sameRows);
        if (combined === null) return;
        combinedCases++;
        for (let call = 0; call < 3; call++) {
          if (call > 0) {
            const moved = reductions.flatMap(({ inputs }) => inputs);
            for (const { out } of reductions) moveAll(moved, out, random);
          }
          combined!();
          for (const { kind, inputs, expression, out } of reductions) {
            expect(firstDifference(out.data, reduceExpression(expression, inputs, axes, kind, dtype).data)).toBe(-1);
          }
        }
      })),
      { seed: 41, numRuns: 40 },
    );
    expect(combinedCases).toBeGreaterThan(10);
  });

  it('combines sums along and across the rows of one array; is null for steps that are not WebAssembly reductions, or that sum other rows', () => {
    withSettings({ elementwiseBackend: 'wasm' }, () => {
      const random = seeded(3);
      const x = makeView([300, 600], 'contiguous', 'float64', random);
      const [rowSums, columnSums] = [outputFor([300, 600], [1], 'float64'), outputFor([300, 600], [0], 'float64')];
      const byRow = prepareReduceExpression(E.input(0), [x], [1], 'sum', 'float64', rowSums)!;
      const byColumn = prepareReduceExpression(E.mul(E.input(0), 3), [x], [0], 'sum', 'float64', columnSums)!;
      const both = combinePreparedReductions([byRow, byColumn])!;
      both();
      expect(firstDifference(rowSums.data, reduceExpression(E.input(0), [x], [1], 'sum', 'float64').data)).toBe(-1);
      expect(firstDifference(columnSums.data, reduceExpression(E.mul(E.input(0), 3), [x], [0], 'sum', 'float64').data)).toBe(-1);
      const y = makeView([600, 300], 'contiguous', 'float64', random);
      const otherRows = prepareReduceExpression(E.input(0), [y], [1], 'sum', 'float64', outputFor([600, 300], [1], 'float64'))!;
      expect(preparedReductionRows(byRow)).not.toBe(preparedReductionRows(otherRows));
      expect(combinePreparedReductions([byRow, otherRows])).toBeNull();
      expect(combinePreparedReductions([byRow, () => {}])).toBeNull();
      expect(combinePreparedReductions([byRow])).toBeNull();
    });
    withSettings({ elementwiseBackend: 'js' }, () => {
      const x = makeView([300, 600], 'contiguous', 'float64', seeded(4));
      const inJs = prepareReduceExpression(E.input(0), [x], [1], 'sum', 'float64', outputFor([300, 600], [1], 'float64'))!;
      expect(preparedReductionRows(inJs)).toBeNull();
    });
  });
});

describe('compile: fused reductions follow moved values', () => {
  /** Per-row and whole sums and per-row maxima of elementwise results (each reduced straight from its operands), and their gradients. */
  const normLike = (x: Tensor, a: Tensor, b: Tensor): Tensor => {
    const h = x.mul(a).add(b);
    const centred = h.sub(h.sum([1], true).div(h.shape[1]!));
    return centred.mul(centred).sum([1]).add(h.tanh().sum([0]).sum()).add(h.mul(2).max(1)).sum();
  };
  const lossAndGradient = valueAndGrad(normLike, { argnums: [0, 1, 2] });
  const step = (x: Tensor, a: Tensor, b: Tensor): Tensor[] => {
    const [loss, gradients] = lossAndGradient(x, a, b);
    return [loss, ...gradients];
  };

  for (const [dtype, backend, rows, columns] of [['float32', 'js', 7, 400], ['float64', 'js', 7, 400], ['float32', 'wasm', 7, 400], ['float64', 'auto', 7, 400]] as const) {
    it(`every call reads its own arguments and keeps earlier results, ${dtype}, ${backend} loops over ${rows}×${columns}`, () => {
      withSettings({ elementwiseBackend: backend }, () => {
        const compiled = compile(step);
        const random = seeded(rows * columns + dtype.length);
        const values = (length: number, low: number, span: number) => Array.from({ length }, () => low + random() * span);
        const argumentsOf = () => [
          tensor(values(rows * columns, -1, 2), { dtype }).reshape([rows, columns]),
          tensor(values(columns, 0.8, 0.4), { dtype }),
          tensor(values(columns, 0, 0.2), { dtype }),
        ];
        const calls = Array.from({ length: 4 }, argumentsOf);
        const results = calls.map((args) => compiled(args[0]!, args[1]!, args[2]!));
        calls.forEach((args, call) => {
          const eager = step(args[0]!, args[1]!, args[2]!);
          results[call]!.forEach((result, k) => expect(firstDifference(result.toTypedArray(), eager[k]!.toTypedArray())).toBe(-1));
        });
      });
    });
  }
});

describe('compile: reductions of computed arrays follow moved values', () => {
  // the sums and maxima read a matrix product's result (an array, not a fused input): Trace.forward's prepared step
  const reduced = (a: Tensor, b: Tensor): Tensor[] => {
    const product = a.matmul(b);
    return [product.sum([0]), product.sum([1], true), product.max(0), product.sum()];
  };

  for (const [dtype, backend] of [['float32', 'js'], ['float64', 'js'], ['float32', 'wasm'], ['float64', 'auto']] as const) {
    it(`every call reads its own arguments and keeps earlier results, ${dtype}, ${backend} loops`, () => {
      withSettings({ elementwiseBackend: backend }, () => {
        const compiled = compile(reduced);
        const random = seeded(97 + dtype.length);
        const values = (length: number) => Array.from({ length }, () => random() * 2 - 1);
        const calls = Array.from({ length: 4 }, () => [
          tensor(values(60 * 50), { dtype }).reshape([60, 50]),
          tensor(values(50 * 70), { dtype }).reshape([50, 70]),
        ]);
        const results = calls.map((args) => compiled(args[0]!, args[1]!));
        calls.forEach((args, call) => {
          const eager = reduced(args[0]!, args[1]!);
          results[call]!.forEach((result, k) => expect(firstDifference(result.toTypedArray(), eager[k]!.toTypedArray())).toBe(-1));
        });
      });
    });
  }
});
