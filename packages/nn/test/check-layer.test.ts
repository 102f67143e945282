import { gradcheck, type Tensor } from '@normgrad/core';
import { checkLayer, type CheckLayerOptions } from '@normgrad/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BatchNorm1d,
  BatchNorm2d,
  BatchRenorm1d,
  BatchRenorm2d,
  GroupNorm,
  InstanceNorm1d,
  InstanceNorm2d,
  LayerNorm,
  RMSNorm,
  Sequential,
  SwitchableNorm1d,
  SwitchableNorm2d,
  WSConv2d,
  batchRenorm,
  type Module,
} from '../src/index.js';
import { seededTensor } from './helpers.js';

/** (N, C, *spatial) shapes with small extents. */
function channelShapes({ batch = [2, 3], channels = [1, 3], spatialRank = [0, 1], spatial = [1, 3] } = {}): fc.Arbitrary<number[]> {
  return fc
    .tuple(
      fc.integer({ min: batch[0]!, max: batch[1]! }),
      fc.integer({ min: channels[0]!, max: channels[1]! }),
      fc.array(fc.integer({ min: spatial[0]!, max: spatial[1]! }), { minLength: spatialRank[0]!, maxLength: spatialRank[1]! }),
    )
    .map(([n, c, rest]) => [n, c, ...rest]);
}

interface Case {
  name: string;
  make: (shape: number[]) => Module;
  options: CheckLayerOptions;
}

const f64 = { dtype: 'float64' } as const;

/** Every norm and variant, gradient-checked through checkLayer in train and eval mode. */
const cases: Case[] = [
  { name: 'BatchNorm1d', make: (s) => new BatchNorm1d(s[1]!, { ...f64, momentum: 0.3 }), options: { arbitrary: channelShapes(), order: 2, runs: 5 } },
  { name: 'BatchNorm2d', make: (s) => new BatchNorm2d(s[1]!, f64), options: { arbitrary: channelShapes({ batch: [1, 2], channels: [1, 2], spatialRank: [2, 2], spatial: [2, 2] }), order: 2, runs: 3 } },
  { name: 'LayerNorm', make: (s) => new LayerNorm(s.slice(1), f64), options: { inputShapes: [[2, 3], [1, 2, 2], [3, 4]], order: 2, runs: 4 } },
  { name: 'InstanceNorm1d (affine, running statistics)', make: (s) => new InstanceNorm1d(s[1]!, { ...f64, affine: true, trackRunningStats: true }), options: { arbitrary: channelShapes({ batch: [1, 2], spatialRank: [1, 1], spatial: [2, 4] }), order: 2, runs: 4 } },
  { name: 'InstanceNorm2d', make: (s) => new InstanceNorm2d(s[1]!, { ...f64, affine: true }), options: { inputShapes: [[1, 2, 2, 2], [2, 1, 2, 3]], order: 2, runs: 2 } },
  { name: 'GroupNorm', make: (s) => new GroupNorm(2, s[1]!, f64), options: { inputShapes: [[1, 2, 3], [2, 4], [1, 4, 2]], order: 2, runs: 4 } },
  { name: 'BatchRenorm1d (r, d inside the clip)', make: (s) => new BatchRenorm1d(s[1]!, { ...f64, momentum: 0.2 }), options: { arbitrary: channelShapes(), order: 2, runs: 5 } },
  { name: 'BatchRenorm1d (r, d clipped)', make: (s) => new BatchRenorm1d(s[1]!, { ...f64, rMax: 1.05, dMax: 0.05 }), options: { arbitrary: channelShapes(), order: 2, runs: 4 } },
  { name: 'BatchRenorm2d', make: (s) => new BatchRenorm2d(s[1]!, { ...f64, momentum: 0.5 }), options: { inputShapes: [[2, 1, 2, 2], [1, 2, 2, 3]], order: 2, runs: 2 } },
  { name: 'RMSNorm', make: (s) => new RMSNorm(s.slice(-1), f64), options: { inputShapes: [[3], [2, 3], [2, 2, 2]], order: 2, runs: 4 } },
  { name: 'RMSNorm (two trailing axes, eps 1e-3)', make: (s) => new RMSNorm(s.slice(-2), { ...f64, eps: 1e-3 }), options: { inputShapes: [[2, 2], [2, 1, 3]], order: 2, runs: 2 } },
  { name: 'SwitchableNorm1d', make: (s) => new SwitchableNorm1d(s[1]!, { ...f64, momentum: 0.3 }), options: { arbitrary: channelShapes({ batch: [1, 3], spatialRank: [1, 1], spatial: [2, 3] }), order: 2, runs: 4 } },
  { name: 'SwitchableNorm2d', make: (s) => new SwitchableNorm2d(s[1]!, f64), options: { inputShapes: [[2, 2, 1, 2], [1, 2, 2, 2]], order: 2, runs: 2 } },
  { name: 'WSConv2d', make: (s) => new WSConv2d(s[1]!, 2, 2, { ...f64, padding: 1 }), options: { inputShapes: [[1, 1, 2, 2], [2, 2, 2, 3]], order: 2, runs: 2, modes: ['train'] } },
  {
    name: 'Sequential(WSConv2d, BatchRenorm2d) — nested parameter names',
    make: (s) => new Sequential(new WSConv2d(s[1]!, 2, 1, f64), new BatchRenorm2d(2, { ...f64, momentum: 0.5 })),
    options: { inputShapes: [[2, 1, 2, 2]], runs: 1 },
  },
];

