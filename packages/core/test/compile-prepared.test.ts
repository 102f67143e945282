/**
 * compile's prepared steps: a replayed elementwise step resolves its loop, walk and operand
 * parameters once and then only runs the loop over the arrays its views hold at that moment. It
 * equals `mapElementwise` bit for bit on any layout (either backend), and follows a value that
 * moved to another array between calls (compile.ts points the views at the caller's arrays and
 * hands result arrays over).
 */
import fc from 'fast-check';
import ndarray from 'ndarray';
import { describe, expect, it } from 'vitest';
import { compile, elementwiseInto, tensor, valueAndGrad, withSettings, type DType, type Tensor } from '@normgrad/core';
import { E, type Expr } from '../src/kernels/expr.js';
import { mapElementwise, prepareElementwise } from '../src/kernels/elementwise.js';
import type { FloatNdArray } from '../src/kernels/layout.js';
import { firstDifference, makeView, moveAll, seeded, type Backend, type Layout } from './prepared-steps.js';

/** Trees over inputs 0…2 that both backends run (arithmetic, square root, selection) or only JavaScript (tanh). */
const trees: ((a: Expr, b: Expr, c: Expr) => Expr)[] = [
  (a) => E.neg(a),
  (a, b) => E.add(E.mul(a, b), 0.5),
  (a, b, c) => E.div(E.sub(a, c), E.add(E.abs(b), 1)),
  (a, b, c) => E.select(E.gt(a, b), E.sqrt(E.abs(c)), E.mul(a, c)),
  (a, b) => E.mul(E.tanh(a), b),
];

describe('prepareElementwise', () => {
  const caseArbitrary = fc.record({
    tree: fc.nat(trees.length - 1),
    shape: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 0, maxLength: 3 }),
    layouts: fc.array(fc.constantFrom<Layout>('contiguous', 'transposed', 'offset', 'broadcast', 'middleBroadcast'), { minLength: 3, maxLength: 3 }),
    shareFirst: fc.boolean(),
    dtype: fc.constantFrom<DType>('float32', 'float64'),
    backend: fc.constantFrom<Backend>('js', 'wasm'),
    seed: fc.nat(),
  });

  it('equals mapElementwise bit for bit, and after every array moved, equals it over the new arrays', () => {
    fc.assert(
      fc.property(caseArbitrary, ({ tree, shape, layouts, shareFirst, dtype, backend, seed }) => withSettings({ elementwiseBackend: backend }, () => {
        const random = seeded(seed);
        const expression = trees[tree]!(E.input(0), E.input(1), E.input(2));
        const inputs = layouts.map((layout) => makeView(shape, layout, dtype, random));
        // two operands that view one array (x·x reads x once)
        if (shareFirst) inputs[1] = ndarray(inputs[0]!.data, inputs[0]!.shape.slice(), inputs[0]!.stride.slice(), inputs[0]!.offset) as FloatNdArray;
        const size = shape.reduce((product, extent) => product * extent, 1);
        const out = ndarray(dtype === 'float64' ? new Float64Array(size) : new Float32Array(size), shape.slice()) as FloatNdArray;
        const step = prepareElementwise(expression, inputs, dtype, out);
        for (let call = 0; call < 3; call++) {
          if (call > 0) moveAll(inputs, out, random);
          step();
          const expected = mapElementwise(expression, inputs, dtype).data;
          expect(firstDifference(out.data, expected)).toBe(-1);
        }
      })),
      { seed: 18, numRuns: 120 },
    );
  });

  it('stages WebAssembly work in several chunks as mapElementwise does, and follows moved arrays, float32 and float64', () => {
    const random = seeded(5);
    for (const dtype of ['float32', 'float64'] as const) {
      for (const [shape, layouts] of [[[300, 600], ['contiguous', 'broadcast', 'offset']], [[140_000], ['offset', 'contiguous', 'contiguous']], [[2000, 4, 50], ['contiguous', 'middleBroadcast', 'offset']]] as const) {
        withSettings({ elementwiseBackend: 'wasm' }, () => {
          const inputs = layouts.map((layout) => makeView(shape, layout, dtype, random));
          const expression = trees[2]!(E.input(0), E.input(1), E.input(2));
          const size = shape.reduce((product: number, extent) => product * extent, 1);
          const out = ndarray(dtype === 'float64' ? new Float64Array(size) : new Float32Array(size), shape.slice()) as FloatNdArray;
          const step = prepareElementwise(expression, inputs, dtype, out);
          for (let call = 0; call < 2; call++) {
            if (call > 0) moveAll(inputs, out, random);
            step();
            expect(firstDifference(out.data, mapElementwise(expression, inputs, dtype).data)).toBe(-1);
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
        const out = ndarray(new Float64Array(4), [4]) as FloatNdArray;
        const step = prepareElementwise(E.sub(E.input(0), E.mul(E.input(1), 2)), [x, alsoX], 'float64', out);
        step();
        expect(Array.from(out.data)).toEqual([-1, -2, -3, -4]);
        alsoX.data = Float64Array.of(10, 20, 30, 40);
        step();
        expect(Array.from(out.data)).toEqual([-19, -38, -57, -76]);
      });
    }
  });

  it('writes into the array its output views at each call, leaving the one it wrote before as it was', () => {
    for (const backend of ['js', 'wasm'] as const) {
      withSettings({ elementwiseBackend: backend }, () => {
        const input = ndarray(Float32Array.of(1, 2, 3, 4), [4]) as FloatNdArray;
        const out = ndarray(new Float32Array(4), [4]) as FloatNdArray;
        const step = prepareElementwise(E.mul(E.input(0), 2), [input], 'float32', out);
        step();
        const first = out.data;
        expect(Array.from(first)).toEqual([2, 4, 6, 8]);
        input.data = Float32Array.of(10, 20, 30, 40);
        out.data = new Float32Array(4);
        step();
        expect(Array.from(out.data)).toEqual([20, 40, 60, 80]);
        expect(Array.from(first)).toEqual([2, 4, 6, 8]);
      });
    }
  });
});

