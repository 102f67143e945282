import fc from 'fast-check';
import { tensor, type DType, type Tensor } from '@normgrad/core';

export interface ShapeOptions {
  minRank?: number;
  maxRank?: number;
  minExtent?: number;
  maxExtent?: number;
}

/** Shapes with rank in [minRank, maxRank] (default 0–3) and extents in [minExtent, maxExtent] (default 1–4). */
export function shapeArbitrary(options: ShapeOptions = {}): fc.Arbitrary<number[]> {
  const { minRank = 0, maxRank = 3, minExtent = 1, maxExtent = 4 } = options;
  return fc.array(fc.integer({ min: minExtent, max: maxExtent }), { minLength: minRank, maxLength: maxRank });
}

/**
 * Pairs of NumPy-broadcast-compatible shapes: a common shape from which each side drops some
 * leading axes and sets some extents to 1.
 */
export function broadcastShapesArbitrary(options: ShapeOptions = {}): fc.Arbitrary<[number[], number[]]> {
  return shapeArbitrary(options).chain((shape) => {
    const side = fc
      .tuple(fc.integer({ min: 0, max: shape.length }), fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length }))
      .map(([dropped, ones]) => shape.map((extent, axis) => (ones[axis] ? 1 : extent)).slice(dropped));
    return fc.tuple(side, side);
  });
}

/** A non-empty set of distinct axes of a tensor of the given rank, each given as a positive or negative index. */
export function axesArbitrary(rank: number): fc.Arbitrary<number[]> {
  if (rank === 0) return fc.constant([]);
  return fc
    .subarray(Array.from({ length: rank }, (_, axis) => axis), { minLength: 1 })
    .chain((axes) => fc.tuple(...axes.map((axis) => fc.constantFrom(axis, axis - rank))));
}

/** One axis of a tensor of the given rank (≥ 1), positive or negative. */
export function axisArbitrary(rank: number): fc.Arbitrary<number> {
  return fc.integer({ min: -rank, max: rank - 1 });
}

export interface TensorOptions {
  dtype?: DType;
  min?: number;
  max?: number;
  /** Keep |value| at least this far from zero (for log, reciprocal, sqrt near 0, …). */
  awayFromZero?: number;
}

/** Tensors of a fixed shape, float64 by default, with finite values in [min, max] (default [-2, 2]). */
export function tensorArbitrary(shape: readonly number[], options: TensorOptions = {}): fc.Arbitrary<Tensor> {
  const { dtype = 'float64', min = -2, max = 2, awayFromZero = 0 } = options;
  const size = shape.reduce((product, extent) => product * extent, 1);
  const value = fc
    .double({ min, max, noNaN: true, noDefaultInfinity: true })
    .map((v) => (Math.abs(v) < awayFromZero ? (v < 0 ? -awayFromZero : awayFromZero) + v : v));
  return fc.array(value, { minLength: size, maxLength: size }).map((values) => tensor(Float64Array.from(values), { dtype, shape }));
}

/** A shape drawn from shapeArbitrary together with a tensor of that shape. */
export function shapedTensorArbitrary(shapeOptions: ShapeOptions = {}, tensorOptions: TensorOptions = {}): fc.Arbitrary<Tensor> {
  return shapeArbitrary(shapeOptions).chain((shape) => tensorArbitrary(shape, tensorOptions));
}
