/**
 * One table of gradient specs drives the property tests of every primitive and composite:
 * first order (full Jacobian gradcheck and the VJP dot-product test) for all, second order
 * (gradgradcheck) for the smooth ones, on random float64 shapes and broadcast patterns; and
 * forward mode (jvp against central differences, the transpose identity with vjp, and second
 * order forward-over-forward, forward-over-reverse and reverse-over-forward); and vmap (vmap of the
 * function, of its gradient and of its jvp equal a loop over the examples).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as ng from '@normgrad/core';
import type { Tensor } from '@normgrad/core';
import {
  axesArbitrary,
  axisArbitrary,
  broadcastShapesArbitrary,
  checkVjp,
  shapeArbitrary,
  tensorArbitrary,
  type TensorOptions,
} from '@normgrad/testing';
import { checkJvp, checkSecondOrderMixed, checkTranspose } from './transforms-checks.js';

interface GradientCase {
  inputs: Tensor[];
  fn: (...inputs: Tensor[]) => Tensor;
  /** What was drawn besides the inputs (axes, permutation, …), for failure messages. */
  label: string;
}

interface GradientSpec {
  name: string;
  /** Smooth on the drawn domain: also checked to second order. */
  smooth: boolean;
  cases: fc.Arbitrary<GradientCase>;
}

const smallShape = shapeArbitrary({ minRank: 0, maxRank: 3, minExtent: 1, maxExtent: 3 });
const nonScalarShape = shapeArbitrary({ minRank: 1, maxRank: 3, minExtent: 1, maxExtent: 3 });

function unary(name: string, fn: (x: Tensor) => Tensor, domain: TensorOptions = {}, smooth = true): GradientSpec {
  return {
    name,
    smooth,
    cases: smallShape.chain((shape) => tensorArbitrary(shape, domain)).map((x) => ({ inputs: [x], fn, label: `shape ${ng.formatShape(x.shape)}` })),
  };
}

/** No pair of elements that meet under broadcasting is closer than 1e-3 (keeps max/min off their kinks). */
function apart([a, b]: [Tensor, Tensor]): boolean {
  return a.sub(b).abs().min().item() > 1e-3;
}

function binary(name: string, fn: (a: Tensor, b: Tensor) => Tensor, left: TensorOptions = {}, right: TensorOptions = {}, smooth = true): GradientSpec {
  return {
    name,
    smooth,
    cases: broadcastShapesArbitrary({ maxRank: 3, maxExtent: 3 })
      .chain(([shapeA, shapeB]) => fc.tuple(tensorArbitrary(shapeA, left), tensorArbitrary(shapeB, right)))
      .filter((pair) => smooth || apart(pair))
      .map(([a, b]) => ({ inputs: [a, b], fn, label: `shapes ${ng.formatShape(a.shape)}, ${ng.formatShape(b.shape)}` })),
  };
}

/** Values made distinct (x + 0.05·index) so maxima are not tied and kinks are not hit. */
function distinct(x: Tensor): Tensor {
  const offsets = ng.arange(x.size, { dtype: 'float64' }).mul(0.05).reshape(x.shape);
  return ng.tensor(x.add(offsets).toFloat64Array(), { dtype: 'float64', shape: x.shape });
}

function overAxes(
  name: string,
  fn: (x: Tensor, axes: number[], keepdims: boolean) => Tensor,
  options: { domain?: TensorOptions; separate?: boolean; minCount?: number } = {},
): GradientSpec {
  const { domain = {}, separate = false, minCount = 1 } = options;
  const count = (shape: readonly number[], axes: readonly number[]) => axes.reduce((product, axis) => product * shape.at(axis)!, 1);
  return {
    name,
    smooth: true,
    cases: nonScalarShape
      .chain((shape) => fc.tuple(tensorArbitrary(shape, domain), axesArbitrary(shape.length), fc.boolean()))
      .filter(([x, axes]) => count(x.shape, axes) >= minCount)
      .map(([x, axes, keepdims]) => ({
        inputs: [separate ? distinct(x) : x],
        fn: (input: Tensor) => fn(input, axes, keepdims),
        label: `shape ${ng.formatShape(x.shape)}, axes ${JSON.stringify(axes)}, keepdims ${keepdims}`,
      })),
  };
}

