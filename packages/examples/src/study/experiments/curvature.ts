import { hvp, tensor, valueAndGrad, type Tensor } from '@normgrad/core';
import { BatchNorm1d, crossEntropy, functionalCall, type Module } from '@normgrad/nn';
import { lanczos, smoothedDensity, type Quadrature } from '../lanczos.js';
import { buildMlp, featureNormKind, type FeatureNormKind } from '../model.js';
import { seededRandom } from '../random.js';
import { formatSummary, summarize, type Summary } from '../stats.js';
import { linePlot, type Series } from '../svg-plot.js';
import { digitBatch, trainRun } from '../train.js';
import { comparison, pairedDifference, seedsText, summaryPoint, type ExperimentContext, type ExperimentReport } from './common.js';

/** Hidden widths of the float64 MLP: 196 → 32 → (BatchNorm) → ReLU → 32 → (BatchNorm) → ReLU → 10. */
const HIDDEN = [32, 32];
const BATCH_SIZE = 32;
const SGD_LR = 0.1;
/** Lanczos iterations for the top eigenvalue between the density checkpoints. */
const TOP_EIGENVALUE_STEPS = 20;
/** Points over training where the top eigenvalue and the loss landscape along the gradient are measured. */
const TRACK_POINTS = 6;
/** Step sizes along −gradient, in multiples of the learning rate (Santurkar et al. 2018, Fig. 4). */
const STEP_MULTIPLES = [0.25, 0.5, 1, 2, 4];
/** Gaussian width of the smoothed density, as a fraction of the spectrum's range. */
const DENSITY_WIDTH = 0.01;
const DENSITY_GRID = 120;
const LOG_DENSITY_FLOOR = -6;

/** The same MLP whose BatchNorm always uses batch statistics (no running buffers): the training loss as a pure function of the parameters. */
const BATCH_STATISTICS_NORM: FeatureNormKind = { key: 'batch', label: 'BatchNorm', make: (features, _, dtype) => new BatchNorm1d(features, { dtype, trackRunningStats: false }) };
const NETWORKS = [
  { key: 'none', label: 'no norm', train: featureNormKind('none'), pure: featureNormKind('none') },
  { key: 'batch', label: 'BatchNorm', train: featureNormKind('batch'), pure: BATCH_STATISTICS_NORM },
];

function flatten(tensors: readonly Tensor[]): Float64Array {
  const flat = new Float64Array(tensors.reduce((total, t) => total + t.size, 0));
  let offset = 0;
  for (const t of tensors) {
    flat.set(t.toFloat64Array(), offset);
    offset += t.size;
  }
  return flat;
}

function unflatten(flat: Float64Array, like: readonly Tensor[]): Tensor[] {
  let offset = 0;
  return like.map((t) => {
    const part = tensor(flat.slice(offset, offset + t.size), { shape: t.shape, dtype: 'float64' });
    offset += t.size;
    return part;
  });
}

function gaussianVector(length: number, random: () => number): Float64Array {
  const values = new Float64Array(length);
  for (let i = 0; i < length; i++) values[i] = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return values;
}

const norm2 = (v: Float64Array): number => Math.sqrt(v.reduce((total, value) => total + value * value, 0));

/** The loss of the batch-statistics twin on (images, labels) as a function of its parameter tensors. */
function lossFunction(pure: Module, images: Tensor, labels: number[]): (...parameters: Tensor[]) => Tensor {
  const names = pure.namedParameters().map(([name]) => name);
  return (...parameters) => crossEntropy(functionalCall(pure, Object.fromEntries(names.map((name, i) => [name, parameters[i]!])), images), labels);
}

/** Loss and gradient variation along −gradient from the current point (Santurkar et al. 2018, §3.1). */
interface Landscape {
  /** max − min of the loss over the step sizes (including 0). */
  lossRange: number;
  /** max over step sizes of ‖∇L(w − ηg) − ∇L(w)‖. */
  gradientChange: number;
  /** max over step sizes of ‖∇L(w − ηg) − ∇L(w)‖ / ‖ηg‖: the effective smoothness β along the gradient. */
  effectiveBeta: number;
}

