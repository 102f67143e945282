import { manualSeed, noGrad, tensor, type Tensor } from '@normgrad/core';
import { crossEntropy, type Module } from '@normgrad/nn';
import { Adam } from '@normgrad/optim';
import type { Digits } from './data.js';
import { buildConvNet, type ConvNetShape, type NormKind } from './model.js';
import { ProgressBar, type Output } from './progress.js';
import { seededRandom, shuffledIndices } from './random.js';

/** MNIST's pixel mean and standard deviation (the usual input normalization). */
const PIXEL_MEAN = 0.1307;
const PIXEL_STD = 0.3081;
/** Points on each run's training-loss curve and test-accuracy curve. */
const LOSS_POINTS = 50;
const ACCURACY_POINTS = 8;
/** Test digits evaluated for the accuracy curve (the final accuracy uses the whole test set). */
const CURVE_TEST_DIGITS = 500;
const EVAL_BATCH = 250;
/** The final training loss is the mean over this last fraction of the steps. */
const FINAL_LOSS_FRACTION = 0.05;

function mean(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0) / values.length;
}

export interface RunConfig {
  norm: NormKind;
  batchSize: number;
  epochs: number;
  seed: number;
  learningRate: number;
  shape: ConvNetShape;
}

/** x: epochs of training done (fractional); y: the measured value. */
export interface CurvePoint {
  epoch: number;
  value: number;
}

export interface RunResult {
  norm: string;
  normLabel: string;
  batchSize: number;
  steps: number;
  examples: number;
  /** Time in training steps (forward, backward, Adam), without evaluation. */
  trainSeconds: number;
  examplesPerSecond: number;
  /** Mean training loss over the last 5% of the steps. */
  finalTrainLoss: number;
  /** Accuracy on the whole test set after training, in [0, 1]. */
  testAccuracy: number;
  lossCurve: CurvePoint[];
  accuracyCurve: CurvePoint[];
}

/** The digits at `indices` as an (N, 1, H, W) float32 tensor, normalized, and their labels. */
export function digitBatch(digits: Digits, indices: readonly number[]): { images: Tensor; labels: number[] } {
  const pixels = digits.height * digits.width;
  const data = new Float32Array(indices.length * pixels);
  indices.forEach((source, row) => {
    const image = digits.images.subarray(source * pixels, (source + 1) * pixels);
    for (let i = 0; i < pixels; i++) data[row * pixels + i] = (image[i]! - PIXEL_MEAN) / PIXEL_STD;
  });
  return {
    images: tensor(data, { shape: [indices.length, 1, digits.height, digits.width] }),
    labels: indices.map((source) => digits.labels[source]!),
  };
}

function countCorrect(logits: Tensor, labels: readonly number[]): number {
  const [rows, classes] = [logits.shape[0]!, logits.shape[1]!];
  const values = logits.toTypedArray();
  let correct = 0;
  for (let row = 0; row < rows; row++) {
    let best = 0;
    for (let cls = 1; cls < classes; cls++) if (values[row * classes + cls]! > values[row * classes + best]!) best = cls;
    if (best === labels[row]) correct++;
  }
  return correct;
}

/** Accuracy in eval mode (running statistics for BatchNorm) on the first `limit` test digits. */
export function evaluate(model: Module, digits: Digits, limit = digits.count): number {
  const count = Math.min(limit, digits.count);
  model.eval();
  let correct = 0;
  noGrad(() => {
    for (let start = 0; start < count; start += EVAL_BATCH) {
      const indices = Array.from({ length: Math.min(EVAL_BATCH, count - start) }, (_, i) => start + i);
      const { images, labels } = digitBatch(digits, indices);
      correct += countCorrect(model.forward(images), labels);
    }
  });
  model.train();
  return correct / count;
}

/**
 * Trains a fresh convnet with one normalization and batch size, with Adam, and records the curves.
 * Model initialization (core's manualSeed) and batch order both come from config.seed, so every
 * normalization starts from the same conv/linear weights and sees the same batches. An incomplete
 * last batch is dropped, so every step has exactly batchSize digits.
 */
