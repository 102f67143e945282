import { compile, manualSeed, noGrad, tensor, type DType, type Tensor } from '@normgrad/core';
import { crossEntropy, type Module } from '@normgrad/nn';
import { Adam, SGD } from '@normgrad/optim';
import type { Digits } from './data.js';
import { ProgressBar, type Output } from './progress.js';
import { seededRandom, shuffledIndices } from './random.js';
import { mean } from './stats.js';

/** MNIST's pixel mean and standard deviation (the usual input normalization). */
const PIXEL_MEAN = 0.1307;
const PIXEL_STD = 0.3081;
/** Points on each run's training-loss curve. */
const LOSS_POINTS = 50;
/** Test digits evaluated for the accuracy curve (the final accuracy uses the whole test set). */
export const CURVE_TEST_DIGITS = 500;
const EVAL_BATCH = 250;
/** The final training loss is the mean over this last fraction of the steps. */
const FINAL_LOSS_FRACTION = 0.05;
/** The cross-entropy of guessing among 10 classes, ln 10 ≈ 2.303. */
export const CHANCE_LOSS = Math.log(10);

/** How training batches are drawn: shuffled (i.i.d.), or each batch half from one class and half from another. */
export type BatchOrder = 'iid' | 'two-classes';

export interface RunSpec {
  /** Names the run in the progress line. */
  title: string;
  seed: number;
  batchSize: number;
  epochs: number;
  /** Builds the model; called after manualSeed(seed), so equal seeds give equal initial weights. */
  build: () => Module;
  optimizer: { kind: 'adam' | 'sgd'; lr: number };
  batchOrder?: BatchOrder;
  /** dtype of the input images (the model's dtype). Default float32. */
  dtype?: DType;
  /** Test-accuracy curve points (on the first CURVE_TEST_DIGITS test digits); 0: none. Default 0. */
  accuracyPoints?: number;
  /** Stop at the first non-finite loss (the rest of the run would be NaN). Default false. */
  stopOnDivergence?: boolean;
  /** Called before each optimizer step with the step's batch (after the forward and backward). */
  beforeStep?: (step: number, batch: { images: Tensor; labels: number[] }, model: Module) => void;
  /**
   * Run each training step through core's `compile` (traced once, then replayed: the same values
   * bit for bit, faster). Default true; a run with `beforeStep` runs eagerly, since it looks at the
   * gradients between the backward pass and the update.
   */
  compiled?: boolean;
}

/** x: epochs of training done (fractional); y: the measured value. */
export interface CurvePoint {
  epoch: number;
  value: number;
}

export interface RunResult {
  title: string;
  seed: number;
  batchSize: number;
  steps: number;
  /** Time in training steps (forward, backward, optimizer), without evaluation or beforeStep. */
  trainSeconds: number;
  examplesPerSecond: number;
  /** Mean training loss over the last 5% of the steps (NaN when diverged). */
  finalTrainLoss: number;
  /** A training loss was not finite. */
  diverged: boolean;
  /** Accuracy in eval mode on the whole test set after training, in [0, 1] (NaN when diverged). */
  testAccuracy: number;
  lossCurve: CurvePoint[];
  accuracyCurve: CurvePoint[];
  /** The trained model (not serialized). */
  model: Module;
}

/** The digits at `indices` as an (N, 1, H, W) tensor, normalized, and their labels. */
export function digitBatch(digits: Digits, indices: readonly number[], dtype: DType = 'float32'): { images: Tensor; labels: number[] } {
  const pixels = digits.height * digits.width;
  const data = dtype === 'float64' ? new Float64Array(indices.length * pixels) : new Float32Array(indices.length * pixels);
  indices.forEach((source, row) => {
    const image = digits.images.subarray(source * pixels, (source + 1) * pixels);
    for (let i = 0; i < pixels; i++) data[row * pixels + i] = (image[i]! - PIXEL_MEAN) / PIXEL_STD;
  });
  return {
    images: tensor(data, { shape: [indices.length, 1, digits.height, digits.width], dtype }),
    labels: indices.map((source) => digits.labels[source]!),
  };
}

