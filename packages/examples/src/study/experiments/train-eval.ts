import { noGrad } from '@normgrad/core';
import { BatchNorm2d } from '@normgrad/nn';
import { buildConvNet, normKind, type NormKind } from '../model.js';
import { formatSummary, summarize, type Summary } from '../stats.js';
import { linePlot } from '../svg-plot.js';
import { digitBatch, evaluate, trainRun } from '../train.js';
import { comparison, pairedDifference, points, seedsText, summaryPoint, type ExperimentContext, type ExperimentReport } from './common.js';

/** Batch size of the forward passes that accumulate precise statistics. */
const PRECISE_BATCH = 32;
/** BatchNorm2d with a cumulative average of the batch statistics (momentum null): precise population statistics. */
const PRECISE_BATCH_NORM: NormKind = { key: 'batch-precise', label: 'BatchNorm (precise)', make: (channels) => new BatchNorm2d(channels, { momentum: null }) };

const percent = (summary: Summary): string => formatSummary(summary, { percent: true });

interface Cell {
  batchSize: number;
  trainMode: Summary;
  ema: Summary;
  precise: Summary;
  perSeed: { seed: number; trainMode: number; ema: number; precise: number }[];
}

/**
 * Train/eval discrepancy (Wu & Johnson 2021): the BatchNorm convnet trained at each batch size,
 * tested with the statistics of test batches of that size (train mode), with the EMA running
 * statistics (eval mode), and with precise statistics: a cumulative average over the whole
 * training subset in batches of 32, with the trained weights frozen.
 */
export function runTrainEval(context: ExperimentContext): ExperimentReport {
  const started = performance.now();
  const { options, train, test, output, seeds } = context;
  const shape = { imageSize: options.imageSize, channels: options.channels };
  const batchNorm = normKind('batch');
  const cells: Cell[] = [];
  const total = options.batchSizes.length * seeds.length;
  let done = 0;
  for (const batchSize of options.batchSizes) {
    const perSeed: Cell['perSeed'] = [];
    for (const seed of seeds) {
      const title = `train-eval [${String(++done).padStart(String(total).length)}/${total}] BatchNorm batch ${String(batchSize).padEnd(3)} seed ${seed}`;
      const run = trainRun({ title, seed, batchSize, epochs: options.epochs, build: () => buildConvNet(batchNorm, shape), optimizer: { kind: 'adam', lr: options.learningRate } }, train, test, output);
      const copy = buildConvNet(batchNorm, shape);
      copy.loadStateDict(run.model.stateDict());
      const trainMode = evaluate(copy, test, { mode: 'train', batchSize });
      const precise = buildConvNet(PRECISE_BATCH_NORM, shape);
      precise.loadStateDict(Object.fromEntries(run.model.namedParameters().map(([name, value]) => [name, value.detach()])), { strict: false });
      noGrad(() => {
        for (let start = 0; start + PRECISE_BATCH <= train.count; start += PRECISE_BATCH) {
          precise.forward(digitBatch(train, Array.from({ length: PRECISE_BATCH }, (_, i) => start + i)).images);
        }
      });
      perSeed.push({ seed, trainMode, ema: run.testAccuracy, precise: evaluate(precise, test) });
    }
    cells.push({
      batchSize,
      trainMode: summarize(perSeed.map((s) => s.trainMode)),
      ema: summarize(perSeed.map((s) => s.ema)),
      precise: summarize(perSeed.map((s) => s.precise)),
      perSeed,
    });
  }
  const modes = [
    ['batch statistics (train mode, test batches of B)', 'trainMode'],
    ['EMA running statistics (eval mode)', 'ema'],
    ['precise statistics (eval mode)', 'precise'],
  ] as const;
  const findings = cells.map(
    (cell) =>
      `batch ${cell.batchSize}: ${comparison('precise', cell.precise, 'EMA', cell.ema, percent)}, paired by seed ${pairedPreciseMinusEma(cell)}; ` +
        `${comparison('train mode', cell.trainMode, 'EMA', cell.ema, percent)}; EMA − train mode gap per seed ${summaryGap(cell)}.`,
  );
  return {
    key: 'train-eval',
    title: 'Train/eval discrepancy and precise statistics',
    claim:
      'Wu & Johnson (2021, "Rethinking \\"Batch\\" in BatchNorm", https://arxiv.org/abs/2105.07576): the EMA of batch statistics lags the changing weights and is a poor population estimate, most of all at small batches; "precise BN" (statistics recomputed over many batches with frozen weights) closes part of the gap; train-mode and eval-mode statistics behave differently, and the gap between them grows as the batch shrinks.',
    setup: `The BatchNorm convnet of the speed experiment trained at batch sizes ${options.batchSizes.join(', ')} (Adam lr ${options.learningRate}, ${train.count} training digits, ${options.epochs} epoch(s), BatchNorm momentum 0.1); tested on all ${test.count} test digits three ways: train mode on test batches of the training batch size, eval mode with the EMA running statistics, and eval mode with precise statistics (BatchNorm2d with momentum: null, a cumulative average over the ${train.count} training digits in batches of ${PRECISE_BATCH}, weights frozen). ${seedsText(seeds)}.`,
    findings,
    figures: [
      {
        id: 'train-eval-accuracy',
        svg: linePlot({
          title: 'Test accuracy by batch size and choice of statistics',
          xLabel: 'training batch size B (log scale)',
          yLabel: `accuracy on ${test.count} test digits`,
          series: modes.map(([name, key]) => ({ name, points: cells.map((cell) => summaryPoint(cell.batchSize, cell[key])) })),
          logX: true,
          formatY: (value) => `${Math.round(value * 100)}%`,
        }),
        caption: `Test accuracy of the BatchNorm convnet (all ${test.count} test digits) against the training batch size, with three choices of normalization statistics at test time; ${train.count} training digits; mean over ${seeds.length} seeds, band: 95% t-interval.`,
        series: modes.map(([name]) => name),
      },
    ],
    tables: [
      {
        caption: `Test accuracy (all ${test.count} test digits), mean [95% t-interval] over ${seeds.length} seeds.`,
        header: ['batch size', ...modes.map(([name]) => name), 'precise − EMA, paired by seed'],
        rows: cells.map((cell) => [String(cell.batchSize), ...modes.map(([, key]) => percent(cell[key])), pairedPreciseMinusEma(cell)]),
      },
    ],
    data: { cells },
    wallSeconds: (performance.now() - started) / 1000,
    cpuSeconds: 0,
  };
}

function summaryGap(cell: Cell): string {
  return formatSummary(summarize(cell.perSeed.map((s) => s.ema - s.trainMode)), { percent: true });
}

/** Precise minus EMA accuracy per seed (the same trained weights), in percentage points. */
function pairedPreciseMinusEma(cell: Cell): string {
  return pairedDifference(cell.perSeed.map((s) => s.precise), cell.perSeed.map((s) => s.ema), points);
}
