import { noGrad, type Tensor } from '@normgrad/core';
import { Conv2d, Linear, ReLU, type Module } from '@normgrad/nn';
import { buildConvNet, normKind } from '../model.js';
import { formatSummary, summarize, type Summary } from '../stats.js';
import { linePlot } from '../svg-plot.js';
import { CHANCE_LOSS, trainRun, type RunResult } from '../train.js';
import { comparison, seedsText, summaryPoint, type ExperimentContext, type ExperimentReport } from './common.js';

const BATCH_SIZE = 32;
const NORMS = ['none', 'batch'];

/** Per weight layer (conv1, conv2, linear): the RMS of its block's output activation and the L2 norm of its weight's gradient. */
export interface LayerNorms {
  activationRms: number[];
  gradientNorm: number[];
}

function rms(t: Tensor): number {
  const values = t.toFloat64Array();
  return Math.sqrt(values.reduce((total, value) => total + value * value, 0) / values.length);
}

/**
 * The network's layers run one by one on `images` (no grad): the RMS of the output of each
 * block (after its ReLU; the logits for the last layer), and the gradient norm of each weight layer.
 * The running statistics this extra forward updates are restored afterwards.
 */
export function layerNorms(model: Module, images: Tensor): LayerNorms {
  const layers = model.children();
  const activationRms: number[] = [];
  const saved = model.stateDict();
  noGrad(() => {
    let x = images;
    layers.forEach((layer, index) => {
      x = layer.forward(x);
      if (layer instanceof ReLU || index === layers.length - 1) activationRms.push(rms(x));
    });
  });
  model.loadStateDict(saved);
  const gradientNorm = layers
    .filter((layer): layer is Conv2d | Linear => layer instanceof Conv2d || layer instanceof Linear)
    .map((layer) => (layer.weight.grad === null ? NaN : Math.sqrt(layer.weight.grad.toFloat64Array().reduce((total, value) => total + value * value, 0))));
  return { activationRms, gradientNorm };
}

interface Cell {
  norm: string;
  label: string;
  lr: number;
  finalLoss: Summary;
  testAccuracy: Summary;
  diverged: number;
  runs: number;
  initial: LayerNorms[];
  final: LayerNorms[];
}