describe('elementwiseInto (the optimizers\' write steps, replayed by compile)', () => {
  it('its one-row loop equals mapElementwise over the same inputs as views, bit for bit', () => {
    fc.assert(
      fc.property(
        fc.nat(trees.length - 1), fc.integer({ min: 1, max: 40 }), fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), fc.constantFrom<DType>('float32', 'float64'), fc.nat(),
        (tree, length, single, dtype, seed) => {
          const random = seeded(seed);
          const make = (n: number) => {
            const data = dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
            for (let i = 0; i < n; i++) data[i] = random() * 4 - 2;
            return data;
          };
          const inputs = single.map((one) => make(one ? 1 : length));
          const expression = trees[tree]!(E.input(0), E.input(1), E.input(2));
          const views = inputs.map((input) => ndarray(input, [length], [input.length === 1 ? 0 : 1], 0) as FloatNdArray);
          const expected = mapElementwise(expression, views, dtype).data;
          const output = make(length);
          withSettings({ elementwiseBackend: 'js' }, () => elementwiseInto(expression, inputs, output));
          expect(firstDifference(output, expected)).toBe(-1);
        },
      ),
      { seed: 7, numRuns: 100 },
    );
  });
});

describe('compile: prepared steps follow moved values', () => {
  /** W10's chain in small: blocks of mul, add, tanh, mul; its loss and gradients. */
  const chain = (x: Tensor, a: Tensor, b: Tensor): Tensor => {
    let h = x;
    for (let k = 0; k < 6; k++) h = h.mul(a).add(b).tanh().mul(a);
    return h.sum();
  };
  const lossAndGradient = valueAndGrad(chain, { argnums: [0, 1, 2] });
  const step = (x: Tensor, a: Tensor, b: Tensor): Tensor[] => {
    const [loss, gradients] = lossAndGradient(x, a, b);
    return [loss, ...gradients];
  };

  for (const [dtype, backend, length] of [['float32', 'js', 5], ['float64', 'js', 5], ['float32', 'wasm', 2100], ['float64', 'auto', 2100]] as const) {
    it(`every call reads its own arguments and keeps earlier results, ${dtype}, ${backend} loops over ${length} elements`, () => {
      withSettings({ elementwiseBackend: backend }, () => {
        const compiled = compile(step);
        const random = seeded(length + dtype.length);
        const argumentsOf = () => [0, 1, 2].map((k) => tensor(Array.from({ length }, () => (k === 0 ? random() * 2 - 1 : k === 1 ? 0.8 + random() * 0.4 : random() * 0.2)), { dtype }));
        const calls = Array.from({ length: 4 }, argumentsOf);
        // each call's arguments live in arrays of their own (a pure program reads them in place) and each call's results are handed over
        const results = calls.map((args) => compiled(args[0]!, args[1]!, args[2]!));
        calls.forEach((args, call) => {
          const eager = step(args[0]!, args[1]!, args[2]!);
          results[call]!.forEach((result, k) => expect(firstDifference(result.toTypedArray(), eager[k]!.toTypedArray())).toBe(-1));
        });
      });
    });
  }
});
