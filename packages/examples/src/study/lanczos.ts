/**
 * Stochastic Lanczos quadrature (Golub & Meurant; Ghorbani et al. 2019, https://arxiv.org/abs/1901.10159):
 * from a random unit vector v, `steps` Lanczos iterations on a symmetric operator H give a
 * tridiagonal T whose eigenvalues θ_k (Ritz values) and squared first eigenvector components w_k
 * form the quadrature Σ_k w_k δ(λ − θ_k) of vᵀ δ(λ − H) v: an unbiased estimate of the spectral
 * density (1/n) Σ_i δ(λ − λ_i). The largest θ_k converges quickly to the top eigenvalue.
 */

/** Lanczos nodes and weights (weights sum to 1). */
export interface Quadrature {
  nodes: number[];
  weights: number[];
}

function dot(a: Float64Array, b: Float64Array): number {
  let total = 0;
  for (let i = 0; i < a.length; i++) total += a[i]! * b[i]!;
  return total;
}

/**
 * Eigenvalues of the symmetric tridiagonal matrix with diagonal `alpha` and off-diagonal `beta`
 * (beta[i] joins rows i and i+1), and the first component of each unit eigenvector, by the
 * implicit QL algorithm with Wilkinson shifts (tqli, Numerical Recipes §11.3).
 */
export function tridiagonalEigen(alpha: readonly number[], beta: readonly number[]): { values: number[]; firstComponents: number[] } {
  const n = alpha.length;
  const d = [...alpha];
  const e = [...beta, 0];
  const z = Array.from({ length: n }, (_, i): number => (i === 0 ? 1 : 0)); // the first row of the eigenvector matrix
  for (let l = 0; l < n; l++) {
    for (let iteration = 0; ; iteration++) {
      let m = l;
      for (; m < n - 1; m++) {
        const scale = Math.abs(d[m]!) + Math.abs(d[m + 1]!);
        if (Math.abs(e[m]!) <= Number.EPSILON * scale) break;
      }
      if (m === l) break;
      if (iteration > 60) throw new Error('tridiagonalEigen: no convergence after 60 iterations');
      let g = (d[l + 1]! - d[l]!) / (2 * e[l]!);
      let r = Math.hypot(g, 1);
      g = d[m]! - d[l]! + e[l]! / (g + (g >= 0 ? r : -r));
      let [s, c, p] = [1, 1, 0];
      let i = m - 1;
      for (; i >= l; i--) {
        let f = s * e[i]!;
        const b = c * e[i]!;
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          d[i + 1] = d[i + 1]! - p;
          e[m] = 0;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1]! - p;
        r = (d[i]! - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        f = z[i + 1]!;
        z[i + 1] = s * z[i]! + c * f;
        z[i] = c * z[i]! - s * f;
      }
      if (r === 0 && i >= l) continue;
      d[l] = d[l]! - p;
      e[l] = g;
      e[m] = 0;
    }
  }
  return { values: d, firstComponents: z };
}

/**
 * `steps` Lanczos iterations of the symmetric operator `apply` from the unit vector `start`, with
 * full reorthogonalization (exact arithmetic's orthogonality, so no spurious copies of Ritz
 * values). Stops early when the Krylov space is exhausted.
 */
export function lanczos(apply: (v: Float64Array) => Float64Array, start: Float64Array, steps: number): Quadrature {
  const norm0 = Math.sqrt(dot(start, start));
  if (!(norm0 > 0)) throw new Error('lanczos: the start vector is zero');
  const basis: Float64Array[] = [start.map((value) => value / norm0)];
  const alpha: number[] = [];
  const beta: number[] = [];
  for (let j = 0; j < steps; j++) {
    const v = basis[j]!;
    const w = apply(v);
    const a = dot(w, v);
    alpha.push(a);
    for (let i = 0; i < w.length; i++) w[i] = w[i]! - a * v[i]! - (j > 0 ? beta[j - 1]! * basis[j - 1]![i]! : 0);
    for (let pass = 0; pass < 2; pass++) {
      for (const q of basis) {
        const overlap = dot(w, q);
        for (let i = 0; i < w.length; i++) w[i] = w[i]! - overlap * q[i]!;
      }
    }
    const b = Math.sqrt(dot(w, w));
    if (j === steps - 1 || b < 1e-10 * Math.max(1, Math.abs(a))) break;
    beta.push(b);
    basis.push(w.map((value) => value / b));
  }
  const { values, firstComponents } = tridiagonalEigen(alpha, beta.slice(0, alpha.length - 1));
  return { nodes: values, weights: firstComponents.map((component) => component * component) };
}

/** The quadrature smoothed by Gaussians of width `sigma`, evaluated at `grid`: an estimate of the spectral density. */
export function smoothedDensity(quadrature: Quadrature, grid: readonly number[], sigma: number): number[] {
  const scale = 1 / (sigma * Math.sqrt(2 * Math.PI));
  return grid.map((x) => quadrature.nodes.reduce((total, node, k) => total + quadrature.weights[k]! * scale * Math.exp(-0.5 * ((x - node) / sigma) ** 2), 0));
}
