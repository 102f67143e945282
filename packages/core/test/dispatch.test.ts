import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as ng from '../src/index.js';
import type { DType, Tensor } from '../src/index.js';

/**
 * Eager dispatch shortcuts (composite/elementwise.ts binaryOperands, the backward pass's loops):
 * a binary op on two same-shaped tensors or on a float tensor and a number takes a shorter path
 * than the general broadcast walk; its values, gradients and errors are the general path's.
 */
type BinaryName = 'add' | 'sub' | 'mul' | 'div' | 'maximum' | 'pow';
const binaryNames: readonly BinaryName[] = ['add', 'sub', 'mul', 'div', 'maximum', 'pow'];

const shapeArbitrary = fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 3 });

/** Positive values, so that pow and div are defined everywhere. */
function positive(shape: readonly number[], dtype: DType, seed: number): Tensor {
  return ng.rand([...shape], { dtype, seed }).add(0.5);
}

/** The value and the gradients with respect to both operands of sum(op(a, b)·w). */
function valueAndGradients(name: BinaryName, a: Tensor, b: Tensor, w: Tensor): number[][] {
  const [value, [da, db]] = ng.valueAndGrad((x: Tensor, y: Tensor) => x[name](y).mul(w).sum(), { argnums: [0, 1] })(a, b);
  return [Array.from(value.toFloat64Array()), Array.from(da!.toFloat64Array()), Array.from(db!.toFloat64Array())];
}

describe('binary ops: the same-shape and number shortcuts equal the general broadcast path', () => {
  it('two tensors of one shape: values and gradients equal those with one operand given as a broadcast view', () => {
    fc.assert(
      fc.property(fc.constantFrom(...binaryNames), shapeArbitrary, fc.constantFrom<DType>('float32', 'float64'), fc.integer({ min: 1, max: 1000 }), (name, shape, dtype, seed) => {
        const a = positive(shape, dtype, seed);
        const b = positive(shape, dtype, seed + 1);
        const w = positive(shape, dtype, seed + 2);
        // b with a leading extent-1 axis reshaped away again: same values, but reached through broadcastTo
        const bLifted = (x: Tensor, y: Tensor): Tensor => x[name](y.reshape([1, ...shape])).reshape(shape);
        const [general, [dGeneralA, dGeneralB]] = ng.valueAndGrad((x: Tensor, y: Tensor) => bLifted(x, y).mul(w).sum(), { argnums: [0, 1] })(a, b);
        const [value, da, db] = valueAndGradients(name, a, b, w);
        expect(value).toEqual(Array.from(general.toFloat64Array()));
        expect(da).toEqual(Array.from(dGeneralA!.toFloat64Array()));
        expect(db).toEqual(Array.from(dGeneralB!.toFloat64Array()));
      }),
      { seed: 18, numRuns: 40 },
    );
  });

  it('a float tensor and a number, on either side: values and gradients equal those with the number as a full tensor', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...binaryNames),
        shapeArbitrary,
        fc.constantFrom<DType>('float32', 'float64'),
        fc.integer({ min: 1, max: 1000 }),
        fc.constantFrom(0.5, 1, 2, 3.25, 0.1),
        fc.boolean(),
        (name, shape, dtype, seed, c, numberFirst) => {
          const x = positive(shape, dtype, seed);
          const w = positive(shape, dtype, seed + 1);
          const constant = ng.full(shape, c, { dtype });
          const withNumber = (t: Tensor): Tensor => (numberFirst ? ng[name](c, t) : t[name](c)).mul(w).sum();
          const withTensor = (t: Tensor): Tensor => (numberFirst ? constant[name](t) : t[name](constant)).mul(w).sum();
          const [value, gradient] = ng.valueAndGrad(withNumber)(x);
          const [expectedValue, expectedGradient] = ng.valueAndGrad(withTensor)(x);
          expect(value.dtype).toBe(dtype);
          expect(Array.from(value.toFloat64Array())).toEqual(Array.from(expectedValue.toFloat64Array()));
          expect(Array.from(gradient.toFloat64Array())).toEqual(Array.from(expectedGradient.toFloat64Array()));
        },
      ),
      { seed: 18, numRuns: 60 },
    );
  });

  it('keeps the general path\'s errors', () => {
    const x32 = ng.tensor([1, 2, 3]);
    const x64 = ng.tensor([1, 2, 3], { dtype: 'float64' });
    const indices = ng.tensor([1, 2, 3], { dtype: 'int32' });
    expect(() => x32.add(x64)).toThrow(/^add: dtype mismatch: float32 \[3\] and float64 \[3\]/);
    expect(() => indices.div(indices)).toThrow(/^div: the operand is an int32 tensor of shape \[3\]; div needs float32 or float64/);
    expect(() => indices.add(0.5)).toThrow(/^add: the number 0.5 is not an integer, but the other operand is an int32 tensor of shape \[3\]/);
    expect(() => x32.add(ng.tensor([1, 2]))).toThrow(/^add: shapes \[3\] and \[2\] are not broadcast-compatible/);
    expect(() => x32.mul(undefined as unknown as number)).toThrow(/^mul: operand 1 must be a Tensor, got undefined/);
    expect(indices.mul(2).dtype).toBe('int32');
  });
});

describe('backward pass', () => {
  it('a VJP that returns a gradient of the wrong shape is still an Error naming the op and both shapes', () => {
    const wrong = ng.customOp({
      name: 'wrongShape',
      forward: (x) => ng.tensor(x).data,
      vjp: (g: Tensor) => [g.sum(0, true)],
    });
    const x = ng.tensor([[1, 2], [3, 4]], { requiresGrad: true });
    expect(() => wrong(x).sum().backward()).toThrow(/returned a gradient of shape \[1, 2\] for input 0 of shape \[2, 2\]/);
  });

  it('reading a saved input written in place since it was recorded is still an Error with both versions', () => {
    const w = ng.tensor([1, 2, 3], { requiresGrad: true });
    const x = ng.tensor([4, 5, 6]);
    const y = w.mul(x).sum();
    ng.assignInPlace(x, ng.tensor([0, 0, 0]));
    expect(() => y.backward()).toThrow(/gradient of 'mul' \(input 1, shape \[3\]\) was modified in place after it was recorded: version 0 when recorded, now version 1/);
  });
});
