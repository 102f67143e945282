import { describe, expect, it } from 'vitest';
import { DASHES, linePlot, logTicks, niceTicks } from '../src/study/svg-plot.js';

describe('the SVG line plot', () => {
  it('has round ticks', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 2.3)).toEqual([0, 0.5, 1, 1.5, 2]);
    expect(niceTicks(0, 250)).toEqual([0, 50, 100, 150, 200, 250]);
    expect(logTicks(2, 32, [2, 4, 8, 32])).toEqual([2, 4, 8, 32]);
    expect(logTicks(0.001, 30, Array.from({ length: 20 }, (_, i) => 0.001 * 1.5 ** i))).toEqual([0.001, 0.01, 0.1, 1, 10]);
  });

  it('draws each series with its own dash pattern and markers, and a band where low/high are given', () => {
    const svg = linePlot({
      title: 'a & b',
      xLabel: 'x',
      yLabel: 'y',
      series: [
        { name: 'first', points: [{ x: 1, y: 1, low: 0.5, high: 1.5 }, { x: 2, y: 2, low: 1.5, high: 2.5 }] },
        { name: 'second <2>', points: [{ x: 1, y: 3 }, { x: 2, y: NaN }, { x: 4, y: 1 }] },
      ],
      logX: true,
    });
    expect(svg).toContain('a &amp; b');
    const lines = [...svg.matchAll(/<polyline data-series="([^"]+)"([^>]*) points="([^"]+)"\/>/g)];
    expect(lines.map((m) => m[1])).toEqual(['first', 'second &lt;2&gt;']);
    expect(lines[0]![2]).not.toContain('stroke-dasharray');
    expect(lines[1]![2]).toContain(`stroke-dasharray="${DASHES[1]}"`);
    expect(lines[1]![3]!.split(' ')).toHaveLength(2); // the NaN point is left out
    expect([...svg.matchAll(/<polygon data-band="([^"]+)"/g)].map((m) => m[1])).toEqual(['first']); // no band without low/high
    expect(svg).toMatch(/<g data-markers="first"><circle [^>]+\/><circle [^>]+\/><\/g>/);
    expect(svg).toMatch(/<g data-markers="second &lt;2&gt;"><rect [^>]+\/><rect [^>]+\/><\/g>/);
    // the band spans the interval: its top edge is above the line (smaller y) at x = 1
    const band = svg.match(/data-band="first"[^>]* points="([^"]+)"/)![1]!.split(' ').map((pair) => pair.split(',').map(Number));
    const line = lines[0]![3]!.split(' ').map((pair) => pair.split(',').map(Number));
    expect(band[0]![1]).toBeLessThan(line[0]![1]!);
    expect(band.at(-1)![1]).toBeGreaterThan(line[0]![1]!);
    // log x: 1, 2, 4 are evenly spaced
    const markerX = [...svg.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="7" height="7"/g)].map((m) => Number(m[1]));
    expect(markerX[1]! - markerX[0]!).toBeGreaterThan(0);
    expect(line[1]![0]! - line[0]![0]!).toBeCloseTo(((markerX[1]! - markerX[0]!) / 2), 0);
  });
});
