/**
 * How many shape-only primitives (reshape, broadcastTo) one forward + backward of a norm applies:
 * the number operands of elementwise ops become constants of the broadcast shape directly, and the
 * running statistics are updated outside the graph. The bounds pin the counts, so a change that
 * adds shape-only steps back fails here.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as ng from '@normgrad/core';
import { BatchNorm2d, GroupNorm, InstanceNorm2d, LayerNorm, type Module } from '@normgrad/nn';

const counted = ['reshape', 'broadcastTo'] as const;
const originals = counted.map((name) => ng.primitives[name].definition.forward);

afterEach(() => {
  counted.forEach((name, index) => {
    (ng.primitives[name].definition as { forward: unknown }).forward = originals[index];
  });
});

/** Counts the reshape and broadcastTo applications of one forward + backward (loss = sum(y·g)). */
function shapeOpsPerStep(layer: Module, shape: number[]): Record<(typeof counted)[number], number> {
  const x = ng.randn(shape, { seed: 1, requiresGrad: true });
  const g = ng.randn(shape, { seed: 2 });
  const counts = { reshape: 0, broadcastTo: 0 };
  counted.forEach((name, index) => {
    const forward = originals[index]!;
    (ng.primitives[name].definition as { forward: unknown }).forward = (...args: Parameters<typeof forward>) => {
      counts[name]++;
      return (forward as (...a: Parameters<typeof forward>) => ReturnType<typeof forward>)(...args);
    };
  });
  layer.forward(x).mul(g).sum().backward();
  return counts;
}

describe('shape-only primitives per norm forward + backward', () => {
  it('BatchNorm2d (training, running statistics)', () => {
    expect(shapeOpsPerStep(new BatchNorm2d(8), [4, 8, 6, 6])).toEqual({ reshape: 15, broadcastTo: 6 });
  });
  it('LayerNorm', () => {
    expect(shapeOpsPerStep(new LayerNorm(48), [16, 48])).toEqual({ reshape: 9, broadcastTo: 8 });
  });
  it('InstanceNorm2d (affine, running statistics)', () => {
    expect(shapeOpsPerStep(new InstanceNorm2d(8, { affine: true, trackRunningStats: true }), [4, 8, 6, 6])).toEqual({ reshape: 17, broadcastTo: 8 });
  });
  it('GroupNorm', () => {
    expect(shapeOpsPerStep(new GroupNorm(4, 8), [4, 8, 6, 6])).toEqual({ reshape: 28, broadcastTo: 13 });
  });
  it('a number operand is a stride-0 constant of the broadcast shape, with no history', () => {
    const x = ng.randn([3, 4], { dtype: 'float64', seed: 3, requiresGrad: true });
    const y = x.mul(2.5);
    const constant = y.node!.inputs[1]!;
    expect(constant.shape).toEqual([3, 4]);
    expect(constant.requiresGrad).toBe(false);
    expect(constant.node).toBeNull();
    expect(constant.toArray()).toEqual([[2.5, 2.5, 2.5, 2.5], [2.5, 2.5, 2.5, 2.5], [2.5, 2.5, 2.5, 2.5]]);
    expect(ng.grad((t: ng.Tensor) => t.mul(2.5).sum())(x).toArray()).toEqual(ng.full([3, 4], 2.5, { dtype: 'float64' }).toArray());
  });
});
