/**
 * End to end with @normgrad/nn: Linear → BatchNorm1d → ReLU → Linear trained with Adam in
 * float32 on the fixed rings problem, the norm layer's parameters in their own group without
 * weight decay (the usual research setup), then evaluated in eval mode (running statistics).
 */
import { manualSeed, noGrad, type Tensor } from '@normgrad/core';
import { BatchNorm1d, Linear, ReLU, Sequential, crossEntropy } from '@normgrad/nn';
import { describe, expect, it } from 'vitest';
import { Adam } from '../src/index.js';
import { makeRings, mulberry32 } from './synthetic.js';

function accuracy(logits: Tensor, labels: Int32Array): number {
  const values = logits.toFloat64Array();
  const classes = logits.shape[1]!;
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    const row = Array.from(values.subarray(classes * i, classes * (i + 1)));
    if (row.indexOf(Math.max(...row)) === labels[i]) correct++;
  }
  return correct / labels.length;
}

describe('end to end (nn): MLP with BatchNorm1d trained with Adam, float32', () => {
  it('reaches >= 97% train and >= 95% held-out accuracy on the rings problem in 150 steps', () => {
    const train = makeRings(mulberry32(1), 240);
    const test = makeRings(mulberry32(2), 240);
    manualSeed(0);
    const norm = new BatchNorm1d(32);
    const model = new Sequential(new Linear(2, 32), norm, new ReLU(), new Linear(32, 3));
    const normParams = new Set(norm.parameters());
    const optimizer = new Adam(
      [
        { params: model.parameters().filter((p) => !normParams.has(p)), weightDecay: 1e-4 },
        { params: [...normParams], weightDecay: 0 },
      ],
      { lr: 0.05 },
    );
    const losses: number[] = [];
    model.train();
    for (let step = 0; step < 150; step++) {
      optimizer.zeroGrad();
      const loss = crossEntropy(model.forward(train.x), train.labels);
      loss.backward();
      optimizer.step();
      losses.push(loss.item());
    }
    expect(model.parameters().every((p) => p.dtype === 'float32')).toBe(true);
    expect(losses[0]!).toBeGreaterThan(0.9);
    expect(losses.at(-1)!).toBeLessThan(0.1);
    model.eval();
    const trainAccuracy = accuracy(noGrad(() => model.forward(train.x)), train.labels);
    const testAccuracy = accuracy(noGrad(() => model.forward(test.x)), test.labels);
    expect(trainAccuracy).toBeGreaterThanOrEqual(0.97);
    expect(testAccuracy).toBeGreaterThanOrEqual(0.95);
  });
});