function alongAxis(name: string, fn: (x: Tensor, axis: number) => Tensor): GradientSpec {
  return {
    name,
    smooth: true,
    cases: nonScalarShape
      .chain((shape) => fc.tuple(tensorArbitrary(shape), axisArbitrary(shape.length)))
      .map(([x, axis]) => ({ inputs: [x], fn: (input: Tensor) => fn(input, axis), label: `shape ${ng.formatShape(x.shape)}, axis ${axis}` })),
  };
}

function shaped(name: string, draw: fc.Arbitrary<GradientCase>): GradientSpec {
  return { name, smooth: true, cases: draw };
}

const permutationCase = nonScalarShape.chain((shape) =>
  fc.tuple(tensorArbitrary(shape), fc.shuffledSubarray(shape.map((_, axis) => axis), { minLength: shape.length, maxLength: shape.length })),
);

const sliceCase = nonScalarShape.chain((shape) =>
  fc.tuple(
    tensorArbitrary(shape),
    fc.tuple(...shape.map((extent) => fc.tuple(fc.integer({ min: -extent, max: extent - 1 }), fc.integer({ min: -extent, max: extent }), fc.integer({ min: 1, max: 2 })))),
  ),
);

const concatCase = nonScalarShape.chain((shape) =>
  axisArbitrary(shape.length).chain((axis) => {
    const normalized = axis < 0 ? axis + shape.length : axis;
    const other = shape.map((extent, index) => (index === normalized ? 2 : extent));
    return fc.tuple(tensorArbitrary(shape), tensorArbitrary(other), fc.constant(axis));
  }),
);

const matmulCase = fc
  .tuple(
    fc.integer({ min: 1, max: 3 }),
    fc.integer({ min: 1, max: 3 }),
    fc.integer({ min: 1, max: 3 }),
    fc.constantFrom<[number[], number[]]>([[], []], [[2], [2]], [[2], []], [[], [2]], [[1], [2]], [[2, 1], [2]]),
    fc.constantFrom('matrix', 'vector-left', 'vector-right'),
  )
  .chain(([rows, inner, columns, [batchA, batchB], form]) => {
    const shapeA = form === 'vector-left' ? [inner] : [...batchA, rows, inner];
    const shapeB = form === 'vector-right' ? [inner] : [...batchB, inner, columns];
    return fc.tuple(tensorArbitrary(shapeA), tensorArbitrary(shapeB));
  });

/** An int32 index of the given shape with values in [0, extent). */
function indexArbitrary(shape: readonly number[], extent: number): fc.Arbitrary<Tensor> {
  const size = shape.reduce((product, item) => product * item, 1);
  return fc.array(fc.integer({ min: 0, max: extent - 1 }), { minLength: size, maxLength: size }).map((values) => ng.tensor(Int32Array.from(values), { shape }));
}

/** x, an axis, and an index no larger than x outside the axis and up to 3 long along it (repeats included). */
const gatherCase = nonScalarShape.chain((shape) =>
  axisArbitrary(shape.length).chain((axis) => {
    const normalized = axis < 0 ? axis + shape.length : axis;
    return fc
      .tuple(...shape.map((extent, dimension) => fc.integer({ min: 1, max: dimension === normalized ? 3 : extent })))
      .chain((indexShape) => fc.tuple(tensorArbitrary(shape), fc.constant(axis), indexArbitrary(indexShape, shape[normalized]!)));
  }),
);

