import { manualSeed, noGrad, tensor, type Tensor } from '@normgrad/core';
import { describe, expect, it } from 'vitest';
import { BatchNorm1d, Linear, ReLU, Sequential, crossEntropy } from '../src/index.js';
import { assignInPlace } from '@normgrad/core';
import { seededValues } from './helpers.js';

/**
 * A fixed synthetic 3-class problem that a linear model cannot solve: 128 points in [-1, 1]^4,
 * class 0 when x0 * x1 > 0 (XOR-like), else class 1 when x2 > 0, else class 2.
 */
function syntheticProblem(): { inputs: Tensor; labels: number[] } {
  const count = 128;
  const values = seededValues(2024, count * 4);
  const labels = Array.from({ length: count }, (_, n) => {
    const [x0, x1, x2] = [values[4 * n]!, values[4 * n + 1]!, values[4 * n + 2]!];
    return x0 * x1 > 0 ? 0 : x2 > 0 ? 1 : 2;
  });
  return { inputs: tensor(values, { shape: [count, 4], dtype: 'float32' }), labels };
}

const STEPS = 200;
const LEARNING_RATE = 0.5;
const TRAIN_LOSS_BELOW = 0.1;
const EVAL_LOSS_BELOW = 0.1;

describe('end to end: an MLP with BatchNorm trained by plain gradient steps (float32)', () => {
  it(`reaches training loss < ${TRAIN_LOSS_BELOW} after ${STEPS} full-batch steps, and eval loss (running statistics) < ${EVAL_LOSS_BELOW}`, () => {
    manualSeed(0);
    const model = new Sequential(new Linear(4, 32), new BatchNorm1d(32), new ReLU(), new Linear(32, 3));
    const { inputs, labels } = syntheticProblem();
    const losses: number[] = [];
    for (let step = 0; step < STEPS; step++) {
      model.zeroGrad();
      const loss = crossEntropy(model.forward(inputs), labels);
      loss.backward();
      losses.push(loss.item());
      noGrad(() => {
        for (const p of model.parameters()) assignInPlace(p, p.sub(p.grad!.mul(LEARNING_RATE)));
      });
    }
    const finalTrainLoss = noGrad(() => crossEntropy(model.forward(inputs), labels).item());
    model.eval();
    const evalLogits = noGrad(() => model.forward(inputs));
    const evalLoss = crossEntropy(evalLogits, labels).item();
    const predictions = evalLogits.toArray() as number[][];
    const accuracy = predictions.filter((row, n) => row.indexOf(Math.max(...row)) === labels[n]).length / labels.length;

    expect(losses[0]).toBeGreaterThan(0.9); // starts near log(3)
    expect(finalTrainLoss).toBeLessThan(TRAIN_LOSS_BELOW);
    expect(evalLoss).toBeLessThan(EVAL_LOSS_BELOW);
    expect(accuracy).toBeGreaterThan(0.95);
    expect((model.at(1) as BatchNorm1d).numBatchesTracked).toBe(STEPS + 1);
    console.info(`MLP: loss ${losses[0]!.toFixed(3)} -> ${finalTrainLoss.toFixed(4)} (train), ${evalLoss.toFixed(4)} (eval), accuracy ${accuracy}`);
  });
});