export function trainRun(config: RunConfig, train: Digits, test: Digits, output: Output, title: string): RunResult {
  manualSeed(config.seed);
  const model = buildConvNet(config.norm, config.shape);
  const optimizer = new Adam(model.parameters(), { lr: config.learningRate });
  const random = seededRandom(config.seed);
  const stepsPerEpoch = Math.floor(train.count / config.batchSize);
  const totalSteps = stepsPerEpoch * config.epochs;
  const lossEvery = Math.max(1, Math.floor(totalSteps / LOSS_POINTS));
  const accuracyEvery = Math.max(1, Math.floor(totalSteps / ACCURACY_POINTS));
  const progress = new ProgressBar(output, title);

  const lossCurve: CurvePoint[] = [];
  const accuracyCurve: CurvePoint[] = [{ epoch: 0, value: evaluate(model, test, CURVE_TEST_DIGITS) }];
  let [windowLoss, windowCorrect, windowSteps] = [0, 0, 0];
  let [recentLoss, recentAccuracy] = [NaN, NaN];
  const stepLosses: number[] = [];
  let trainMilliseconds = 0;
  let step = 0;
  for (let epoch = 0; epoch < config.epochs; epoch++) {
    const order = shuffledIndices(train.count, random);
    for (let batch = 0; batch < stepsPerEpoch; batch++) {
      const { images, labels } = digitBatch(train, order.slice(batch * config.batchSize, (batch + 1) * config.batchSize));
      const started = performance.now();
      optimizer.zeroGrad();
      const logits = model.forward(images);
      const loss = crossEntropy(logits, labels);
      loss.backward();
      optimizer.step();
      trainMilliseconds += performance.now() - started;
      step++;

      stepLosses.push(loss.item());
      windowLoss += stepLosses.at(-1)!;
      windowCorrect += countCorrect(logits, labels) / config.batchSize;
      windowSteps++;
      const epochsDone = step / stepsPerEpoch;
      if (step % lossEvery === 0 || step === totalSteps) {
        [recentLoss, recentAccuracy] = [windowLoss / windowSteps, windowCorrect / windowSteps];
        lossCurve.push({ epoch: epochsDone, value: recentLoss });
        [windowLoss, windowCorrect, windowSteps] = [0, 0, 0];
      }
      const logNow = step % accuracyEvery === 0;
      if (logNow && step !== totalSteps) accuracyCurve.push({ epoch: epochsDone, value: evaluate(model, test, CURVE_TEST_DIGITS) });
      const examplesPerSecond = (step * config.batchSize) / (trainMilliseconds / 1000);
      progress.update(
        {
          step,
          totalSteps,
          loss: Number.isNaN(recentLoss) ? windowLoss / windowSteps : recentLoss,
          accuracy: Number.isNaN(recentAccuracy) ? windowCorrect / windowSteps : recentAccuracy,
          examplesPerSecond,
          elapsedSeconds: trainMilliseconds / 1000,
          secondsLeft: ((totalSteps - step) * config.batchSize) / examplesPerSecond,
        },
        { log: logNow },
      );
    }
  }
  const testAccuracy = evaluate(model, test);
  accuracyCurve.push({ epoch: config.epochs, value: evaluate(model, test, CURVE_TEST_DIGITS) });
  const trainSeconds = trainMilliseconds / 1000;
  return {
    norm: config.norm.key,
    normLabel: config.norm.label,
    batchSize: config.batchSize,
    steps: totalSteps,
    examples: totalSteps * config.batchSize,
    trainSeconds,
    examplesPerSecond: (totalSteps * config.batchSize) / trainSeconds,
    finalTrainLoss: mean(stepLosses.slice(-Math.max(1, Math.round(totalSteps * FINAL_LOSS_FRACTION)))),
    testAccuracy,
    lossCurve,
    accuracyCurve,
  };
}
