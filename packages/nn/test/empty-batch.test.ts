import { randn, zeros, type Tensor } from '@normgrad/core';
import { describe, expect, it } from 'vitest';
import { BatchNorm1d, BatchNorm2d, BatchRenorm1d, GhostBatchNorm2d, BatchRenorm2d, InstanceNorm1d, InstanceNorm2d, SwitchableNorm1d, SwitchableNorm2d, type Module } from '../src/index.js';

type Tracking = Module & { runningMean: Tensor | null; runningVar: Tensor | null; numBatchesTracked: number };

const dtype = 'float64' as const;

// PyTorch 1.13 also leaves running_mean and running_var unchanged on an empty batch, and returns an
// empty output of the input's shape; it does increment num_batches_tracked (which with momentum=None
// then halves the weight of the next real batch), and its InstanceNorm with N = 0 writes NaN into
// the running statistics. Here an empty batch changes no state at all.
const cases: [string, () => Tracking, number[][]][] = [
  ['BatchNorm1d', () => new BatchNorm1d(3, { dtype }), [[0, 3], [0, 3, 4], [2, 3, 0]]],
  ['BatchNorm1d momentum null', () => new BatchNorm1d(3, { dtype, momentum: null }), [[0, 3]]],
  ['BatchNorm2d', () => new BatchNorm2d(3, { dtype }), [[0, 3, 2, 2], [2, 3, 0, 2], [2, 3, 2, 0]]],
  ['GhostBatchNorm2d', () => new GhostBatchNorm2d(3, { dtype, virtualBatchSize: 2 }), [[0, 3, 2, 2], [2, 3, 0, 2]]],
  ['BatchRenorm1d', () => new BatchRenorm1d(3, { dtype }), [[0, 3], [2, 3, 0]]],
  ['BatchRenorm2d', () => new BatchRenorm2d(3, { dtype }), [[0, 3, 2, 2], [2, 3, 0, 2]]],
  ['SwitchableNorm1d', () => new SwitchableNorm1d(3, { dtype }), [[0, 3, 4], [2, 3, 0]]],
  ['SwitchableNorm2d', () => new SwitchableNorm2d(3, { dtype }), [[0, 3, 2, 2], [2, 3, 0, 2]]],
  ['InstanceNorm1d tracking', () => new InstanceNorm1d(3, { dtype, trackRunningStats: true }), [[0, 3, 4], [2, 3, 0]]],
  ['InstanceNorm2d tracking', () => new InstanceNorm2d(3, { dtype, trackRunningStats: true }), [[0, 3, 2, 2], [2, 3, 2, 0]]],
];

function state(m: Tracking): [number[], number[], number] {
  return [m.runningMean!.toArray() as number[], m.runningVar!.toArray() as number[], m.numBatchesTracked];
}

describe('an empty training batch leaves the running statistics and numBatchesTracked unchanged', () => {
  for (const [name, make, shapes] of cases) {
    for (const shape of shapes) {
      it(`${name} on ${JSON.stringify(shape)}`, () => {
        const m = make();
        const realShape = shape.map((extent) => (extent === 0 ? 2 : extent));
        m.forward(randn(realShape, { dtype, seed: 3 }).mul(2).add(1)); // some non-trivial state first
        const before = state(m);
        const y = m.forward(zeros(shape, { dtype }));
        expect(y.shape).toEqual(shape);
        expect(state(m)).toEqual(before);
        m.eval();
        const evaluated = m.forward(randn(realShape, { dtype, seed: 4 }));
        expect(evaluated.toFloat64Array().every(Number.isFinite)).toBe(true);
        expect(m.forward(zeros(shape, { dtype })).shape).toEqual(shape);
      });
    }
  }

  it('BatchNorm1d with momentum null: the next real batch is still averaged with the right weight', () => {
    const m = new BatchNorm1d(2, { dtype, momentum: null });
    m.forward(zeros([0, 2], { dtype }));
    const batch = randn([4, 2], { dtype, seed: 5 });
    m.forward(batch);
    // The first real batch has weight 1 / 1: the running mean is that batch's mean.
    const expected = batch.mean(0).toArray() as number[];
    (m.runningMean!.toArray() as number[]).forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 12));
    expect(m.numBatchesTracked).toBe(1);
  });
});
