/**
 * End to end, from core ops only: an MLP with batch normalization (written here as its formula,
 * so this test does not depend on @normgrad/nn) trained with Adam, in float32, on a fixed
 * synthetic 3-class problem (concentric rings; not linearly separable).
 */
import { noGrad, tensor, type Tensor } from '@normgrad/core';
import { describe, expect, it } from 'vitest';
import { Adam } from '../src/index.js';
import { makeRings, mulberry32, uniformTensor } from './synthetic.js';

const HIDDEN = 32;
const EPS = 1e-5;
const MOMENTUM = 0.1;

class RingsMlp {
  readonly random = mulberry32(7);
  readonly w1 = uniformTensor(this.random, [2, HIDDEN], 1 / Math.sqrt(2));
  readonly b1 = uniformTensor(this.random, [HIDDEN], 1 / Math.sqrt(2));
  readonly gamma = tensor(new Float32Array(HIDDEN).fill(1), { requiresGrad: true });
  readonly beta = tensor(new Float32Array(HIDDEN), { requiresGrad: true });
  readonly w2 = uniformTensor(this.random, [HIDDEN, 3], 1 / Math.sqrt(HIDDEN));
  readonly b2 = uniformTensor(this.random, [3], 1 / Math.sqrt(HIDDEN));
  runningMean: Tensor = tensor(new Float32Array(HIDDEN));
  runningVar: Tensor = tensor(new Float32Array(HIDDEN).fill(1));

  parameters(): Tensor[] {
    return [this.w1, this.b1, this.gamma, this.beta, this.w2, this.b2];
  }

  forward(x: Tensor, training: boolean): Tensor {
    const h = x.matmul(this.w1).add(this.b1);
    let mean: Tensor;
    let variance: Tensor;
    if (training) {
      // batch statistics: normalize with the biased variance, track the unbiased one (PyTorch)
      mean = h.mean(0, true);
      variance = h.sub(mean).square().mean(0, true);
      const n = h.shape[0]!;
      noGrad(() => {
        this.runningMean = this.runningMean.mul(1 - MOMENTUM).add(mean.detach().reshape([HIDDEN]).mul(MOMENTUM));
        const unbiased = variance.detach().reshape([HIDDEN]).mul(n / (n - 1));
        this.runningVar = this.runningVar.mul(1 - MOMENTUM).add(unbiased.mul(MOMENTUM));
      });
    } else {
      mean = this.runningMean;
      variance = this.runningVar;
    }
    const normalized = h.sub(mean).div(variance.add(EPS).sqrt()).mul(this.gamma).add(this.beta);
    return normalized.relu().matmul(this.w2).add(this.b2);
  }
}

function crossEntropy(logits: Tensor, oneHot: Tensor): Tensor {
  return logits.logSoftmax(1).mul(oneHot).sum(1).mean().neg();
}

function accuracy(logits: Tensor, labels: Int32Array): number {
  const values = logits.toFloat64Array();
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    const row = Array.from(values.subarray(3 * i, 3 * i + 3));
    if (row.indexOf(Math.max(...row)) === labels[i]) correct++;
  }
  return correct / labels.length;
}

describe('end to end (core ops): MLP + batch norm + Adam, float32', () => {
  it('reaches >= 97% train and >= 95% held-out accuracy on the rings problem in 150 steps', () => {
    const train = makeRings(mulberry32(1), 240);
    const test = makeRings(mulberry32(2), 240);
    const model = new RingsMlp();
    const optimizer = new Adam(model.parameters(), { lr: 0.05 });
    let firstLoss = NaN;
    let lastLoss = NaN;
    for (let step = 0; step < 150; step++) {
      optimizer.zeroGrad();
      const loss = crossEntropy(model.forward(train.x, true), train.oneHot);
      loss.backward();
      optimizer.step();
      if (step === 0) firstLoss = loss.item();
      lastLoss = loss.item();
    }
    expect(model.w1.dtype).toBe('float32');
    expect(firstLoss).toBeGreaterThan(0.9);
    expect(lastLoss).toBeLessThan(0.1);
    const trainAccuracy = accuracy(noGrad(() => model.forward(train.x, false)), train.labels);
    const testAccuracy = accuracy(noGrad(() => model.forward(test.x, false)), test.labels);
    expect(trainAccuracy).toBeGreaterThanOrEqual(0.97);
    expect(testAccuracy).toBeGreaterThanOrEqual(0.95);
  });
});