const specs: GradientSpec[] = [
  // elementwise, one input
  unary('neg', (x) => x.neg()),
  unary('exp', (x) => x.exp()),
  unary('log', (x) => x.log(), { min: 0.2, max: 3 }),
  unary('sqrt', (x) => x.sqrt(), { min: 0.2, max: 3 }),
  unary('rsqrt', (x) => x.rsqrt(), { min: 0.3, max: 3 }),
  unary('reciprocal', (x) => x.reciprocal(), { awayFromZero: 0.3 }),
  unary('abs', (x) => x.abs(), { awayFromZero: 0.1 }),
  unary('sign', (x) => x.sign().add(x), { awayFromZero: 0.1 }),
  unary('sin', (x) => x.sin()),
  unary('cos', (x) => x.cos()),
  unary('tanh', (x) => x.tanh()),
  unary('sigmoid', (x) => x.sigmoid()),
  unary('square', (x) => x.square()),
  unary('relu', (x) => x.relu(), { awayFromZero: 0.1 }),
  unary('clamp', (x) => x.clamp(-0.7, 0.9)),
  unary('pow (scalar exponent)', (x) => x.pow(3)),
  unary('cast to float64', (x) => x.to('float64').mul(x)),
  // elementwise, two inputs with broadcasting
  binary('add', (a, b) => a.add(b)),
  binary('sub', (a, b) => a.sub(b)),
  binary('mul', (a, b) => a.mul(b)),
  binary('div', (a, b) => a.div(b), {}, { awayFromZero: 0.3 }),
  binary('pow', (a, b) => a.pow(b), { min: 0.5, max: 2 }, { min: -2, max: 2 }),
  binary('maximum', (a, b) => a.maximum(b), {}, {}, false),
  binary('minimum', (a, b) => a.minimum(b), {}, {}, false),
  binary('where', (a, b) => ng.where(a.gt(0), a.mul(b), b.sin()), { awayFromZero: 0.1 }),
  // reductions
  overAxes('sum', (x, axes, keepdims) => x.sum(axes, keepdims)),
  overAxes('mean', (x, axes, keepdims) => x.mean(axes, keepdims)),
  overAxes('var (correction 0)', (x, axes, keepdims) => x.var(axes, { correction: 0, keepdims })),
  overAxes('var (correction 1)', (x, axes, keepdims) => x.var(axes, { correction: 1, keepdims }), { minCount: 2 }),
  overAxes('moments', (x, axes) => {
    const { mean, variance, deviation } = ng.moments(x, axes, { correction: 0 });
    return deviation.mul(variance.add(0.1).rsqrt()).add(mean);
  }),
  overAxes('std', (x, axes, keepdims) => x.std(axes, { correction: 0, keepdims }).add(x.mean()), { separate: true, minCount: 2 }),
  overAxes('max', (x, axes, keepdims) => x.max(axes, keepdims), { separate: true }),
  overAxes('min', (x, axes, keepdims) => x.min(axes, keepdims), { separate: true }),
  overAxes('logsumexp', (x, axes, keepdims) => x.logsumexp(axes, keepdims)),
  alongAxis('softmax', (x, axis) => x.softmax(axis)),
  alongAxis('logSoftmax', (x, axis) => x.logSoftmax(axis)),
  // shape
  shaped('reshape', nonScalarShape.chain((shape) => tensorArbitrary(shape)).map((x) => ({ inputs: [x], fn: (t: Tensor) => t.reshape([-1]).mul(t.reshape([-1])), label: ng.formatShape(x.shape) }))),
  shaped('permute', permutationCase.map(([x, permutation]) => ({ inputs: [x], fn: (t: Tensor) => t.permute(permutation).mul(2), label: `${ng.formatShape(x.shape)} ${JSON.stringify(permutation)}` }))),
  shaped('transpose', permutationCase.map(([x]) => ({ inputs: [x], fn: (t: Tensor) => t.transpose(0, -1).square(), label: ng.formatShape(x.shape) }))),
  shaped('broadcastTo', broadcastShapesArbitrary({ maxRank: 3, maxExtent: 3 }).chain(([shape, other]) => {
    const target = ng.broadcastShapes('test', shape, other);
    return tensorArbitrary(shape).map((x) => ({ inputs: [x], fn: (t: Tensor) => t.broadcastTo(target).square(), label: `${ng.formatShape(shape)} → ${ng.formatShape(target)}` }));
  })),
  shaped('unsqueeze/squeeze/flatten', nonScalarShape.chain((shape) => fc.tuple(tensorArbitrary(shape), fc.integer({ min: -shape.length - 1, max: shape.length }))).map(([x, axis]) => ({
    inputs: [x],
    fn: (t: Tensor) => t.unsqueeze(axis).square().squeeze().flatten().mul(t.flatten()),
    label: `${ng.formatShape(x.shape)} axis ${axis}`,
  }))),
  shaped('slice', sliceCase.map(([x, ranges]) => ({ inputs: [x], fn: (t: Tensor) => t.slice(...ranges).square(), label: `${ng.formatShape(x.shape)} ${JSON.stringify(ranges)}` }))),
  shaped('narrow', nonScalarShape.chain((shape) => fc.tuple(tensorArbitrary(shape), fc.integer({ min: 0, max: shape.length - 1 }))).map(([x, axis]) => ({
    inputs: [x],
    fn: (t: Tensor) => t.narrow(axis, 0, Math.max(1, x.shape[axis]! - 1)).exp(),
    label: `${ng.formatShape(x.shape)} axis ${axis}`,
  }))),
  shaped('pad', nonScalarShape.chain((shape) => fc.tuple(tensorArbitrary(shape), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.double({ min: -1, max: 1, noNaN: true }))).map(([x, before, after, value]) => ({
    inputs: [x],
    fn: (t: Tensor) => t.pad([[before, after]], value).square(),
    label: `${ng.formatShape(x.shape)} [${before}, ${after}] value ${value}`,
  }))),
  shaped('concat', concatCase.map(([a, b, axis]) => ({ inputs: [a, b], fn: (x: Tensor, y: Tensor) => ng.concat([x, y.square()], axis).mul(ng.concat([y, x], axis)), label: `${ng.formatShape(a.shape)} + ${ng.formatShape(b.shape)} axis ${axis}` }))),
  shaped('stack', nonScalarShape.chain((shape) => fc.tuple(tensorArbitrary(shape), tensorArbitrary(shape), axisArbitrary(shape.length + 1))).map(([a, b, axis]) => ({
    inputs: [a, b],
    fn: (x: Tensor, y: Tensor) => ng.stack([x, y.mul(x)], axis).square(),
    label: `${ng.formatShape(a.shape)} axis ${axis}`,
  }))),
  shaped('unfold', fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 0, max: 1 }))
    .chain(([kernel, stride, padding]) => tensorArbitrary([1, 2, 4, 3]).map((x) => ({
      inputs: [x],
      fn: (t: Tensor) => ng.unfold(t, kernel, { stride, padding }).square(),
      label: `kernel ${kernel} stride ${stride} padding ${padding}`,
    })))),
  shaped('fold', fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }))
    .chain(([kernel, stride]) => {
      const positions = (Math.floor((4 - kernel) / stride) + 1) * (Math.floor((3 - kernel) / stride) + 1);
      return tensorArbitrary([1, 2 * kernel * kernel, positions]).map((columns) => ({
        inputs: [columns],
        fn: (t: Tensor) => ng.fold(t, [4, 3], kernel, { stride }).square(),
        label: `kernel ${kernel} stride ${stride}`,
      }));
    })),
  shaped('matmul', matmulCase.map(([a, b]) => ({ inputs: [a, b], fn: (x: Tensor, y: Tensor) => x.matmul(y), label: `${ng.formatShape(a.shape)} @ ${ng.formatShape(b.shape)}` }))),
  // selection by int32 indices
  shaped('gather', gatherCase.map(([x, axis, index]) => ({
    inputs: [x],
    fn: (t: Tensor) => t.gather(axis, index).square(),
    label: `${ng.formatShape(x.shape)} axis ${axis} index ${JSON.stringify(index.toArray())}`,
  }))),
  shaped('scatterAdd', gatherCase.map(([x, axis, index]) => {
    const normalized = axis < 0 ? axis + x.ndim : axis;
    return {
      inputs: [ng.tensor(x.gather(axis, index).toFloat64Array(), { dtype: 'float64', shape: index.shape })],
      fn: (src: Tensor) => ng.primitives.scatterAdd([src, index], { axis: normalized, shape: x.shape }).square(),
      label: `into ${ng.formatShape(x.shape)} axis ${axis} index ${JSON.stringify(index.toArray())}`,
    };
  })),
  shaped('indexSelect', nonScalarShape.chain((shape) => axisArbitrary(shape.length).chain((axis) =>
    fc.tuple(tensorArbitrary(shape), fc.constant(axis), indexArbitrary([3], shape.at(axis)!)))).map(([x, axis, index]) => ({
    inputs: [x],
    fn: (t: Tensor) => t.indexSelect(axis, index).sin(),
    label: `${ng.formatShape(x.shape)} axis ${axis} index ${JSON.stringify(index.toArray())}`,
  }))),
  shaped('topk', nonScalarShape.chain((shape) => axisArbitrary(shape.length).chain((axis) =>
    fc.tuple(tensorArbitrary(shape), fc.constant(axis), fc.integer({ min: 0, max: shape.at(axis)! }), fc.boolean()))).map(([x, axis, k, largest]) => ({
    inputs: [distinct(x)],
    fn: (t: Tensor) => t.topk(k, axis, { largest }).values.square(),
    label: `${ng.formatShape(x.shape)} k ${k} axis ${axis} largest ${largest}`,
  }))),
  unary('maskedFill', (x) => x.maskedFill(x.gt(0), 0.5).mul(x), { awayFromZero: 0.1 }),
  shaped('argmax', nonScalarShape.chain((shape) => fc.tuple(tensorArbitrary(shape), axisArbitrary(shape.length))).map(([x, axis]) => ({
    inputs: [distinct(x)],
    fn: (t: Tensor) => t.gather(axis, t.argmin(axis, true)).mul(t.gather(axis, t.argmax(axis, true))),
    label: `${ng.formatShape(x.shape)} axis ${axis}`,
  }))),
];

