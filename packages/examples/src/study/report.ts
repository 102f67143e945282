import { linePlot, type Series } from './svg-plot.js';
import type { RunResult } from './train.js';

function formatDuration(seconds: number): string {
  return seconds < 60 ? `${seconds.toFixed(1)} s` : `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

const HEADER = ['normalization', 'batch size', 'final train loss', 'test accuracy', 'train time', 'examples/s'];

function tableRows(results: readonly RunResult[]): string[][] {
  return results.map((result) => [
    result.normLabel,
    String(result.batchSize),
    result.finalTrainLoss.toFixed(3),
    `${(result.testAccuracy * 100).toFixed(1)}%`,
    formatDuration(result.trainSeconds),
    Math.round(result.examplesPerSecond).toString(),
  ]);
}

/** The results as a GitHub-flavoured Markdown table (numbers right-aligned). */
export function markdownTable(results: readonly RunResult[]): string {
  const lines = [`| ${HEADER.join(' | ')} |`, `|${HEADER.map((_, i) => (i < 1 ? '---' : '---:')).join('|')}|`];
  for (const row of tableRows(results)) lines.push(`| ${row.join(' | ')} |`);
  return lines.join('\n');
}

/** The same table, aligned in columns, for the terminal. */
export function textTable(results: readonly RunResult[]): string {
  const rows = [HEADER, ...tableRows(results)];
  const widths = HEADER.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const format = (row: string[]): string => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  return [format(HEADER), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(format)].join('\n');
}

export function plotFileName(metric: 'loss' | 'accuracy', batchSize: number): string {
  return `${metric}-batch-${batchSize}.svg`;
}

/** For one batch size: the training-loss plot and the test-accuracy plot, one line per normalization. */
export function plotsForBatchSize(results: readonly RunResult[], batchSize: number): { loss: string; accuracy: string } {
  const runs = results.filter((result) => result.batchSize === batchSize);
  const series = (pick: (result: RunResult) => RunResult['lossCurve']): Series[] =>
    runs.map((result) => ({ name: result.normLabel, points: pick(result).map((point) => ({ x: point.epoch, y: point.value })) }));
  const loss = linePlot({
    title: `Training loss, batch size ${batchSize}`,
    xLabel: 'epochs',
    yLabel: 'cross-entropy (training batches)',
    series: series((result) => result.lossCurve),
  });
  const accuracy = linePlot({
    title: `Test accuracy, batch size ${batchSize}`,
    xLabel: 'epochs',
    yLabel: 'accuracy on held-out digits',
    series: series((result) => result.accuracyCurve),
    yRange: [0, 1],
    formatY: (value) => `${Math.round(value * 100)}%`,
  });
  return { loss, accuracy };
}

export interface ReportContext {
  setup: string[];
  batchSizes: readonly number[];
  dotFiles: readonly string[];
}

export function markdownReport(results: readonly RunResult[], context: ReportContext): string {
  const lines = ['# normgrad normalization study', '', ...context.setup.map((line) => `- ${line}`), '', markdownTable(results), ''];
  for (const batchSize of context.batchSizes) {
    lines.push(`## Batch size ${batchSize}`, '');
    lines.push(`![Training loss, batch size ${batchSize}](${plotFileName('loss', batchSize)})`);
    lines.push(`![Test accuracy, batch size ${batchSize}](${plotFileName('accuracy', batchSize)})`, '');
  }
  if (context.dotFiles.length > 0) {
    lines.push('## Forward graphs', '', 'Graphviz DOT of each normalization layer\'s forward (render with `dot -Tsvg FILE -o FILE.svg`):', '');
    for (const file of context.dotFiles) lines.push(`- [${file}](${file})`);
    lines.push('');
  }
  return lines.join('\n');
}
