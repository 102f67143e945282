/**
 * A minimal line-chart writer: axes, ticks, grid, one polyline per series with its own dash
 * pattern and marker (told apart without colour), an optional interval band per series, a legend.
 * Plain SVG 1.1.
 */

/** A point of a series; `low`/`high` (both or neither) bound the shaded interval band at x. */
export interface SeriesPoint {
  x: number;
  y: number;
  low?: number;
  high?: number;
}

export interface Series {
  name: string;
  points: readonly SeriesPoint[];
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
  /** Logarithmic x axis (every x must be positive); ticks at powers of ten. */
  logX?: boolean;
  /** Explicit x ticks (e.g. layer numbers) instead of the automatic ones. */
  xTicks?: readonly number[];
  width?: number;
  height?: number;
}

/** Colors that stay distinguishable for color-blind readers (Okabe–Ito). */
export const PALETTE = ['#000000', '#E69F00', '#56B4E9', '#009E73', '#D55E00', '#CC79A7', '#0072B2', '#F0E442'];

/** Dash patterns and markers, by series index, so that lines differ without colour too. */
export const DASHES = ['', '7 4', '2 3', '9 3 2 3', '4 2', '12 4', '1 4', '6 2 1 2 1 2'];
export const MARKERS = ['circle', 'square', 'triangle', 'diamond', 'cross', 'plus', 'triangle-down', 'star'] as const;

const MARGIN = { left: 64, right: 170, top: 40, bottom: 52 };
/** Markers are drawn on at most this many points of a series (evenly spaced). */
const MAX_MARKERS = 12;