/** The spec rows whose functions apply each primitive: a primitive without a row does not compile. */
const primitiveRows: { [P in ng.PrimitiveName]: string } = {
  neg: 'neg', exp: 'exp', log: 'log', sqrt: 'sqrt', reciprocal: 'reciprocal', abs: 'abs', sign: 'sign', sin: 'sin', cos: 'cos',
  tanh: 'tanh', sigmoid: 'sigmoid', add: 'add', sub: 'sub', mul: 'mul', div: 'div', pow: 'pow', maximum: 'maximum',
  compare: 'relu', where: 'where', sum: 'sum', max: 'max', reshape: 'reshape', broadcastTo: 'broadcastTo', permute: 'permute',
  slice: 'slice', unslice: 'pad', concat: 'concat', matmul: 'matmul', unfold: 'unfold', fold: 'fold', cast: 'cast to float64',
  argmax: 'argmax', argsort: 'topk', gather: 'gather', scatterAdd: 'scatterAdd',
};

it('every primitive has a row in the spec table', () => {
  const names = new Set(specs.map((spec) => spec.name));
  for (const [primitiveName, row] of Object.entries(primitiveRows)) expect(names.has(row), `${primitiveName} → ${row}`).toBe(true);
  expect(Object.keys(primitiveRows).sort()).toEqual(Object.keys(ng.primitives).sort());
});