function landscape(loss: (...parameters: Tensor[]) => Tensor, point: Tensor[]): Landscape {
  const evaluate = valueAndGrad(loss, { argnums: point.map((_, i) => i) });
  const [value0, gradient0] = evaluate(...point);
  const g = flatten(gradient0);
  const w = flatten(point);
  const losses = [value0.item()];
  let [gradientChange, effectiveBeta] = [0, 0];
  for (const multiple of STEP_MULTIPLES) {
    const eta = multiple * SGD_LR;
    const moved = unflatten(w.map((value, i) => value - eta * g[i]!), point);
    const [value, gradient] = evaluate(...moved);
    losses.push(value.item());
    const change = norm2(flatten(gradient).map((value, i) => value - g[i]!));
    gradientChange = Math.max(gradientChange, change);
    effectiveBeta = Math.max(effectiveBeta, change / (eta * norm2(g)));
  }
  return { lossRange: Math.max(...losses) - Math.min(...losses), gradientChange, effectiveBeta };
}

interface SeedCurvature {
  seed: number;
  /** SLQ at the density checkpoints. */
  densities: { step: number; quadrature: Quadrature }[];
  topEigenvalue: { step: number; value: number }[];
  landscape: ({ step: number } & Landscape)[];
  testAccuracy: number;
}

/**
 * Curvature (Ghorbani et al. 2019; Santurkar et al. 2018): a float64 MLP with and without
 * BatchNorm trained with SGD; at checkpoints, the Hessian eigenvalue density of the training loss on
 * a fixed batch by stochastic Lanczos quadrature on hvp, the top eigenvalue over training, and the
 * loss and gradient variation along the gradient direction.
 */
