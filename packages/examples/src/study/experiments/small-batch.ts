import { buildMlp, featureNormKind, type FeatureNormKind } from '../model.js';
import { formatSummary, summarize, type Summary } from '../stats.js';
import { linePlot } from '../svg-plot.js';
import { trainRun, type BatchOrder, type RunResult } from '../train.js';
import { comparison, pairedDifference, points, seedsText, summaryPoint, type ExperimentContext, type ExperimentReport } from './common.js';

/** Hidden widths of the MLP: 196 → 64 → norm → ReLU → 64 → norm → ReLU → 10. */
export const MLP_HIDDEN = [64, 64];
/** GhostBN trains at this batch size with virtual batches of B: the statistics of B samples at the optimizer's batch 32. */
const GHOST_BATCH = 32;
/** Batch size of the non-i.i.d. comparison (two classes per batch, half each). */
const NON_IID_BATCH = 16;
const SWEEP_NORMS = ['none', 'batch', 'group', 'renorm', 'ghost'];
const NON_IID_NORMS = ['batch', 'renorm', 'group'];

const percent = (summary: Summary): string => formatSummary(summary, { percent: true });

interface Cell {
  norm: string;
  label: string;
  /** The batch size whose statistics the norm sees (GhostBN's virtual batch). */
  statisticsBatch: number;
  batchSize: number;
  accuracy: Summary;
  runs: Omit<RunResult, 'model'>[];
}

/**
 * Small batches (Wu & He 2018, Fig. 1; Ioffe 2017): BatchNorm1d after a Linear (each feature's
 * statistics from the batch alone) against GroupNorm, BatchRenorm and GhostBN, evaluated in eval
 * mode, at each batch size; then two-class (non-i.i.d.) batches.
 */
