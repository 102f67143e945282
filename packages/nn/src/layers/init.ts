import { full, noGrad, rand, type DType, type Tensor } from '@normgrad/core';
import { buffer, parameter } from '../module.js';

/**
 * A parameter drawn uniformly from [-bound, bound) with core's global generator (so
 * `manualSeed(s)` before building a model makes its initialization reproducible).
 */
export function uniformParameter(shape: number[], bound: number, dtype: DType): Tensor {
  return parameter(noGrad(() => rand(shape, { dtype }).mul(2 * bound).sub(bound)).detach());
}

export function constantParameter(shape: number[], value: number, dtype: DType): Tensor {
  return parameter(full(shape, value, { dtype }));
}

export function constantBuffer(shape: number[], value: number, dtype: DType): Tensor {
  return buffer(full(shape, value, { dtype }));
}