export function runCurvature(context: ExperimentContext): ExperimentReport {
  const started = performance.now();
  const { options, train, test, output, seeds } = context;
  const inputs = train.height * train.width;
  const totalSteps = Math.floor(train.count / BATCH_SIZE) * options.epochs;
  const densitySteps = [...new Set([0, Math.floor(totalSteps / 5), totalSteps - 1])];
  const trackEvery = Math.max(1, Math.floor(totalSteps / TRACK_POINTS));
  const trackSteps = new Set([...Array.from({ length: TRACK_POINTS }, (_, i) => i * trackEvery), ...densitySteps].filter((step) => step < totalSteps));
  const hessianCount = Math.min(options.hessianDigits, train.count);
  const hessianBatch = digitBatch(train, Array.from({ length: hessianCount }, (_, i) => i), 'float64');
  const results = new Map<string, SeedCurvature[]>();
  const total = NETWORKS.length * seeds.length;
  let done = 0;
  for (const seed of seeds) {
    for (const network of NETWORKS) {
      const pure = buildMlp(network.pure, { inputs, hidden: HIDDEN, statisticsBatch: BATCH_SIZE, dtype: 'float64' });
      const record: SeedCurvature = { seed, densities: [], topEigenvalue: [], landscape: [], testAccuracy: NaN };
      const random = seededRandom(seed + 7919);
      const title = `curvature [${String(++done).padStart(String(total).length)}/${total}] ${network.label.padEnd(9)} float64 SGD lr ${SGD_LR} seed ${seed}`;
      const run = trainRun(
        {
          title,
          seed,
          batchSize: BATCH_SIZE,
          epochs: options.epochs,
          dtype: 'float64',
          build: () => buildMlp(network.train, { inputs, hidden: HIDDEN, statisticsBatch: BATCH_SIZE, dtype: 'float64' }),
          optimizer: { kind: 'sgd', lr: SGD_LR },
          beforeStep: (step, batch, model) => {
            if (!trackSteps.has(step)) return;
            const point = model.parameters().map((p) => tensor(p.toFloat64Array(), { shape: p.shape, dtype: 'float64' }));
            const hessianLoss = lossFunction(pure, hessianBatch.images, hessianBatch.labels);
            const apply = (v: Float64Array): Float64Array => flatten(hvp(hessianLoss, point, unflatten(v, point)));
            const dense = densitySteps.includes(step);
            const quadrature = lanczos(apply, gaussianVector(flatten(point).length, random), dense ? options.lanczosSteps : Math.min(TOP_EIGENVALUE_STEPS, options.lanczosSteps));
            if (dense) record.densities.push({ step, quadrature });
            record.topEigenvalue.push({ step, value: Math.max(...quadrature.nodes) });
            record.landscape.push({ step, ...landscape(lossFunction(pure, batch.images, batch.labels), point) });
          },
        },
        train,
        test,
        output,
      );
      record.testAccuracy = run.testAccuracy;
      results.set(network.key, [...(results.get(network.key) ?? []), record]);
    }
  }

  const steps = [...trackSteps].sort((a, b) => a - b);
  const overTraining = (pick: (record: SeedCurvature, step: number) => number): Series[] =>
    NETWORKS.map((network) => ({ name: network.label, points: steps.map((step) => summaryPoint(step, summarize(results.get(network.key)!.map((record) => pick(record, step))))) }));
  const at = <T extends { step: number }>(list: T[], step: number): T => list.find((entry) => entry.step === step)!;
  const topSeries = overTraining((record, step) => at(record.topEigenvalue, step).value);
  const lossRangeSeries = overTraining((record, step) => at(record.landscape, step).lossRange);
  const gradientSeries = overTraining((record, step) => at(record.landscape, step).gradientChange);

  const densityFigures = NETWORKS.map((network) => {
    const records = results.get(network.key)!;
    const nodes = records.flatMap((record) => record.densities.flatMap((d) => d.quadrature.nodes));
    const [low, high] = [Math.min(...nodes), Math.max(...nodes)];
    const span = high - low || 1;
    const grid = Array.from({ length: DENSITY_GRID }, (_, i) => low - 0.05 * span + (i / (DENSITY_GRID - 1)) * 1.1 * span);
    const series: Series[] = densitySteps.map((step) => {
      const perSeed = records.map((record) => smoothedDensity(at(record.densities, step).quadrature, grid, DENSITY_WIDTH * span).map((d) => Math.max(LOG_DENSITY_FLOOR, Math.log10(d))));
      return { name: `step ${step}`, points: grid.map((x, i) => summaryPoint(x, summarize(perSeed.map((values) => values[i]!)))) };
    });
    return {
      id: `curvature-density-${network.key}`,
      svg: linePlot({ title: `Hessian eigenvalue density, ${network.label}`, xLabel: 'eigenvalue', yLabel: 'log10 density', series, yRange: [LOG_DENSITY_FLOOR, Math.max(...series.flatMap((s) => s.points.map((p) => p.high ?? p.y)).filter(Number.isFinite), 0)] }),
      caption: `Spectral density of the Hessian of the training loss on the first ${hessianCount} training digits (${network.label}; BatchNorm with batch statistics), by stochastic Lanczos quadrature: ${options.lanczosSteps} Lanczos steps on float64 hvp from one Gaussian probe per seed, smoothed by Gaussians of width ${DENSITY_WIDTH} of the range, log10 (floor ${LOG_DENSITY_FLOOR}); at steps ${densitySteps.join(', ')} of ${totalSteps}; mean over ${seeds.length} seeds, band: 95% t-interval.`,
      series: series.map((s) => s.name),
    };
  });
  const lastStep = densitySteps.at(-1)!;
  const summaryAt = (key: string, pick: (record: SeedCurvature) => number): Summary => summarize(results.get(key)!.map(pick));
  const top = (key: string, step: number) => summaryAt(key, (record) => at(record.topEigenvalue, step).value);
  const landscapeMean = (key: string, field: keyof Landscape) => summaryAt(key, (record) => record.landscape.reduce((total, entry) => total + entry[field], 0) / record.landscape.length);
  const f = (summary: Summary): string => formatSummary(summary, { digits: 3 });
  // the two networks of a seed start from the same linear weights and see the same batches, so
  // they are also compared per seed: the ratio of top eigenvalues, the difference of landscape means
  const perSeed = (key: string, pick: (record: SeedCurvature) => number): number[] => results.get(key)!.map(pick);
  const topRatio = (step: number): string => {
    const [batch, none] = [perSeed('batch', (record) => at(record.topEigenvalue, step).value), perSeed('none', (record) => at(record.topEigenvalue, step).value)];
    return f(summarize(batch.map((value, i) => value / none[i]!)));
  };
  const landscapeDifference = (field: keyof Landscape): string => {
    const mean = (record: SeedCurvature) => record.landscape.reduce((total, entry) => total + entry[field], 0) / record.landscape.length;
    return pairedDifference(perSeed('batch', mean), perSeed('none', mean), f);
  };
  const findings = [
    `top Hessian eigenvalue at step 0: ${comparison('BatchNorm', top('batch', 0), 'no norm', top('none', 0), f)}, BatchNorm ÷ no norm per seed ${topRatio(0)}; ` +
      `at step ${lastStep}: ${comparison('BatchNorm', top('batch', lastStep), 'no norm', top('none', lastStep), f)}, BatchNorm ÷ no norm per seed ${topRatio(lastStep)}.`,
    `loss range along −gradient (mean over the ${steps.length} points): ${comparison('BatchNorm', landscapeMean('batch', 'lossRange'), 'no norm', landscapeMean('none', 'lossRange'), f)}, BatchNorm − no norm paired by seed ${landscapeDifference('lossRange')}.`,
    `gradient change along −gradient: ${comparison('BatchNorm', landscapeMean('batch', 'gradientChange'), 'no norm', landscapeMean('none', 'gradientChange'), f)}, paired by seed ${landscapeDifference('gradientChange')}; ` +
      `effective β: ${comparison('BatchNorm', landscapeMean('batch', 'effectiveBeta'), 'no norm', landscapeMean('none', 'effectiveBeta'), f)}, paired by seed ${landscapeDifference('effectiveBeta')}.`,
  ];
  const trainingText = `float64 MLP 196 → [linear → (BatchNorm1d) → ReLU] x 2 (${HIDDEN.join(', ')} features) → linear 10, SGD lr ${SGD_LR}, batch ${BATCH_SIZE}, ${train.count} training digits, ${totalSteps} steps`;
  return {
    key: 'curvature',
    title: 'Curvature: Hessian spectrum and loss landscape',
    claim:
      'Ghorbani et al. (2019, https://arxiv.org/abs/1901.10159): without BatchNorm the Hessian has large isolated outlier eigenvalues that slow optimization; with BatchNorm (in training mode) the outliers disappear. Santurkar et al. (2018, https://arxiv.org/abs/1805.11604): BatchNorm does not reduce internal covariate shift but makes the landscape smoother: the loss varies less, and the gradient changes less (a smaller effective β), along the gradient direction.',
    setup: `${trainingText}; with and without BatchNorm, from the same initial linear weights per seed. The Hessian is of the training-mode loss on the first ${hessianCount} training digits; stochastic Lanczos quadrature with full reorthogonalization (${options.lanczosSteps} steps at steps ${densitySteps.join(', ')}, ${TOP_EIGENVALUE_STEPS} steps for the top eigenvalue elsewhere). Along −gradient of the current training batch: the loss and the gradient at step sizes ${STEP_MULTIPLES.join(', ')} x lr. ${seedsText(seeds)}.`,
    findings,
    figures: [
      ...densityFigures,
      {
        id: 'curvature-top-eigenvalue',
        svg: linePlot({ title: 'Top Hessian eigenvalue over training', xLabel: 'training step', yLabel: 'largest Ritz value', series: topSeries }),
        caption: `Largest Ritz value of Lanczos on the Hessian of the loss on ${hessianCount} training digits (${TOP_EIGENVALUE_STEPS} or ${options.lanczosSteps} steps: the top eigenvalue converges first) at ${steps.length} points of training; ${trainingText}; mean over ${seeds.length} seeds, band: 95% t-interval.`,
        series: topSeries.map((s) => s.name),
      },
      {
        id: 'curvature-loss-range',
        svg: linePlot({ title: 'Loss variation along the gradient', xLabel: 'training step', yLabel: 'max − min loss over the step sizes', series: lossRangeSeries }),
        caption: `Range (max − min) of the training-batch loss at w − η·g for η in {0, ${STEP_MULTIPLES.join(', ')}} x lr, g the gradient at w (Santurkar et al. Fig. 4a); ${trainingText}; mean over ${seeds.length} seeds, band: 95% t-interval.`,
        series: lossRangeSeries.map((s) => s.name),
      },
      {
        id: 'curvature-gradient-change',
        svg: linePlot({ title: 'Gradient change along the gradient', xLabel: 'training step', yLabel: 'max ‖∇L(w − ηg) − ∇L(w)‖', series: gradientSeries }),
        caption: `Largest L2 change of the gradient over the same step sizes (Santurkar et al.'s "gradient predictiveness", Fig. 4b); ${trainingText}; mean over ${seeds.length} seeds, band: 95% t-interval.`,
        series: gradientSeries.map((s) => s.name),
      },
    ],
    tables: [
      {
        caption: `Top eigenvalue at the density checkpoints, and the landscape along −gradient averaged over the ${steps.length} points; mean [95% t-interval] over ${seeds.length} seeds.`,
        header: ['network', ...densitySteps.map((step) => `top eigenvalue, step ${step}`), 'loss range', 'gradient change', 'effective β', 'test accuracy'],
        rows: NETWORKS.map((network) => [
          network.label,
          ...densitySteps.map((step) => f(top(network.key, step))),
          f(landscapeMean(network.key, 'lossRange')),
          f(landscapeMean(network.key, 'gradientChange')),
          f(landscapeMean(network.key, 'effectiveBeta')),
          formatSummary(summaryAt(network.key, (record) => record.testAccuracy), { percent: true }),
        ]),
      },
    ],
    data: { densitySteps, steps, hessianDigits: hessianCount, results: Object.fromEntries(results) },
    wallSeconds: (performance.now() - started) / 1000,
    cpuSeconds: 0,
  };
}
