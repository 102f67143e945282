import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randn, toDot } from '@normgrad/core';
import { downsample2x, embeddedTrainTest, firstDigits, type TrainTestDigits } from './data.js';
import { loadIdxDirectory } from './idx.js';
import { normKind, type NormKind } from './model.js';
import type { StudyOptions } from './options.js';
import { formatSeconds, type Output } from './progress.js';
import { markdownReport, plotFileName, plotsForBatchSize, textTable } from './report.js';
import { trainRun, type RunResult } from './train.js';

export interface StudyResult {
  results: RunResult[];
  outDir: string;
  files: string[];
  wallSeconds: number;
}

/** The digits the study trains and tests on, cut to the requested sizes and image size. */
export function prepareDigits(options: StudyOptions): TrainTestDigits {
  const loaded = options.data === null ? embeddedTrainTest() : loadIdxDirectory(options.data);
  let train = firstDigits(loaded.train, options.trainSize);
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
  return toDot(output, { names, graphName: norm.key });
}

/** Trains every (normalization, batch size) pair, then writes the table, plots and graphs to options.out. */
export function runStudy(options: StudyOptions, output: Output): StudyResult {
  const started = performance.now();
  const { train, test, source } = prepareDigits(options);
  const norms = options.norms.map(normKind);
  const shape = { imageSize: options.imageSize, channels: options.channels } as const;
  const setup = [
    `data: ${source}; ${train.count} training digits, ${test.count} test digits, ${train.height}x${train.width} pixels${options.imageSize === 14 ? ' (28x28 averaged 2x2)' : ''}`,
    `network: [conv 3x3 → norm → ReLU → maxpool 2] x 2 with ${options.channels.join(' and ')} channels → linear 10; Adam lr ${options.learningRate}`,
    `${options.epochs} epoch(s), seed ${options.seed}; BatchNorm is evaluated with its running statistics (eval mode)`,
  ];
  output.write(`normgrad normalization study\n${setup.map((line) => `  ${line}`).join('\n')}\n\n`);

  const results: RunResult[] = [];
  const runCount = norms.length * options.batchSizes.length;
  const labelWidth = Math.max(...norms.map((norm) => norm.label.length));
  for (const batchSize of options.batchSizes) {
    for (const norm of norms) {
      const title = `[${String(results.length + 1).padStart(String(runCount).length)}/${runCount}] ${norm.label.padEnd(labelWidth)}  batch ${String(batchSize).padEnd(3)}`;
      const config = { norm, batchSize, epochs: options.epochs, seed: options.seed, learningRate: options.learningRate, shape };
      results.push(trainRun(config, train, test, output, title));
    }
  }
  const wallSeconds = (performance.now() - started) / 1000;

  const outDir = resolve(options.out);
  mkdirSync(outDir, { recursive: true });
  const files: string[] = [];
  const write = (name: string, text: string): void => {
    writeFileSync(join(outDir, name), text);
    files.push(name);
  };
  for (const batchSize of options.batchSizes) {
    const plots = plotsForBatchSize(results, batchSize);
    write(plotFileName('loss', batchSize), plots.loss);
    write(plotFileName('accuracy', batchSize), plots.accuracy);
  }
  const dotFiles: string[] = [];
  for (const norm of norms) {
    const dot = normForwardDot(norm, options.channels[0]);
    if (dot === null) continue;
    write(`${norm.key}-forward.dot`, dot);
    dotFiles.push(`${norm.key}-forward.dot`);
  }
  setup.push(`wall time of the whole study: ${formatSeconds(wallSeconds)} on Node ${process.version}`);
  write('results.md', markdownReport(results, { setup, batchSizes: options.batchSizes, dotFiles }));
  write('results.json', `${JSON.stringify({ options, setup, wallSeconds, results }, null, 2)}\n`);

  output.write(`\n${textTable(results)}\n\nFinished in ${formatSeconds(wallSeconds)}. Wrote ${files.length} files to ${outDir}:\n`);
  output.write(`${files.map((file) => `  ${file}`).join('\n')}\nOpen ${join(outDir, 'results.md')} for the table and the plots.\n`);
  return { results, outDir, files, wallSeconds };
}
