/**
 * How many reductions read all of x (or an x-sized fused expression) in one float32 forward +
 * backward of a norm (loss = sum(y·g), which is one of them): the passes over x that sums make. The
 * counts pin normalizeOver's: the mean from one float64 sum (its rounding without another pass),
 * the variance from one sum of squared deviations, and in backward only the sums the affine and
 * the per-statistic factors need.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as ng from '@normgrad/core';
import { BatchNorm2d, GroupNorm, InstanceNorm2d, LayerNorm, type Module } from '@normgrad/nn';

const sum = ng.primitives.sum.definition as { forward: unknown; fusedForward?: unknown };
const [originalForward, originalFusedForward] = [sum.forward, sum.fusedForward];

afterEach(() => {
  sum.forward = originalForward;
  sum.fusedForward = originalFusedForward;
});

/** The reductions over inputs of x's size in one forward + backward, e.g. 'sum[1]' (float64 marked). */
function fullSizeSums(layer: Module, shape: number[]): string[] {
  const x = ng.randn(shape, { seed: 1, requiresGrad: true });
  const g = ng.randn(shape, { seed: 2 });
  const sums: string[] = [];
  const record = (inputShape: readonly number[], params: { axes: number[]; dtype?: string }): void => {
    if (inputShape.reduce((a, b) => a * b, 1) === x.size) sums.push(`sum[${params.axes}]${params.dtype === 'float64' ? ' float64' : ''}`);
  };
  const wrap = <F extends (...args: never[]) => unknown>(original: F, shapeOf: (first: never) => readonly number[]) =>
    ((first: never, params: never) => {
      record(shapeOf(first), params);
      return original(first, params);
    }) as unknown as F;
  sum.forward = wrap(originalForward as (...args: never[]) => unknown, (inputs: { shape: number[] }[]) => inputs[0]!.shape);
  sum.fusedForward = wrap(originalFusedForward as (...args: never[]) => unknown, (pending: { shape: number[] }) => pending.shape);
  layer.forward(x).mul(g).sum().backward();
  return sums;
}

describe('reductions over x per norm forward + backward (float32)', () => {
  it('LayerNorm: the float64 mean sum, the squares, the loss, two row sums and the weight and bias sums', () => {
    expect(fullSizeSums(new LayerNorm(48), [64, 48])).toEqual(['sum[1] float64', 'sum[1]', 'sum[0,1]', 'sum[1]', 'sum[1]', 'sum[0]', 'sum[0]']);
  });
  it('InstanceNorm2d: the float64 mean sum, the squares, the loss and two per-instance sums', () => {
    expect(fullSizeSums(new InstanceNorm2d(8, { affine: true, trackRunningStats: true }), [4, 8, 8, 8])).toEqual(['sum[2,3] float64', 'sum[2,3]', 'sum[0,1,2,3]', 'sum[2,3]', 'sum[2,3]']);
  });
  it('BatchNorm2d and GroupNorm make as many', () => {
    expect(fullSizeSums(new BatchNorm2d(8), [4, 8, 8, 8])).toHaveLength(5);
    expect(fullSizeSums(new GroupNorm(4, 8), [4, 8, 8, 8])).toHaveLength(5);
  });
});
