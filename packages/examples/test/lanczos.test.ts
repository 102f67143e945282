import { describe, expect, it } from 'vitest';
import { lanczos, smoothedDensity, tridiagonalEigen } from '../src/study/lanczos.js';
import { seededRandom } from '../src/study/random.js';

describe('stochastic Lanczos quadrature', () => {
  it('finds the eigenvalues of a tridiagonal matrix (the 1-D Laplacian: 2 − 2 cos(kπ/(n+1)))', () => {
    const n = 12;
    const { values, firstComponents } = tridiagonalEigen(Array(n).fill(2), Array(n - 1).fill(-1));
    const expected = Array.from({ length: n }, (_, k) => 2 - 2 * Math.cos(((k + 1) * Math.PI) / (n + 1)));
    expect(Math.max(...[...values].sort((a, b) => a - b).map((v, k) => Math.abs(v - expected[k]!)))).toBeLessThan(1e-12);
    // first components of the unit eigenvectors: sqrt(2/(n+1)) sin(kπ/(n+1)); their squares sum to 1
    expect(firstComponents.reduce((total, c) => total + c * c, 0)).toBeCloseTo(1, 12);
  });

  it('on a diagonal operator with as many steps as dimensions: exact eigenvalues, weights v_i² / ‖v‖²', () => {
    const diagonal = Float64Array.from([-3, -0.5, 0, 0.25, 1, 2, 7.5, 40]);
    const random = seededRandom(3);
    const start = Float64Array.from(diagonal, () => random() - 0.5);
    const quadrature = lanczos((v) => v.map((value, i) => value * diagonal[i]!), start, diagonal.length);
    const order = quadrature.nodes.map((_, i) => i).sort((a, b) => quadrature.nodes[a]! - quadrature.nodes[b]!);
    const squared = start.reduce((total, value) => total + value * value, 0);
    order.forEach((index, rank) => {
      expect(quadrature.nodes[index]).toBeCloseTo(diagonal[rank]!, 9);
      expect(quadrature.weights[index]).toBeCloseTo(start[rank]! ** 2 / squared, 9);
    });
  });

  it('with few steps: the top Ritz value is close to the top eigenvalue; the smoothed density integrates to 1', () => {
    const n = 400;
    const diagonal = Float64Array.from({ length: n }, (_, i) => (i === n - 1 ? 50 : Math.sin(i) ** 2));
    const random = seededRandom(11);
    const quadrature = lanczos((v) => v.map((value, i) => value * diagonal[i]!), Float64Array.from({ length: n }, () => random() - 0.5), 20);
    expect(quadrature.nodes).toHaveLength(20);
    expect(Math.max(...quadrature.nodes)).toBeCloseTo(50, 6);
    expect(quadrature.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    const grid = Array.from({ length: 2001 }, (_, i) => -5 + (i * 60) / 2000);
    const density = smoothedDensity(quadrature, grid, 0.3);
    expect(density.reduce((a, b) => a + b, 0) * (60 / 2000)).toBeCloseTo(1, 3);
  });

  it('rejects a zero start vector', () => {
    expect(() => lanczos((v) => v, new Float64Array(3), 2)).toThrow(/lanczos: the start vector is zero/);
  });
});