export function runSmallBatch(context: ExperimentContext): ExperimentReport {
  const started = performance.now();
  const { options, train, test, output, seeds } = context;
  const inputs = train.height * train.width;
  const batchSizes = options.batchSizes;
  type Config = { norm: FeatureNormKind; statisticsBatch: number; batchSize: number; order: BatchOrder };
  const sweepConfigs: Config[] = [];
  for (const statisticsBatch of batchSizes) {
    for (const key of SWEEP_NORMS) {
      const norm = featureNormKind(key);
      if (key === 'ghost' && statisticsBatch >= GHOST_BATCH) continue; // one virtual batch of 32 is BatchNorm at 32
      sweepConfigs.push({ norm, statisticsBatch, batchSize: key === 'ghost' ? GHOST_BATCH : statisticsBatch, order: 'iid' });
    }
  }
  const nonIid = NON_IID_BATCH <= train.count;
  const nonIidConfigs: Config[] = nonIid
    ? (['iid', 'two-classes'] as const).flatMap((order) => NON_IID_NORMS.map((key) => ({ norm: featureNormKind(key), statisticsBatch: NON_IID_BATCH, batchSize: NON_IID_BATCH, order })))
    : [];
  const configs = [...sweepConfigs, ...nonIidConfigs];
  const results = new Map<Config, RunResult[]>();
  const total = configs.length * seeds.length;
  let done = 0;
  for (const seed of seeds) {
    for (const config of configs) {
      const what = config.norm.key === 'ghost' ? `GhostBN virtual ${config.statisticsBatch} of batch ${config.batchSize}` : `${config.norm.label} batch ${config.batchSize}`;
      const title = `small-batch [${String(++done).padStart(String(total).length)}/${total}] ${what}${config.order === 'two-classes' ? ', two classes per batch' : ''} seed ${seed}`;
      const result = trainRun(
        {
          title,
          seed,
          batchSize: config.batchSize,
          epochs: options.epochs,
          build: () => buildMlp(config.norm, { inputs, hidden: MLP_HIDDEN, statisticsBatch: config.statisticsBatch }),
          optimizer: { kind: 'adam', lr: options.learningRate },
          batchOrder: config.order,
        },
        train,
        test,
        output,
      );
      results.set(config, [...(results.get(config) ?? []), result]);
    }
  }
  const accuracies = (cell: Cell): number[] => cell.runs.map((run) => run.testAccuracy);
  const cell = (config: Config): Cell => {
    const runs = results.get(config)!;
    return {
      norm: config.norm.key,
      label: config.norm.key === 'ghost' ? `GhostBN (batch ${GHOST_BATCH})` : config.norm.label,
      statisticsBatch: config.statisticsBatch,
      batchSize: config.batchSize,
      accuracy: summarize(runs.map((run) => run.testAccuracy)),
      runs: runs.map(({ model: _, ...rest }) => rest),
    };
  };
  const sweep = sweepConfigs.map(cell);
  const nonIidCells = nonIidConfigs.map((config) => ({ order: config.order, ...cell(config) }));

  const labels = [...new Set(sweep.map((c) => c.label))];
  const series = labels.map((label) => ({ name: label, points: sweep.filter((c) => c.label === label).map((c) => summaryPoint(c.statisticsBatch, c.accuracy)) }));
  const find = (norm: string, b: number): Cell | undefined => sweep.find((c) => c.norm === norm && c.statisticsBatch === b);
  const smallest = batchSizes[0]!;
  const largest = batchSizes.at(-1)!;
  const findings: string[] = [];
  const bnSmall = find('batch', smallest);
  const bnLarge = find('batch', largest);
  // runs of one seed share initial weights and batches, so differences are also given paired by seed
  const paired = (a: Cell, b: Cell): string => `, paired by seed ${pairedDifference(accuracies(a), accuracies(b), points)}`;
  if (bnSmall && bnLarge && smallest !== largest) findings.push(`BatchNorm at batch ${smallest} vs ${largest}: ${comparison(`batch ${smallest}`, bnSmall.accuracy, `batch ${largest}`, bnLarge.accuracy, percent)}${paired(bnSmall, bnLarge)}.`);
  for (const other of ['group', 'renorm', 'ghost', 'none']) {
    const cellSmall = find(other, smallest);
    if (bnSmall && cellSmall) findings.push(`at statistics batch ${smallest}: ${comparison(cellSmall.label, cellSmall.accuracy, 'BatchNorm', bnSmall.accuracy, percent)}${paired(cellSmall, bnSmall)}.`);
  }
  for (const b of batchSizes.slice(1)) {
    const [bn, group] = [find('batch', b), find('group', b)];
    if (bn && group) findings.push(`at statistics batch ${b}: ${comparison(group.label, group.accuracy, 'BatchNorm', bn.accuracy, percent)}${paired(group, bn)}.`);
  }
  const [renormSmall, groupSmall] = [find('renorm', smallest), find('group', smallest)];
  if (renormSmall && groupSmall) findings.push(`at statistics batch ${smallest}: ${comparison(renormSmall.label, renormSmall.accuracy, groupSmall.label, groupSmall.accuracy, percent)}${paired(renormSmall, groupSmall)}.`);
  // GhostBN trains at batch GHOST_BATCH: against BatchNorm at that batch, only the statistics differ
  const bnGhostBatch = find('batch', GHOST_BATCH);
  for (const b of batchSizes.filter((size) => size < GHOST_BATCH)) {
    const ghost = find('ghost', b);
    if (bnGhostBatch && ghost) findings.push(`at batch ${GHOST_BATCH}: ${comparison(`GhostBN (virtual batches of ${b})`, ghost.accuracy, 'BatchNorm', bnGhostBatch.accuracy, percent)}${paired(ghost, bnGhostBatch)}.`);
  }
  const nonIidOf = (norm: string, order: BatchOrder) => nonIidCells.find((c) => c.norm === norm && c.order === order);
  for (const norm of NON_IID_NORMS) {
    const [iid, skewed] = [nonIidOf(norm, 'iid'), nonIidOf(norm, 'two-classes')];
    if (iid && skewed) findings.push(`two classes per batch (batch ${NON_IID_BATCH}), ${comparison(`${iid.label} two-class`, skewed.accuracy, 'i.i.d.', iid.accuracy, percent)}${paired(skewed, iid)}.`);
  }
  const [bnSkewed, brnSkewed] = [nonIidOf('batch', 'two-classes'), nonIidOf('renorm', 'two-classes')];
  if (bnSkewed && brnSkewed) findings.push(`two classes per batch: ${comparison('BatchRenorm', brnSkewed.accuracy, 'BatchNorm', bnSkewed.accuracy, percent)}${paired(brnSkewed, bnSkewed)}.`);

  const setupText = `MLP flatten → [linear → norm → ReLU] x 2 (${MLP_HIDDEN.join(', ')} features) → linear 10 on ${train.height}x${train.width} digits; ${train.count} training digits, ${options.epochs} epoch(s) (so smaller batches take more steps), Adam lr ${options.learningRate}; accuracy on all ${test.count} test digits in eval mode (running statistics); ${seedsText(seeds)}. BatchNorm1d after a Linear normalizes each feature over the batch alone (B values), the setting where batch statistics are noisiest. GroupNorm: 8 groups; BatchRenorm: momentum 0.1, rMax 3, dMax 5 after 100 BatchNorm steps; GhostBN trains at batch ${GHOST_BATCH} with virtual batches of B, isolating the statistics' batch size from the optimizer's.`;
  return {
    key: 'small-batch',
    title: 'Small and non-i.i.d. batches',
    claim:
      "Wu & He (2018, https://arxiv.org/abs/1803.08494, Fig. 1): BatchNorm's error rises quickly as the batch shrinks (ResNet-50 on ImageNet: +10 points at 2 images per GPU) while GroupNorm's is flat. Ioffe (2017, https://arxiv.org/abs/1702.03275): batch renormalization recovers most of the loss at small and at non-i.i.d. batches. Hoffer et al. (2017, https://arxiv.org/abs/1705.08741): ghost batches of a small virtual size regularize large-batch training.",
    setup: setupText,
    findings,
    figures: [
      {
        id: 'small-batch-accuracy',
        svg: linePlot({
          title: 'Eval-mode test accuracy by the batch size of the statistics',
          xLabel: 'batch size B of the normalization statistics (log scale)',
          yLabel: `accuracy on ${test.count} test digits`,
          series,
          logX: true,
          formatY: (value) => `${Math.round(value * 100)}%`,
        }),
        caption: `Test accuracy (eval mode, all ${test.count} test digits) against B: BatchNorm, BatchRenorm, GroupNorm and no norm train at batch size B; GhostBN trains at batch ${GHOST_BATCH} with statistics over virtual batches of B. ${train.count} training digits, ${options.epochs} epoch(s); mean over ${seeds.length} seeds, band: 95% t-interval.`,
        series: labels,
      },
    ],
    tables: [
      {
        caption: `Eval-mode test accuracy (all ${test.count} test digits), mean [95% t-interval] over ${seeds.length} seeds, by the statistics' batch size B.`,
        header: ['normalization', ...batchSizes.map((b) => `B = ${b}`)],
        rows: labels.map((label) => [label, ...batchSizes.map((b) => {
          const found = sweep.find((c) => c.label === label && c.statisticsBatch === b);
          return found ? percent(found.accuracy) : '(= BatchNorm)';
        })]),
      },
      ...(nonIid
        ? [
            {
              caption: `Batch size ${NON_IID_BATCH}: shuffled (i.i.d.) batches vs batches of two classes (${NON_IID_BATCH / 2} digits each); eval-mode test accuracy, mean [95% t-interval] over ${seeds.length} seeds.`,
              header: ['normalization', 'i.i.d. batches', 'two classes per batch'],
              rows: NON_IID_NORMS.map((norm) => [nonIidOf(norm, 'iid')!.label, percent(nonIidOf(norm, 'iid')!.accuracy), percent(nonIidOf(norm, 'two-classes')!.accuracy)]),
            },
          ]
        : []),
    ],
    data: { sweep, nonIid: nonIidCells },
    wallSeconds: (performance.now() - started) / 1000,
    cpuSeconds: 0,
  };
}