/** Third order on the smallest shapes: the orders PyTorch's fused norms get wrong. */
const thirdOrder: Case[] = [
  { name: 'BatchNorm1d', make: (s) => new BatchNorm1d(s[1]!, f64), options: { inputShapes: [[3, 1], [2, 2]], order: 3, runs: 2 } },
  { name: 'BatchRenorm1d', make: (s) => new BatchRenorm1d(s[1]!, { ...f64, momentum: 0.3 }), options: { inputShapes: [[3, 1], [2, 2]], order: 3, runs: 2 } },
  { name: 'RMSNorm', make: (s) => new RMSNorm(s.slice(-1), f64), options: { inputShapes: [[3], [2, 2]], order: 3, runs: 2 } },
  { name: 'SwitchableNorm1d', make: (s) => new SwitchableNorm1d(s[1]!, f64), options: { inputShapes: [[2, 1, 2]], order: 3, runs: 1 } },
  { name: 'LayerNorm', make: (s) => new LayerNorm(s.slice(1), f64), options: { inputShapes: [[1, 3]], order: 3, runs: 1 } },
];

describe('checkLayer on every norm and variant (float64, train and eval)', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const report = checkLayer(c.make, { seed: 7, ...c.options });
    expect(report.runs).toBe(c.options.runs);
  });

  it.each(thirdOrder.map((c) => [c.name, c] as const))('%s to third order', (_, c) => {
    const report = checkLayer(c.make, { seed: 11, ...c.options });
    expect(report.checks).toBe((c.options.runs ?? 0) * 2 * 3);
  });
});

describe('stop-gradient terms', () => {
  it('a plain re-run gradcheck of batch renorm in training disagrees with autodiff (r and d move with x); checkLayer holds them fixed', () => {
    const x = seededTensor([4, 2], 3, { scale: 2, offset: 0.5 });
    const fresh = () => [seededTensor([2], 4, { scale: 0.3 }), seededTensor([2], 5, { scale: 0.2, offset: 1 })] as const;
    const naive = gradcheck((input: Tensor) => {
      const [mean, variance] = fresh();
      return batchRenorm(input, mean, variance, { training: true });
    }, [x]);
    expect(naive.ok).toBe(false);
    expect(() => checkLayer((s) => new BatchRenorm1d(s[1]!, f64), { inputShapes: [[4, 2]], modes: ['train'], runs: 3 })).not.toThrow();
  });

  it('a norm whose statistic is detached by mistake fails, and the report names the shape, mode and input element', () => {
    class DetachedLayerNorm extends LayerNorm {
      override forward(x: Tensor): Tensor {
        const mean = x.mean(-1, true).detach(); // the bug: the mean carries no history
        return x.sub(mean).mul(x.var(-1, { correction: 0, keepdims: true }).add(this.eps).rsqrt()).mul(this.weight!).add(this.bias!);
      }
    }
    expect(() => checkLayer((s) => new DetachedLayerNorm(s.slice(1), f64), { arbitrary: channelShapes({ batch: [1, 3], channels: [2, 4] }), runs: 5 })).toThrow(
      /order-1 gradient check failed in 'train' mode for input shape \[1, 2\]:\n {2}d output\[0, \d\] \/ d input\[0, \d\]: analytic/,
    );
  });
});
