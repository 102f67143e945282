import type { Tensor } from '@normgrad/core';
import fc from 'fast-check';
import { batchNorm, groupNorm, instanceNorm, layerNorm } from '../src/index.js';
import { product, seededTensor } from './helpers.js';

/** A norm with every tensor argument fixed, as a function of the differentiated inputs. */
export interface NormProblem {
  /** (x) or (x, weight) or (x, weight, bias): what gradcheck differentiates. */
  fn: (...inputs: Tensor[]) => Tensor;
  inputs: Tensor[];
  description: string;
}

export type Mode = 'train' | 'eval';

export interface NormSpec<Config> {
  name: string;
  /** Random shapes, batch sizes, groups and options. */
  config: fc.Arbitrary<Config>;
  /** Which modes change the computation (LayerNorm and GroupNorm have none). */
  modes: readonly Mode[];
  build(config: Config, mode: Mode, seed: number): NormProblem;
}

const epsArbitrary = fc.constantFrom(1e-5, 1e-3, 0.1);
const spatialArbitrary = (maxRank: number, maxExtent: number): fc.Arbitrary<number[]> =>
  fc.array(fc.integer({ min: 1, max: maxExtent }), { minLength: 0, maxLength: maxRank });

/** x with per-channel offsets so statistics are not trivially centred. */
function inputTensor(shape: number[], seed: number): Tensor {
  return seededTensor(shape, seed, { scale: 2, offset: 0.3 });
}

/** The differentiated inputs: x, then weight and bias when affine; extra arguments close over. */
function problem(description: string, x: Tensor, affine: { weight: Tensor; bias: Tensor } | null, apply: (x: Tensor, weight: Tensor | null, bias: Tensor | null) => Tensor): NormProblem {
  if (!affine) return { description, inputs: [x], fn: (xi) => apply(xi, null, null) };
  return { description, inputs: [x, affine.weight, affine.bias], fn: (xi, w, b) => apply(xi, w ?? null, b ?? null) };
}

function affineParams(shape: number[], seed: number): { weight: Tensor; bias: Tensor } {
  return { weight: seededTensor(shape, seed + 101, { scale: 0.5, offset: 1 }), bias: seededTensor(shape, seed + 202, { scale: 0.5 }) };
}

/** Running statistics for the norms that take them (runningVar positive). */
function runningStats(shape: number[], seed: number): { runningMean: Tensor; runningVar: Tensor } {
  return { runningMean: seededTensor(shape, seed + 303, { scale: 0.5 }), runningVar: seededTensor(shape, seed + 404, { scale: 0.5, offset: 1 }) };
}

export interface ChannelConfig {
  batch: number;
  channels: number;
  spatial: number[];
  affine: boolean;
  eps: number;
  momentum: number;
}

export const batchNormSpec: NormSpec<ChannelConfig> = {
  name: 'batchNorm',
  config: fc
    .record({
      batch: fc.integer({ min: 1, max: 3 }),
      channels: fc.integer({ min: 1, max: 3 }),
      spatial: spatialArbitrary(2, 3),
      affine: fc.boolean(),
      eps: epsArbitrary,
      momentum: fc.constantFrom(0.1, 0.5),
    })
    .filter((c) => c.batch * product(c.spatial) > 1), // training needs more than one value per channel
  modes: ['train', 'eval'],
  build(c, mode, seed) {
    const shape = [c.batch, c.channels, ...c.spatial];
    const { runningMean, runningVar } = runningStats([c.channels], seed);
    return problem(`batchNorm ${mode} x${JSON.stringify(shape)} ${JSON.stringify(c)}`, inputTensor(shape, seed), c.affine ? affineParams([c.channels], seed) : null, (x, weight, bias) =>
      batchNorm(x, runningMean, runningVar, { weight, bias, training: mode === 'train', momentum: c.momentum, eps: c.eps }),
    );
  },
};

export const instanceNormSpec: NormSpec<ChannelConfig> = {
  name: 'instanceNorm',
  config: fc
    .record({
      batch: fc.integer({ min: 1, max: 2 }),
      channels: fc.integer({ min: 1, max: 3 }),
      spatial: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 2 }),
      affine: fc.boolean(),
      eps: epsArbitrary,
      momentum: fc.constantFrom(0.1, 0.5),
    })
    .filter((c) => product(c.spatial) > 1), // instance statistics need more than one spatial element
  modes: ['train', 'eval'],
  build(c, mode, seed) {
    const shape = [c.batch, c.channels, ...c.spatial];
    const { runningMean, runningVar } = runningStats([c.channels], seed);
    return problem(`instanceNorm ${mode} x${JSON.stringify(shape)} ${JSON.stringify(c)}`, inputTensor(shape, seed), c.affine ? affineParams([c.channels], seed) : null, (x, weight, bias) =>
      instanceNorm(x, { runningMean, runningVar, weight, bias, useInputStats: mode === 'train', momentum: c.momentum, eps: c.eps }),
    );
  },
};

export interface LayerNormConfig {
  batchShape: number[];
  normalizedShape: number[];
  affine: boolean;
  bias: boolean;
  eps: number;
}

export const layerNormSpec: NormSpec<LayerNormConfig> = {
  name: 'layerNorm',
  config: fc.record({
    batchShape: spatialArbitrary(2, 3),
    normalizedShape: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 2 }),
    affine: fc.boolean(),
    bias: fc.boolean(),
    eps: epsArbitrary,
  }),
  modes: ['train'],
  build(c, _mode, seed) {
    const shape = [...c.batchShape, ...c.normalizedShape];
    const params = affineParams(c.normalizedShape, seed);
    const x = inputTensor(shape, seed);
    const description = `layerNorm x${JSON.stringify(shape)} ${JSON.stringify(c)}`;
    if (!c.affine) return { description, inputs: [x], fn: (xi) => layerNorm(xi, c.normalizedShape, { eps: c.eps }) };
    if (!c.bias) return { description, inputs: [x, params.weight], fn: (xi, w) => layerNorm(xi, c.normalizedShape, { weight: w ?? null, eps: c.eps }) };
    return problem(description, x, params, (xi, weight, bias) => layerNorm(xi, c.normalizedShape, { weight, bias, eps: c.eps }));
  },
};

export interface GroupNormConfig {
  batch: number;
  groups: number;
  channelsPerGroup: number;
  spatial: number[];
  affine: boolean;
  eps: number;
}

export const groupNormSpec: NormSpec<GroupNormConfig> = {
  name: 'groupNorm',
  config: fc
    .record({
      batch: fc.integer({ min: 1, max: 2 }),
      groups: fc.integer({ min: 1, max: 3 }),
      channelsPerGroup: fc.integer({ min: 1, max: 3 }),
      spatial: spatialArbitrary(2, 3),
      affine: fc.boolean(),
      eps: epsArbitrary,
    })
    .filter((c) => c.batch * c.channelsPerGroup * product(c.spatial) > 1), // PyTorch's size check
  modes: ['train'],
  build(c, _mode, seed) {
    const channels = c.groups * c.channelsPerGroup;
    const shape = [c.batch, channels, ...c.spatial];
    return problem(`groupNorm x${JSON.stringify(shape)} ${JSON.stringify(c)}`, inputTensor(shape, seed), c.affine ? affineParams([channels], seed) : null, (x, weight, bias) =>
      groupNorm(x, c.groups, { weight, bias, eps: c.eps }),
    );
  },
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const normSpecs: NormSpec<any>[] = [batchNormSpec, layerNormSpec, instanceNormSpec, groupNormSpec];
