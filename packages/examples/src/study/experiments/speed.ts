import { buildConvNet, normKind, type NormKind } from '../model.js';
import { formatSummary, summarize, type Summary } from '../stats.js';
import { linePlot, type Series } from '../svg-plot.js';
import { CURVE_TEST_DIGITS, trainRun, type RunResult } from '../train.js';
import { comparison, meanCurve, pairedDifference, points, seedsText, type ExperimentContext, type ExperimentReport, type Figure } from './common.js';

const BATCH_SIZE = 32;
const ACCURACY_POINTS = 8;
/** The classic norms go in the first pair of plots, the research variants (with no norm and BatchNorm for reference) in the second. */
const CLASSIC = new Set(['none', 'batch', 'group', 'layer', 'instance', 'renorm']);

interface NormSummary {
  norm: string;
  label: string;
  earlyAccuracy: Summary;
  finalAccuracy: Summary;
  finalTrainLoss: Summary;
  examplesPerSecond: Summary;
}

const percent = (summary: Summary): string => formatSummary(summary, { percent: true });

/** Speed of training (Ioffe & Szegedy 2015): the convnet per normalization at batch size 32, Adam, every seed. */
export function runSpeed(context: ExperimentContext): ExperimentReport {
  const started = performance.now();
  const { options, train, test, output, seeds } = context;
  const norms = options.norms.map(normKind);
  const shape = { imageSize: options.imageSize, channels: options.channels };
  const runs = new Map<string, RunResult[]>();
  const total = norms.length * seeds.length;
  let done = 0;
  const labelWidth = Math.max(...norms.map((norm) => norm.label.length));
  for (const seed of seeds) {
    for (const norm of norms) {
      const title = `speed [${String(++done).padStart(String(total).length)}/${total}] ${norm.label.padEnd(labelWidth)} seed ${seed}`;
      const result = trainRun(
        { title, seed, batchSize: BATCH_SIZE, epochs: options.epochs, build: () => buildConvNet(norm, shape), optimizer: { kind: 'adam', lr: options.learningRate }, accuracyPoints: ACCURACY_POINTS },
        train,
        test,
        output,
      );
      runs.set(norm.key, [...(runs.get(norm.key) ?? []), result]);
    }
  }
  const summaries: NormSummary[] = norms.map((norm) => {
    const results = runs.get(norm.key)!;
    return {
      norm: norm.key,
      label: norm.label,
      earlyAccuracy: summarize(results.map((result) => result.accuracyCurve[1]?.value ?? NaN)),
      finalAccuracy: summarize(results.map((result) => result.testAccuracy)),
      finalTrainLoss: summarize(results.map((result) => result.finalTrainLoss)),
      examplesPerSecond: summarize(results.map((result) => result.examplesPerSecond)),
    };
  });
  const earlyEpoch = runs.get(norms[0]!.key)![0]!.accuracyCurve[1]?.epoch ?? NaN;

  const groups: [string, NormKind[]][] = [['classic', norms.filter((norm) => CLASSIC.has(norm.key))]];
  const variants = norms.filter((norm) => !CLASSIC.has(norm.key));
  if (variants.length > 0) groups.push(['variants', [...norms.filter((norm) => norm.key === 'none' || norm.key === 'batch'), ...variants]]);
  const figures: Figure[] = [];
  const digitsText = `${train.count} training digits, ${options.epochs} epoch(s), batch size ${BATCH_SIZE}, Adam lr ${options.learningRate}`;
  for (const [group, members] of groups) {
    if (members.length === 0) continue;
    const series = (pick: (result: RunResult) => RunResult['lossCurve']): Series[] => members.map((norm) => ({ name: norm.label, points: meanCurve(runs.get(norm.key)!.map(pick)) }));
    const which = group === 'classic' ? 'classic normalizations' : 'research variants (no norm and BatchNorm for reference)';
    const short = group === 'classic' ? 'classic norms' : 'research variants';
    figures.push({
      id: `speed-loss-${group}`,
      svg: linePlot({ title: `Training loss, batch ${BATCH_SIZE}: ${short}`, xLabel: 'epochs', yLabel: 'cross-entropy (training batches)', series: series((result) => result.lossCurve) }),
      caption: `Training cross-entropy (mean over windows of steps) against epochs, ${which}; ${digitsText}; mean over ${seeds.length} seeds, band: 95% t-interval.`,
      series: members.map((norm) => norm.label),
    });
    figures.push({
      id: `speed-accuracy-${group}`,
      svg: linePlot({
        title: `Test accuracy, batch ${BATCH_SIZE}: ${short}`,
        xLabel: 'epochs',
        yLabel: `accuracy on ${Math.min(CURVE_TEST_DIGITS, test.count)} test digits`,
        series: series((result) => result.accuracyCurve),
        yRange: [0, 1],
        formatY: (value) => `${Math.round(value * 100)}%`,
      }),
      caption: `Test accuracy in eval mode on the first ${Math.min(CURVE_TEST_DIGITS, test.count)} test digits (the table's final accuracy uses all ${test.count}) at ${ACCURACY_POINTS + 1} points; ${digitsText}; mean over ${seeds.length} seeds, band: 95% t-interval.`,
      series: members.map((norm) => norm.label),
    });
  }

  const none = summaries.find((summary) => summary.norm === 'none');
  const findings: string[] = [];
  if (none !== undefined) {
    for (const summary of summaries.filter((s) => s.norm !== 'none')) {
      const [own, reference] = [runs.get(summary.norm)!, runs.get('none')!];
      const early = (results: RunResult[]) => results.map((result) => result.accuracyCurve[1]?.value ?? NaN);
      const final = (results: RunResult[]) => results.map((result) => result.testAccuracy);
      findings.push(
        `after ${earlyEpoch.toFixed(3)} epoch: ${comparison(summary.label, summary.earlyAccuracy, 'no norm', none.earlyAccuracy, percent)}, paired by seed ${pairedDifference(early(own), early(reference), points)}; ` +
          `at the end: ${comparison(summary.label, summary.finalAccuracy, 'no norm', none.finalAccuracy, percent)}, paired by seed ${pairedDifference(final(own), final(reference), points)}.`,
      );
    }
  }
  return {
    key: 'speed',
    title: 'Speed of training',
    claim:
      'Ioffe & Szegedy (2015, https://arxiv.org/abs/1502.03167): batch normalization reduces internal covariate shift, so a network trains in fewer steps (their Inception reached the same accuracy in 14 times fewer steps).',
    setup: `The convnet [conv 3x3 → norm → ReLU → maxpool 2] x 2 with ${options.channels.join(' and ')} channels → linear 10 on ${train.height}x${train.width} digits; ${digitsText}; ${seedsText(seeds)}. Every norm of a seed starts from the same conv and linear weights and sees the same batches.`,
    findings,
    figures,
    tables: [
      {
        caption: `Test accuracy after ${earlyEpoch.toFixed(3)} epoch (first ${Math.min(CURVE_TEST_DIGITS, test.count)} test digits) and after training (all ${test.count} test digits, eval mode), final training loss (mean of the last 5% of steps), training throughput; mean [95% t-interval] over ${seeds.length} seeds.`,
        header: ['normalization', `accuracy at ${earlyEpoch.toFixed(3)} epoch`, 'final test accuracy', 'final train loss', 'examples/s'],
        rows: summaries.map((s) => [s.label, percent(s.earlyAccuracy), percent(s.finalAccuracy), formatSummary(s.finalTrainLoss), formatSummary(s.examplesPerSecond, { digits: 0 })]),
      },
    ],
    data: {
      earlyEpoch,
      summaries,
      runs: [...runs.entries()].map(([norm, results]) => ({ norm, results: results.map(({ model: _, ...rest }) => rest) })),
    },
    wallSeconds: (performance.now() - started) / 1000,
    cpuSeconds: 0,
  };
}
