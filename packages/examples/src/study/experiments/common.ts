import type { Digits } from '../data.js';
import type { StudyOptions } from '../options.js';
import type { Output } from '../progress.js';
import { formatSummary, summarize, type Summary } from '../stats.js';
import type { SeriesPoint } from '../svg-plot.js';
import type { CurvePoint } from '../train.js';

export interface ExperimentContext {
  options: StudyOptions;
  train: Digits;
  test: Digits;
  output: Output;
  /** The seeds every configuration is run with. */
  seeds: number[];
}

/** One plot of the report: its SVG, a caption, and the names of the series drawn (checked by the browser test). */
export interface Figure {
  id: string;
  svg: string;
  caption: string;
  series: string[];
}

export interface Table {
  caption: string;
  header: string[];
  rows: string[][];
}

/** What an experiment hands to the report. */
export interface ExperimentReport {
  key: string;
  title: string;
  /** What the papers claim, with references. */
  claim: string;
  /** The setup: network, data, seeds, what is measured. */
  setup: string;
  /** What this run shows, in sentences built from the measured numbers. */
  findings: string[];
  figures: Figure[];
  tables: Table[];
  /** The raw numbers, for results.json. */
  data: unknown;
  wallSeconds: number;
  /** CPU time of the process during the experiment (set by runStudy; 0 before). */
  cpuSeconds: number;
}

/** The mean curve over seeds with its 95% band; the runs' curves must share their x positions. */
export function meanCurve(curves: readonly (readonly CurvePoint[])[]): SeriesPoint[] {
  const shortest = Math.min(...curves.map((curve) => curve.length));
  return Array.from({ length: shortest }, (_, i) => {
    const summary = summarize(curves.map((curve) => curve[i]!.value));
    return { x: curves[0]![i]!.epoch, y: summary.mean, low: summary.low, high: summary.high };
  });
}

/** A summary as a plot point at x. */
export function summaryPoint(x: number, summary: Summary): SeriesPoint {
  return { x, y: summary.mean, low: summary.low, high: summary.high };
}

/** "BatchNorm 93.1% [92.4, 93.8] vs no norm 91.0% [90.2, 91.8]: higher (the intervals do not overlap)". */
export function comparison(labelA: string, a: Summary, labelB: string, b: Summary, format: (summary: Summary) => string): string {
  const verdict = !(a.n >= 2 && b.n >= 2) ? 'too few finite runs to compare' : a.low > b.high ? 'higher (intervals do not overlap)' : a.high < b.low ? 'lower (intervals do not overlap)' : 'the intervals overlap';
  return `${labelA} ${format(a)} vs ${labelB} ${format(b)}: ${verdict}`;
}

/**
 * The per-seed difference a − b (runs of one seed share initial weights and batches, so the
 * difference varies less than either value) with its 95% t-interval: "+3.0 points [1.2, 4.8], paired by seed".
 */
export function pairedDifference(a: readonly number[], b: readonly number[], format: (summary: Summary) => string): string {
  const summary = summarize(a.map((value, i) => value - b[i]!));
  const verdict = !(summary.n >= 2) ? 'too few finite runs' : summary.low > 0 ? 'positive' : summary.high < 0 ? 'negative' : 'the interval contains 0';
  return `${format(summary)} (${verdict})`;
}

/** A difference of accuracies, in percentage points: "+3.0 [2.1, 3.9] points". */
export const points = (summary: Summary): string => `${formatSummary(summary, { percent: true }).replace('%', '')} points`;

export const seedsText = (seeds: readonly number[]): string => `${seeds.length} seeds (${seeds.join(', ')}); every number is the mean with its 95% t-interval over seeds, bands on the curves are the same intervals`;