export function countCorrect(logits: Tensor, labels: readonly number[]): number {
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

/**
 * Accuracy on the first `limit` test digits. mode 'eval' (default): running statistics;
 * 'train': batch statistics of test batches of `batchSize` (a last partial batch is dropped).
 * Train mode updates running statistics: pass a copy of the model there.
 */
export function evaluate(model: Module, digits: Digits, options: { limit?: number; mode?: 'eval' | 'train'; batchSize?: number; dtype?: DType } = {}): number {
  const mode = options.mode ?? 'eval';
  const batchSize = options.batchSize ?? EVAL_BATCH;
  let count = Math.min(options.limit ?? digits.count, digits.count);
  if (mode === 'train') count -= count % batchSize;
  if (mode === 'eval') model.eval();
  let correct = 0;
  noGrad(() => {
    for (let start = 0; start < count; start += batchSize) {
      const indices = Array.from({ length: Math.min(batchSize, count - start) }, (_, i) => start + i);
      const { images, labels } = digitBatch(digits, indices, options.dtype);
      correct += countCorrect(model.forward(images), labels);
    }
  });
  model.train();
  return correct / count;
}

/**
 * One epoch's batches of `batchSize` indices. 'iid': a shuffle cut into batches (a last partial
 * batch dropped). 'two-classes': each class's shuffled digits cut into halves of a batch, the
 * halves shuffled and paired with the next half of another class (Ioffe 2017's non-i.i.d. setting).
 */
export function epochBatches(digits: Digits, batchSize: number, order: BatchOrder, random: () => number): number[][] {
  const shuffled = shuffledIndices(digits.count, random);
  if (order === 'iid') return Array.from({ length: Math.floor(digits.count / batchSize) }, (_, b) => shuffled.slice(b * batchSize, (b + 1) * batchSize));
  if (batchSize % 2 !== 0) throw new Error(`epochBatches: two-class batches need an even batch size, got ${batchSize}`);
  const half = batchSize / 2;
  const halves: { label: number; indices: number[] }[] = [];
  for (let label = 0; label < 10; label++) {
    const ofClass = shuffled.filter((index) => digits.labels[index] === label);
    for (let start = 0; start + half <= ofClass.length; start += half) halves.push({ label, indices: ofClass.slice(start, start + half) });
  }
  const pending = shuffledIndices(halves.length, random).map((i) => halves[i]!);
  const batches: number[][] = [];
  while (pending.length > 1) {
    const first = pending.shift()!;
    const partner = pending.findIndex((other) => other.label !== first.label);
    if (partner < 0) break;
    batches.push([...first.indices, ...pending.splice(partner, 1)[0]!.indices]);
  }
  return batches;
}

/**
 * Trains a fresh model and records the curves. Model initialization (core's manualSeed) and batch
 * order both come from spec.seed, so runs with equal seeds start from the same weights and see
 * the same batches.
 */
export function trainRun(spec: RunSpec, train: Digits, test: Digits, output: Output): RunResult {
  manualSeed(spec.seed);
  const model = spec.build();
  model.train();
  const optimizer = spec.optimizer.kind === 'adam' ? new Adam(model.parameters(), { lr: spec.optimizer.lr }) : new SGD(model.parameters(), { lr: spec.optimizer.lr });
  const random = seededRandom(spec.seed);
  const order = spec.batchOrder ?? 'iid';
  const epochs = Array.from({ length: spec.epochs }, () => epochBatches(train, spec.batchSize, order, random));
  const totalSteps = epochs.reduce((total, batches) => total + batches.length, 0);
  const stepsPerEpoch = totalSteps / spec.epochs;
  const lossEvery = Math.max(1, Math.floor(totalSteps / LOSS_POINTS));
  const accuracyPoints = spec.accuracyPoints ?? 0;
  const accuracyEvery = accuracyPoints > 0 ? Math.max(1, Math.floor(totalSteps / accuracyPoints)) : Infinity;
  const progress = new ProgressBar(output, spec.title);
  const curveAccuracy = (): number => evaluate(model, test, { limit: CURVE_TEST_DIGITS, dtype: spec.dtype });
  const forwardBackward = (images: Tensor, labels: Tensor | number[]): { loss: Tensor; logits: Tensor } => {
    optimizer.zeroGrad();
    const logits = model.forward(images);
    const loss = crossEntropy(logits, labels);
    loss.backward();
    return { loss, logits };
  };
  const compiledStep = (spec.compiled ?? true) && spec.beforeStep === undefined
    ? compile((images: Tensor, labels: Tensor) => {
      const result = forwardBackward(images, labels);
      optimizer.step();
      return result;
    })
    : null;

  const lossCurve: CurvePoint[] = [];
  const accuracyCurve: CurvePoint[] = accuracyPoints > 0 ? [{ epoch: 0, value: curveAccuracy() }] : [];
  let [windowLoss, windowCorrect, windowSteps] = [0, 0, 0];
  let [recentLoss, recentAccuracy] = [NaN, NaN];
  const stepLosses: number[] = [];
  let trainMilliseconds = 0;
  let step = 0;
  let nonFinite = false;
  for (const batches of epochs) {
    for (const indices of batches) {
      const batch = digitBatch(train, indices, spec.dtype);
      const started = performance.now();
      let loss: Tensor;
      let logits: Tensor;
      if (compiledStep !== null) {
        ({ loss, logits } = compiledStep(batch.images, tensor(Int32Array.from(batch.labels), { dtype: 'int32' })));
        trainMilliseconds += performance.now() - started;
      } else {
        ({ loss, logits } = forwardBackward(batch.images, batch.labels));
        trainMilliseconds += performance.now() - started;
        spec.beforeStep?.(step, batch, model);
        const resumed = performance.now();
        optimizer.step();
        trainMilliseconds += performance.now() - resumed;
      }
      step++;

      const value = loss.item();
      stepLosses.push(value);
      if (!Number.isFinite(value)) nonFinite = true;
      windowLoss += value;
      windowCorrect += countCorrect(logits, batch.labels) / spec.batchSize;
      windowSteps++;
      const epochsDone = step / stepsPerEpoch;
      const last = step === totalSteps || (nonFinite && spec.stopOnDivergence === true);
      if (step % lossEvery === 0 || last) {
        [recentLoss, recentAccuracy] = [windowLoss / windowSteps, windowCorrect / windowSteps];
        lossCurve.push({ epoch: epochsDone, value: recentLoss });
        [windowLoss, windowCorrect, windowSteps] = [0, 0, 0];
      }
      const logNow = step % accuracyEvery === 0;
      if (logNow && !last) accuracyCurve.push({ epoch: epochsDone, value: curveAccuracy() });
      const examplesPerSecond = (step * spec.batchSize) / (trainMilliseconds / 1000);
      progress.update(
        {
          step: last ? totalSteps : step,
          totalSteps,
          loss: Number.isNaN(recentLoss) ? windowLoss / windowSteps : recentLoss,
          accuracy: Number.isNaN(recentAccuracy) ? windowCorrect / windowSteps : recentAccuracy,
          examplesPerSecond,
          elapsedSeconds: trainMilliseconds / 1000,
          secondsLeft: ((totalSteps - step) * spec.batchSize) / examplesPerSecond,
        },
        { log: logNow },
      );
      if (last) break;
    }
    if (nonFinite && spec.stopOnDivergence === true) break;
  }
  const finalTrainLoss = mean(stepLosses.slice(-Math.max(1, Math.round(step * FINAL_LOSS_FRACTION))));
  const diverged = nonFinite;
  const testAccuracy = diverged ? NaN : evaluate(model, test, { dtype: spec.dtype });
  if (accuracyPoints > 0) accuracyCurve.push({ epoch: step / stepsPerEpoch, value: diverged ? NaN : curveAccuracy() });
  const trainSeconds = trainMilliseconds / 1000;
  return {
    title: spec.title,
    seed: spec.seed,
    batchSize: spec.batchSize,
    steps: step,
    trainSeconds,
    examplesPerSecond: (step * spec.batchSize) / trainSeconds,
    finalTrainLoss: diverged ? NaN : finalTrainLoss,
    diverged,
    testAccuracy,
    lossCurve,
    accuracyCurve,
    model,
  };
}