const firstOrderRuns = 12;
const secondOrderRuns = 5;

function describeFailure(result: ng.GradcheckResult, label: string): string {
  return `${label}: worst ${JSON.stringify(result.worst)}, maxAbsError ${result.maxAbsError}`;
}

describe('gradients of every primitive and composite (float64, central differences)', () => {
  for (const spec of specs) {
    describe(spec.name, () => {
      it('first order: full Jacobian gradcheck and the VJP dot-product test', () => {
        fc.assert(
          fc.property(spec.cases, ({ inputs, fn, label }) => {
            const result = ng.gradcheck(fn, inputs, { atol: 1e-6, rtol: 1e-4 });
            expect(result.ok, describeFailure(result, label)).toBe(true);
            const vjp = checkVjp(fn, inputs);
            expect(vjp.ok, `${label}: ⟨vjp(v), t⟩ ${vjp.analytic} vs ${vjp.numeric}`).toBe(true);
          }),
          { seed: 20261123, numRuns: firstOrderRuns },
        );
      });
      it('forward mode: jvp against central differences, and ⟨jvp(t), v⟩ = ⟨t, vjp(v)⟩', () => {
        let run = 0;
        fc.assert(
          fc.property(spec.cases, ({ inputs, fn, label }) => {
            run++;
            const forward = checkJvp(fn, inputs, { seed: run });
            expect(forward.ok, `${label}: ${forward.detail}`).toBe(true);
            const transpose = checkTranspose(fn, inputs, { seed: run });
            expect(transpose.ok, `${label}: ${transpose.detail}`).toBe(true);
          }),
          { seed: 20261201, numRuns: firstOrderRuns },
        );
      });
      if (spec.smooth) {
        it('second order in the mixed modes: forward-over-forward, forward-over-reverse, reverse-over-forward', () => {
          let run = 0;
          fc.assert(
            fc.property(spec.cases, ({ inputs, fn, label }) => {
              run++;
              const result = checkSecondOrderMixed(fn, inputs, { seed: run });
              expect(result.ok, `${label}: ${result.detail}`).toBe(true);
            }),
            { seed: 20261201, numRuns: secondOrderRuns },
          );
        });
        it('second order: gradgradcheck', () => {
          fc.assert(
            fc.property(spec.cases, ({ inputs, fn, label }) => {
              const result = ng.gradgradcheck(fn, inputs, { atol: 1e-5, rtol: 1e-3 });
              expect(result.ok, describeFailure(result, label)).toBe(true);
            }),
            { seed: 20261123, numRuns: secondOrderRuns },
          );
        });
      }
    });
  }
});