export function escapeXml(text: string): string {
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

/** Ticks of a logarithmic axis over [low, high] (both positive): the data's x values when few, else the powers of ten inside. */
export function logTicks(low: number, high: number, xs: readonly number[] = []): number[] {
  const distinct = [...new Set(xs)].sort((a, b) => a - b);
  if (distinct.length >= 2 && distinct.length <= 8) return distinct;
  const ticks: number[] = [];
  for (let power = Math.ceil(Math.log10(low) - 1e-9); power <= Math.floor(Math.log10(high) + 1e-9); power++) ticks.push(Number((10 ** power).toPrecision(12)));
  return ticks.length >= 2 ? ticks : [low, high];
}

function marker(kind: (typeof MARKERS)[number], x: number, y: number, color: string): string {
  const r = 3.5;
  const f = (value: number): string => value.toFixed(1);
  const polygon = (corners: [number, number][]): string => `<polygon points="${corners.map(([dx, dy]) => `${f(x + dx)},${f(y + dy)}`).join(' ')}" fill="${color}"/>`;
  switch (kind) {
    case 'circle':
      return `<circle cx="${f(x)}" cy="${f(y)}" r="${r}" fill="${color}"/>`;
    case 'square':
      return `<rect x="${f(x - r)}" y="${f(y - r)}" width="${2 * r}" height="${2 * r}" fill="${color}"/>`;
    case 'triangle':
      return polygon([[0, -r - 1], [r + 1, r], [-r - 1, r]]);
    case 'triangle-down':
      return polygon([[0, r + 1], [r + 1, -r], [-r - 1, -r]]);
    case 'diamond':
      return polygon([[0, -r - 1], [r + 1, 0], [0, r + 1], [-r - 1, 0]]);
    case 'star':
      return polygon(Array.from({ length: 10 }, (_, i) => [Math.sin((i * Math.PI) / 5) * (i % 2 ? r / 2 : r + 1.5), -Math.cos((i * Math.PI) / 5) * (i % 2 ? r / 2 : r + 1.5)] as [number, number]));
    case 'cross':
      return `<path d="M${f(x - r)},${f(y - r)}L${f(x + r)},${f(y + r)}M${f(x - r)},${f(y + r)}L${f(x + r)},${f(y - r)}" stroke="${color}" stroke-width="2"/>`;
    case 'plus':
      return `<path d="M${f(x - r - 1)},${f(y)}L${f(x + r + 1)},${f(y)}M${f(x)},${f(y - r - 1)}L${f(x)},${f(y + r + 1)}" stroke="${color}" stroke-width="2"/>`;
  }
}

export function linePlot(options: LinePlotOptions): string {
  const width = options.width ?? 640;
  const height = options.height ?? 400;
  const formatY = options.formatY ?? formatTick;
  const logX = options.logX ?? false;
  const visible = (p: SeriesPoint): boolean => Number.isFinite(p.x) && Number.isFinite(p.y) && (!logX || p.x > 0);
  const all = options.series.flatMap((series) => series.points).filter(visible);
  const extents = all.flatMap((p) => [p.y, p.low ?? p.y, p.high ?? p.y]).filter(Number.isFinite);
  const xs = all.map((p) => p.x);
  const [xMin, xMax] = logX ? [Math.min(...xs), Math.max(...xs)] : [Math.min(0, ...xs), Math.max(...xs, 1e-9)];
  const [yMin, yMax] = options.yRange ?? [Math.min(0, ...extents), Math.max(...extents, 1e-9)];
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = height - MARGIN.top - MARGIN.bottom;
  const toAxis = (x: number): number => (logX ? Math.log10(x) : x);
  const xSpan = toAxis(xMax) - toAxis(xMin) || 1;
  const sx = (x: number): number => MARGIN.left + ((toAxis(x) - toAxis(xMin)) / xSpan) * plotWidth;
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
  for (const tick of options.xTicks ?? (logX ? logTicks(xMin, xMax, xs) : niceTicks(xMin, xMax))) {
    parts.push(`<line x1="${f(sx(tick))}" x2="${f(sx(tick))}" y1="${f(MARGIN.top + plotHeight)}" y2="${f(MARGIN.top + plotHeight + 5)}" stroke="#333333"/>`);
    parts.push(`<text x="${f(sx(tick))}" y="${f(MARGIN.top + plotHeight + 19)}" text-anchor="middle">${escapeXml(formatTick(tick))}</text>`);
  }
  parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#333333"/>`);
  parts.push(`<text x="${f(MARGIN.left + plotWidth / 2)}" y="${height - 10}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${f(MARGIN.top + plotHeight / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`);

  options.series.forEach((series, index) => {
    const color = PALETTE[index % PALETTE.length]!;
    const dash = DASHES[index % DASHES.length]!;
    const dashAttribute = dash === '' ? '' : ` stroke-dasharray="${dash}"`;
    const markerKind = MARKERS[index % MARKERS.length]!;
    const points = series.points.filter(visible);
    const banded = points.filter((p) => Number.isFinite(p.low) && Number.isFinite(p.high));
    if (banded.length >= 2) {
      const outline = [...banded.map((p) => `${f(sx(p.x))},${f(sy(p.high!))}`), ...banded.reverse().map((p) => `${f(sx(p.x))},${f(sy(p.low!))}`)];
      parts.push(`<polygon data-band="${escapeXml(series.name)}" fill="${color}" fill-opacity="0.15" stroke="none" points="${outline.join(' ')}"/>`);
    }
    const coordinates = points.map((p) => `${f(sx(p.x))},${f(sy(p.y))}`).join(' ');
    parts.push(`<polyline data-series="${escapeXml(series.name)}" fill="none" stroke="${color}" stroke-width="2" stroke-linejoin="round"${dashAttribute} points="${coordinates}"/>`);
    const every = Math.max(1, Math.ceil(points.length / MAX_MARKERS));
    const marked = points.filter((_, i) => i % every === 0 || i === points.length - 1);
    parts.push(`<g data-markers="${escapeXml(series.name)}">${marked.map((p) => marker(markerKind, sx(p.x), sy(p.y), color)).join('')}</g>`);
    const legendY = MARGIN.top + 10 + index * 20;
    const legendX = MARGIN.left + plotWidth + 12;
    parts.push(`<line x1="${legendX}" x2="${legendX + 30}" y1="${legendY}" y2="${legendY}" stroke="${color}" stroke-width="2.5"${dashAttribute}/>`);
    parts.push(marker(markerKind, legendX + 15, legendY, color));
    parts.push(`<text x="${legendX + 36}" y="${legendY + 4}">${escapeXml(series.name)}</text>`);
  });
  parts.push('</svg>', '');
  return parts.join('\n');
}