/** Learning-rate range (Bjorck et al. 2018): plain SGD over learning rates, the convnet with and without BatchNorm. */
export function runLrRange(context: ExperimentContext): ExperimentReport {
  const started = performance.now();
  const { options, train, test, output, seeds } = context;
  const shape = { imageSize: options.imageSize, channels: options.channels };
  const lastStep = Math.floor(train.count / BATCH_SIZE) * options.epochs - 1;
  const cells: Cell[] = [];
  const total = NORMS.length * options.learningRates.length * seeds.length;
  let done = 0;
  for (const key of NORMS) {
    const norm = normKind(key);
    for (const lr of options.learningRates) {
      const results: RunResult[] = [];
      const initial: LayerNorms[] = [];
      const final: LayerNorms[] = [];
      for (const seed of seeds) {
        const title = `lr-range [${String(++done).padStart(String(total).length)}/${total}] ${norm.label.padEnd(9)} SGD lr ${String(lr).padEnd(5)} seed ${seed}`;
        results.push(
          trainRun(
            {
              title,
              seed,
              batchSize: BATCH_SIZE,
              epochs: options.epochs,
              build: () => buildConvNet(norm, shape),
              optimizer: { kind: 'sgd', lr },
              stopOnDivergence: true,
              beforeStep: (step, batch, model) => {
                if (step === 0) initial.push(layerNorms(model, batch.images));
                if (step === lastStep) final.push(layerNorms(model, batch.images));
              },
            },
            train,
            test,
            output,
          ),
        );
      }
      // diverged: a non-finite loss, or a final training loss no better than chance
      for (const result of results) {
        if (!(result.finalTrainLoss <= CHANCE_LOSS)) Object.assign(result, { diverged: true, finalTrainLoss: NaN, testAccuracy: NaN });
      }
      cells.push({
        norm: key,
        label: norm.label,
        lr,
        finalLoss: summarize(results.map((result) => result.finalTrainLoss)),
        testAccuracy: summarize(results.map((result) => result.testAccuracy)),
        diverged: results.filter((result) => result.diverged).length,
        runs: results.length,
        initial,
        final,
      });
    }
  }
  const labels = NORMS.map((key) => normKind(key).label);
  const largestStable = (key: string): number => Math.max(0, ...cells.filter((cell) => cell.norm === key && cell.diverged === 0).map((cell) => cell.lr));
  const bestLoss = (key: string): Cell => cells.filter((cell) => cell.norm === key && cell.finalLoss.n > 0).sort((a, b) => a.finalLoss.mean - b.finalLoss.mean)[0] ?? cells.find((cell) => cell.norm === key)!;
  const findings = [
    ...NORMS.map((key) => `${normKind(key).label}: largest learning rate with no diverged seed ${largestStable(key) || 'none'}; ${cells.filter((cell) => cell.norm === key).map((cell) => `lr ${cell.lr}: ${cell.diverged}/${cell.runs} diverged`).join(', ')}.`),
    `best final loss: ${comparison(`BatchNorm (lr ${bestLoss('batch').lr})`, bestLoss('batch').finalLoss, `no norm (lr ${bestLoss('none').lr})`, bestLoss('none').finalLoss, (s) => formatSummary(s))}.`,
  ];
  // Per-layer norms: at initialization (the same for every lr), and at the end of the largest lr where both trained without divergence.
  const commonLr = Math.max(0, ...options.learningRates.filter((lr) => NORMS.every((key) => cells.find((cell) => cell.norm === key && cell.lr === lr)!.diverged === 0)));
  const layerSummary = (key: string, when: 'initial' | 'final', metric: keyof LayerNorms): Summary[] => {
    const cell = cells.find((c) => c.norm === key && (when === 'initial' ? c.lr === options.learningRates[0] : c.lr === commonLr));
    const measured = cell?.[when] ?? [];
    const layerCount = measured[0]?.[metric].length ?? 0;
    return Array.from({ length: layerCount }, (_, layer) => summarize(measured.map((m) => m[metric][layer]!)));
  };
  const layerNames = ['conv1', 'conv2', 'linear'];
  const gradientSeries = NORMS.flatMap((key) =>
    (['initial', 'final'] as const).map((when) => ({
      name: `${normKind(key).label}, ${when === 'initial' ? 'init' : `end (lr ${commonLr})`}`,
      points: layerSummary(key, when, 'gradientNorm').map((summary, layer) => summaryPoint(layer + 1, summary)),
    })),
  );
  const layerRows = NORMS.flatMap((key) =>
    (['initial', 'final'] as const).map((when) => {
      const activations = layerSummary(key, when, 'activationRms');
      const gradients = layerSummary(key, when, 'gradientNorm');
      return [`${normKind(key).label}, ${when === 'initial' ? 'initialization' : `end of training at lr ${commonLr}`}`, ...layerNames.map((_, i) => `${formatSummary(activations[i] ?? summarize([]))} / ${formatSummary(gradients[i] ?? summarize([]), { digits: 4 })}`)];
    }),
  );
  return {
    key: 'lr-range',
    title: 'Learning-rate range',
    claim:
      'Bjorck et al. (2018, "Understanding batch normalization", https://arxiv.org/abs/1806.02375): BatchNorm lets a network train at much larger learning rates, which is what makes it generalize better; without it, large learning rates diverge because gradients (largest in the last layers of an unnormalized net at initialization) and activations grow without bound.',
    setup: `The convnet of the speed experiment, without a norm and with BatchNorm; plain SGD (no momentum) at learning rates ${options.learningRates.join(', ')}; batch size ${BATCH_SIZE}, ${train.count} training digits, ${options.epochs} epoch(s). A run diverged when a training loss was not finite (the run stops there) or its final training loss was above chance (ln 10 ≈ 2.303); a diverged run's loss and accuracy are left out of the means. ${seedsText(seeds)}.`,
    findings,
    figures: [
      {
        id: 'lr-range-loss',
        svg: linePlot({
          title: 'Final training loss by SGD learning rate',
          xLabel: 'learning rate (log scale)',
          yLabel: 'final training loss (non-diverged seeds)',
          series: NORMS.map((key) => ({ name: normKind(key).label, points: cells.filter((cell) => cell.norm === key).map((cell) => summaryPoint(cell.lr, cell.finalLoss)) })),
          logX: true,
        }),
        caption: `Final training loss (mean of the last 5% of steps) against the SGD learning rate; a point is missing where every seed diverged, and the mean covers only the seeds that did not (counts in the table). ${train.count} training digits, batch ${BATCH_SIZE}; mean over up to ${seeds.length} seeds, band: 95% t-interval.`,
        series: labels,
      },
      {
        id: 'lr-range-gradients',
        svg: linePlot({
          title: 'Gradient norm per layer',
          xLabel: 'weight layer (1 conv1, 2 conv2, 3 linear)',
          yLabel: "L2 norm of the weight's gradient",
          series: gradientSeries,
          xTicks: [1, 2, 3],
        }),
        caption: `L2 norm of each weight layer's gradient on the first training batch (initialization) and on the last batch of training at lr ${commonLr} (the largest learning rate where no seed of either network diverged); mean over ${seeds.length} seeds, band: 95% t-interval.`,
        series: gradientSeries.map((series) => series.name),
      },
    ],
    tables: [
      {
        caption: `Final training loss, test accuracy (all ${test.count} test digits, eval mode) and diverged seeds, by learning rate; mean [95% t-interval] over the seeds that did not diverge.`,
        header: ['normalization', 'lr', 'final train loss', 'test accuracy', 'diverged'],
        rows: cells.map((cell) => [cell.label, String(cell.lr), formatSummary(cell.finalLoss), formatSummary(cell.testAccuracy, { percent: true }), `${cell.diverged}/${cell.runs}`]),
      },
      {
        caption: `Per layer: RMS of the block's output activation (after its ReLU; the logits for the linear layer) / L2 norm of the weight's gradient, at initialization and at the end of training at lr ${commonLr}; mean [95% t-interval] over ${seeds.length} seeds.`,
        header: ['network, when', ...layerNames],
        rows: layerRows,
      },
    ],
    data: { cells, commonLr },
    wallSeconds: (performance.now() - started) / 1000,
    cpuSeconds: 0,
  };
}