/** Example `position` of an input: the input scaled by 1 + position/4 (a positive scale keeps every drawn domain). */
function example(input: Tensor, position: number): Tensor {
  return input.mul(1 + position / 4);
}

/** The largest |a − b| relative to 1 + max |b| (0 for equal values). */
function relativeError(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  if (b.size === 0) return 0;
  return a.sub(b).abs().max().item() / (1 + b.abs().max().item());
}

/** What a vmap check draws besides the case: the batch size, one inDim choice per input (−1: not batched) and outDim choices. */
const vmapChoices = fc.tuple(fc.integer({ min: 1, max: 3 }), fc.array(fc.integer({ min: -1, max: 3 }), { minLength: 6, maxLength: 6 }), fc.array(fc.nat(), { minLength: 6, maxLength: 6 }));

const vmapRuns = 6;

describe('vmap of every primitive and composite: equal to a loop over the examples (float64)', () => {
  for (const spec of specs) {
    it(`${spec.name}: vmap(f), vmap(grad(f)) and vmap(jvp(f)), random inDims and outDims`, () => {
      fc.assert(
        fc.property(spec.cases, vmapChoices, ({ inputs, fn, label }, [size, dimChoices, outChoices]) => {
          const dims = inputs.map((input, index) => (dimChoices[index]! < 0 ? null : dimChoices[index]! % (input.ndim + 1)));
          if (dims.every((dim): boolean => dim === null)) dims[0] = 0;
          const positions = Array.from({ length: size }, (_, position) => position);
          const batchedArgument = (value: Tensor, dim: number | null, scale: (x: Tensor, position: number) => Tensor): Tensor =>
            dim === null ? value : ng.stack(positions.map((position) => scale(value, position)), dim);
          const exampleArguments = (values: readonly Tensor[], position: number): Tensor[] =>
            values.map((value, index) => (dims[index] === null ? value : example(value, position)));
          const check = (what: string, per: (...args: Tensor[]) => Tensor[], args: Tensor[], argDims: (number | null)[], perExample: (position: number) => Tensor[]) => {
            const expected = positions.map(perExample);
            const outDims = expected[0]!.map((output, k) => outChoices[k % outChoices.length]! % (output.ndim + 1));
            const vmapped = ng.vmap(per, { inDims: argDims, outDims })(...args);
            expected[0]!.forEach((_, k) => {
              const stacked = ng.stack(expected.map((outputs) => outputs[k]!), outDims[k]!);
              const error = relativeError(vmapped[k]!, stacked);
              expect(error, `${label}: ${what}, output ${k}, inDims ${JSON.stringify(argDims)}, outDims ${JSON.stringify(outDims)}, ${size} examples`).toBeLessThan(1e-12);
            });
          };
          const batched = inputs.map((input, index) => batchedArgument(input, dims[index]!, example));
          check('vmap(f)', (...xs) => [fn(...xs)], batched, dims, (position) => [fn(...exampleArguments(inputs, position))]);
          const argnums = inputs.map((_, index) => index);
          const gradient = ng.grad((...xs: Tensor[]) => fn(...xs).sin().sum(), { argnums, allowUnused: true });
          check('vmap(grad(f))', gradient, batched, dims, (position) => gradient(...exampleArguments(inputs, position)));
          const tangents = inputs.map((input, index) => ng.randn(input.shape, { dtype: 'float64', seed: 31 * index + size }));
          const tangentScale = (t: Tensor, position: number) => t.mul(1 - position / 2);
          const batchedTangents = tangents.map((t, index) => batchedArgument(t, dims[index]!, tangentScale));
          const tangentOf = (...args: Tensor[]) => [ng.jvp(fn, args.slice(0, inputs.length), args.slice(inputs.length))[1]];
          check('vmap(jvp(f))', tangentOf, [...batched, ...batchedTangents], [...dims, ...dims], (position) =>
            tangentOf(...exampleArguments(inputs, position), ...tangents.map((t, index) => (dims[index] === null ? t : tangentScale(t, position)))));
        }),
        { seed: 20261202, numRuns: vmapRuns },
      );
    });
  }
});

// The same table under every kernel setting: fusion off and fusion of every size, each with the
// JavaScript and the WebAssembly elementwise backend (kernel-paths.test.ts covers large shapes).
const kernelSettings: Partial<ng.Settings>[] = [
  { fusion: false, elementwiseBackend: 'js' },
  { fusion: false, elementwiseBackend: 'wasm' },
  { fusion: true, fusionMinimumSize: 1, elementwiseBackend: 'js' },
  { fusion: true, fusionMinimumSize: 1, elementwiseBackend: 'wasm' },
];

describe('gradients of every primitive and composite under every kernel setting (first order)', () => {
  for (const settings of kernelSettings) {
    it(JSON.stringify(settings), () => {
      ng.withSettings(settings, () => {
        for (const spec of specs) {
          fc.assert(
            fc.property(spec.cases, ({ inputs, fn, label }) => {
              const result = ng.gradcheck(fn, inputs, { atol: 1e-6, rtol: 1e-4 });
              expect(result.ok, `${spec.name} ${describeFailure(result, label)}`).toBe(true);
            }),
            { seed: 20261201, numRuns: 3 },
          );
        }
      });
    });
  }
});
