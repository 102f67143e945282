import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randn, toDot } from '@normgrad/core';
import { downsample2x, embeddedTrainTest, firstDigits, type TrainTestDigits } from './data.js';
import { loadIdxDirectory } from './idx.js';
import { normKind, type NormKind } from './model.js';
import type { ExperimentKey, StudyOptions } from './options.js';
import { formatSeconds, type Output } from './progress.js';
import { htmlReport, markdownReport, textTable } from './report.js';
import type { ExperimentContext, ExperimentReport } from './experiments/common.js';
import { runCurvature } from './experiments/curvature.js';
import { runLrRange } from './experiments/lr-range.js';
import { runSmallBatch } from './experiments/small-batch.js';
import { runSpeed } from './experiments/speed.js';
import { runTrainEval } from './experiments/train-eval.js';

export interface StudyResult {
  experiments: ExperimentReport[];
  outDir: string;
  files: string[];
  wallSeconds: number;
  /** CPU time of this process (user + system): close to the wall time a quiet machine would take, since the study runs on one thread. */
  cpuSeconds: number;
}

const RUNNERS: Record<ExperimentKey, (context: ExperimentContext) => ExperimentReport> = {
  speed: runSpeed,
  'small-batch': runSmallBatch,
  'lr-range': runLrRange,
  'train-eval': runTrainEval,
  curvature: runCurvature,
};

/** The digits the study trains and tests on, cut to the requested sizes and image size. */
export function prepareDigits(options: StudyOptions): TrainTestDigits {
  const loaded = options.data === null ? embeddedTrainTest() : loadIdxDirectory(options.data);
  let train = firstDigits(loaded.train, Math.max(options.trainSize, options.subsetSize));
  let test = firstDigits(loaded.test, options.testSize);
  if (options.imageSize === 14) {
    if (train.height !== 28 || train.width !== 28) throw new Error(`--image-size 14 halves 28x28 digits; these are ${train.height}x${train.width}`);
    [train, test] = [downsample2x(train), downsample2x(test)];
  } else if (train.height !== options.imageSize || train.width !== options.imageSize) {
    throw new Error(`--image-size ${options.imageSize}: the digits are ${train.height}x${train.width}`);
  }
  return { train, test, source: loaded.source };
}

/** The Graphviz graph of one normalization layer's forward on a small (2, C, 4, 4) input. */
export function normForwardDot(norm: NormKind, channels: number): string | null {
  if (norm.make === null) return null;
  const layer = norm.make(channels, 4, 4);
  const input = randn([2, channels, 4, 4], { seed: 0, requiresGrad: true });
  const output = layer.forward(input);
  const names: Record<string, typeof input> = { input };
  for (const [name, parameter] of layer.namedParameters()) names[name] = parameter;
  return toDot(output, { names, graphName: norm.key.replace(/-/g, '_') });
}

/** Runs the chosen experiments, then writes report.html, results.md, results.json, the plots and the graphs to options.out. */
export function runStudy(options: StudyOptions, output: Output): StudyResult {
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const { train, test, source } = prepareDigits(options);
  const seeds = Array.from({ length: options.seeds }, (_, i) => options.seed + i);
  const setup = [
    `data: ${source}; ${train.height}x${train.width} pixels${options.imageSize === 14 ? ' (28x28 averaged 2x2)' : ''}; the speed experiment trains on the first ${Math.min(options.trainSize, train.count)} training digits, the others on the first ${Math.min(options.subsetSize, train.count)}; ${test.count} test digits`,
    `seeds ${seeds.join(', ')} for every configuration: numbers are means with 95% t-intervals over seeds`,
    `experiments: ${options.experiments.join(', ')}${options.quick ? ' (--quick: smaller than the default run)' : ''}`,
  ];
  output.write(`normgrad normalization study\n${setup.map((line) => `  ${line}`).join('\n')}\n\n`);

  const experiments: ExperimentReport[] = [];
  for (const key of options.experiments) {
    const subset = key === 'speed' ? firstDigits(train, options.trainSize) : firstDigits(train, options.subsetSize);
    const cpuBefore = process.cpuUsage();
    const report = RUNNERS[key]({ options, train: subset, test, output, seeds });
    const cpuUsed = process.cpuUsage(cpuBefore);
    report.cpuSeconds = (cpuUsed.user + cpuUsed.system) / 1e6;
    experiments.push(report);
    output.write(`\n${report.title} (wall ${formatSeconds(report.wallSeconds)}, CPU ${formatSeconds(report.cpuSeconds)}):\n${report.tables.map(textTable).join('\n\n')}\n${report.findings.map((f) => `  - ${f}`).join('\n')}\n\n`);
  }
  const wallSeconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStarted);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;

  const outDir = resolve(options.out);
  mkdirSync(outDir, { recursive: true });
  const files: string[] = [];
  const write = (name: string, text: string): void => {
    writeFileSync(join(outDir, name), text);
    files.push(name);
  };
  for (const figure of experiments.flatMap((experiment) => experiment.figures)) write(`${figure.id}.svg`, figure.svg);
  const dotFiles: string[] = [];
  if (options.experiments.includes('speed')) {
    for (const norm of options.norms.map(normKind)) {
      const dot = normForwardDot(norm, options.channels[0]);
      if (dot === null) continue;
      write(`${norm.key}-forward.dot`, dot);
      dotFiles.push(`${norm.key}-forward.dot`);
    }
  }
  setup.push(`wall time of the whole study: ${formatSeconds(wallSeconds)}, CPU time ${formatSeconds(cpuSeconds)} (Node ${process.version}, one thread; on a machine shared with other work the CPU time is the better estimate of a quiet run's wall time)`);
  const context = { setup, dotFiles };
  write('report.html', htmlReport(experiments, context));
  write('results.md', markdownReport(experiments, context));
  write('results.json', `${JSON.stringify({ options, setup, wallSeconds, cpuSeconds, experiments: experiments.map(({ figures: _, ...rest }) => rest) }, null, 2)}\n`);

  output.write(`Finished in ${formatSeconds(wallSeconds)} (CPU ${formatSeconds(cpuSeconds)}). Wrote ${files.length} files to ${outDir}:\n`);
  output.write(`${files.map((file) => `  ${file}`).join('\n')}\nOpen ${join(outDir, 'report.html')} in a browser for every plot, table and caption.\n`);
  return { experiments, outDir, files, wallSeconds, cpuSeconds };
}
