import type { ExperimentReport, Table } from './experiments/common.js';
import { escapeXml } from './svg-plot.js';

/** A table as GitHub-flavoured Markdown (the first column left-aligned, the others right-aligned). */
export function markdownTable(table: Table): string {
  const escape = (cell: string): string => cell.replace(/\|/g, '\\|');
  const lines = [`| ${table.header.map(escape).join(' | ')} |`, `|${table.header.map((_, i) => (i < 1 ? '---' : '---:')).join('|')}|`];
  for (const row of table.rows) lines.push(`| ${row.map(escape).join(' | ')} |`);
  return lines.join('\n');
}

/** The same table, aligned in columns, for the terminal. */
export function textTable(table: Table): string {
  const rows = [table.header, ...table.rows];
  const widths = table.header.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  const format = (row: string[]): string => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  return [format(table.header), widths.map((w) => '-'.repeat(w)).join('  '), ...table.rows.map(format)].join('\n');
}

export interface ReportContext {
  /** One line each: data, seeds, machine, times. */
  setup: string[];
  dotFiles: readonly string[];
}

/** results.md: the setup, then per experiment the claim, the setup, the findings, the plots (as SVG files) and the tables. */
export function markdownReport(experiments: readonly ExperimentReport[], context: ReportContext): string {
  const lines = ['# normgrad normalization study', '', ...context.setup.map((line) => `- ${line}`), '', 'The same content with the plots inline: `report.html`.', ''];
  for (const experiment of experiments) {
    lines.push(`## ${experiment.title} (\`${experiment.key}\`)`, '', `**The papers:** ${experiment.claim}`, '', `**Setup:** ${experiment.setup}`, '', '**This run:**', '');
    for (const finding of experiment.findings) lines.push(`- ${finding}`);
    lines.push('');
    for (const figure of experiment.figures) lines.push(`![${figure.id}](${figure.id}.svg)`, '', `*${figure.caption}*`, '');
    for (const table of experiment.tables) lines.push(markdownTable(table), '', `*${table.caption}*`, '');
  }
  if (context.dotFiles.length > 0) {
    lines.push('## Forward graphs', '', "Graphviz DOT of each normalization layer's forward (render with `dot -Tsvg FILE -o FILE.svg`):", '');
    for (const file of context.dotFiles) lines.push(`- [${file}](${file})`);
    lines.push('');
  }
  return lines.join('\n');
}

const STYLE = `
body { font-family: Helvetica, Arial, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.7em; } h2 { margin-top: 2.2em; border-bottom: 1px solid #ccc; padding-bottom: .2em; }
figure { margin: 1.5em 0; } figure svg { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .92em; color: #444; max-width: 820px; }
table { border-collapse: collapse; margin: 1em 0; font-size: .9em; } td, th { border: 1px solid #ccc; padding: .25em .6em; }
td:not(:first-child), th:not(:first-child) { text-align: right; } caption { caption-side: bottom; text-align: left; font-size: .92em; color: #444; padding-top: .4em; }
.claim { background: #f6f6f6; padding: .6em 1em; border-left: 4px solid #999; }
`;

function htmlTable(table: Table): string {
  const header = `<tr>${table.header.map((cell) => `<th>${escapeXml(cell)}</th>`).join('')}</tr>`;
  const rows = table.rows.map((row) => `<tr>${row.map((cell) => `<td>${escapeXml(cell)}</td>`).join('')}</tr>`);
  return `<table><caption>${escapeXml(table.caption)}</caption>\n${header}\n${rows.join('\n')}\n</table>`;
}

/**
 * report.html: one self-contained page (inline SVG and CSS, no script, no network) with every
 * experiment's claim, setup, findings, plots with captions, and tables. Each figure carries
 * data-figure (its id) and data-series (the JSON list of its series' names).
 */
export function htmlReport(experiments: readonly ExperimentReport[], context: ReportContext): string {
  const parts = [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8"><title>normgrad normalization study</title>',
    `<style>${STYLE}</style></head><body>`,
    '<h1>normgrad normalization study</h1>',
    `<ul>${context.setup.map((line) => `<li>${escapeXml(line)}</li>`).join('')}</ul>`,
    `<p>Experiments: ${experiments.map((e) => `<a href="#${e.key}">${escapeXml(e.title)}</a>`).join(' · ')}</p>`,
  ];
  for (const experiment of experiments) {
    parts.push(`<section id="${experiment.key}"><h2>${escapeXml(experiment.title)}</h2>`);
    parts.push(`<p class="claim"><b>The papers:</b> ${escapeXml(experiment.claim)}</p>`);
    parts.push(`<p><b>Setup:</b> ${escapeXml(experiment.setup)}</p>`);
    parts.push(`<p><b>This run</b> (mean [95% interval]; “higher”/“lower” only where the intervals do not overlap):</p><ul>${experiment.findings.map((f) => `<li>${escapeXml(f)}</li>`).join('')}</ul>`);
    for (const figure of experiment.figures) {
      parts.push(`<figure data-figure="${figure.id}" data-series="${escapeXml(JSON.stringify(figure.series))}">`, figure.svg, `<figcaption>${escapeXml(figure.caption)}</figcaption></figure>`);
    }
    for (const table of experiment.tables) parts.push(htmlTable(table));
    parts.push(`<p><small>This experiment took ${experiment.wallSeconds.toFixed(1)} s of wall time and ${experiment.cpuSeconds.toFixed(1)} s of CPU time.</small></p></section>`);
  }
  parts.push('</body></html>', '');
  return parts.join('\n');
}
