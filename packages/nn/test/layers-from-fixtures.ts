import type { DType } from '@normgrad/core';
import { BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm1d, InstanceNorm2d, LayerNorm } from '../src/index.js';
import type { NormCase } from './helpers.js';

export type NormLayer = BatchNorm1d | BatchNorm2d | LayerNorm | InstanceNorm1d | InstanceNorm2d | GroupNorm;

/** Builds the normgrad layer a fixture case describes (options use the API's names). */
export function buildNormLayer(c: Pick<NormCase, 'layer' | 'args' | 'options'>, dtype: DType = 'float64'): NormLayer {
  const options = { ...c.options, dtype } as Record<string, unknown>;
  const [first, second] = c.args;
  switch (c.layer) {
    case 'BatchNorm1d':
      return new BatchNorm1d(first as number, options);
    case 'BatchNorm2d':
      return new BatchNorm2d(first as number, options);
    case 'InstanceNorm1d':
      return new InstanceNorm1d(first as number, options);
    case 'InstanceNorm2d':
      return new InstanceNorm2d(first as number, options);
    case 'LayerNorm':
      return new LayerNorm(first as number | number[], options);
    case 'GroupNorm':
      return new GroupNorm(first as number, second as number, options);
  }
}
