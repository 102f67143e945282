/** A minimal line-chart writer: axes, ticks, grid, one polyline per series, a legend. Plain SVG 1.1. */

export interface Series {
  name: string;
  points: readonly { x: number; y: number }[];
}

export interface LinePlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  /** Fixed y range; by default from 0 (or the data minimum if negative) to the data maximum. */
  yRange?: [number, number];
  /** Formats y tick labels (e.g. as percentages). */
  formatY?: (value: number) => string;
  width?: number;
  height?: number;
}

/** Colors that stay distinguishable for color-blind readers (Okabe–Ito). */
export const PALETTE = ['#000000', '#E69F00', '#56B4E9', '#009E73', '#D55E00', '#CC79A7', '#0072B2', '#F0E442'];

const MARGIN = { left: 64, right: 150, top: 40, bottom: 52 };

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** About `count` round tick values (steps of 1, 2 or 5 times a power of ten) covering [low, high]. */
export function niceTicks(low: number, high: number, count = 5): number[] {
  if (!(high > low)) return [low];
  const rough = (high - low) / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= rough) ?? 10 * power;
  const ticks: number[] = [];
  for (let value = Math.ceil(low / step - 1e-9) * step; value <= high + step * 1e-9; value += step) ticks.push(Number(value.toPrecision(12)));
  return ticks;
}

function formatTick(value: number): string {
  return Number(value.toPrecision(6)).toString();
}

export function linePlot(options: LinePlotOptions): string {
  const width = options.width ?? 640;
  const height = options.height ?? 400;
  const formatY = options.formatY ?? formatTick;
  const all = options.series.flatMap((series) => series.points).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const xMax = Math.max(...all.map((p) => p.x), 1e-9);
  const xMin = Math.min(0, ...all.map((p) => p.x));
  const [yMin, yMax] = options.yRange ?? [Math.min(0, ...all.map((p) => p.y)), Math.max(...all.map((p) => p.y), 1e-9)];
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = height - MARGIN.top - MARGIN.bottom;
  const sx = (x: number): number => MARGIN.left + ((x - xMin) / (xMax - xMin)) * plotWidth;
  const sy = (y: number): number => MARGIN.top + plotHeight - ((Math.min(Math.max(y, yMin), yMax) - yMin) / (yMax - yMin)) * plotHeight;
  const f = (value: number): string => value.toFixed(1);

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${f(MARGIN.left + plotWidth / 2)}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`,
  ];
  for (const tick of niceTicks(yMin, yMax)) {
    parts.push(`<line x1="${MARGIN.left}" x2="${f(MARGIN.left + plotWidth)}" y1="${f(sy(tick))}" y2="${f(sy(tick))}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${MARGIN.left - 8}" y="${f(sy(tick) + 4)}" text-anchor="end">${escapeXml(formatY(tick))}</text>`);
  }
  for (const tick of niceTicks(xMin, xMax)) {
    parts.push(`<line x1="${f(sx(tick))}" x2="${f(sx(tick))}" y1="${f(MARGIN.top + plotHeight)}" y2="${f(MARGIN.top + plotHeight + 5)}" stroke="#333333"/>`);
    parts.push(`<text x="${f(sx(tick))}" y="${f(MARGIN.top + plotHeight + 19)}" text-anchor="middle">${escapeXml(formatTick(tick))}</text>`);
  }
  parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#333333"/>`);
  parts.push(`<text x="${f(MARGIN.left + plotWidth / 2)}" y="${height - 10}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${f(MARGIN.top + plotHeight / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`);

  options.series.forEach((series, index) => {
    const color = PALETTE[index % PALETTE.length]!;
    const points = series.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
    const coordinates = points.map((p) => `${f(sx(p.x))},${f(sy(p.y))}`).join(' ');
    parts.push(`<polyline data-series="${escapeXml(series.name)}" fill="none" stroke="${color}" stroke-width="2" stroke-linejoin="round" points="${coordinates}"/>`);
    const legendY = MARGIN.top + 10 + index * 20;
    const legendX = MARGIN.left + plotWidth + 14;
    parts.push(`<line x1="${legendX}" x2="${legendX + 22}" y1="${legendY}" y2="${legendY}" stroke="${color}" stroke-width="3"/>`);
    parts.push(`<text x="${legendX + 28}" y="${legendY + 4}">${escapeXml(series.name)}</text>`);
  });
  parts.push('</svg>', '');
  return parts.join('\n');
}
