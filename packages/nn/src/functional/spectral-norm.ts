import { assignInPlace, checkOptions, noGrad, stopGradient, type Tensor } from '@normgrad/core';
import { checkSameDtype, formatShape, range } from '../util.js';
import { checkEps } from './normalize.js';

export interface SpectralNormalizeOptions {
  /** The weight axis that becomes the rows of the matrix (PyTorch's dim). Default 0. */
  dim?: number;
  /** Power iterations run before normalizing, when updateVectors. Default 1. */
  nPowerIterations?: number;
  /** Lower bound of the norms in the power iteration. Default 1e-12. */
  eps?: number;
  /** Run the power iteration and write the new u, v into the given tensors (training). Default false. */
  updateVectors?: boolean;
}

/**
 * Spectral normalization (Miyato, Kataoka, Koyama & Yoshida 2018, https://arxiv.org/abs/1802.05957)
 * of a weight, PyTorch's `torch.nn.utils.spectral_norm`: with W the weight as a matrix (axis `dim`
 * moved first, the other axes flattened into columns) and u, v estimates of its first left and
 * right singular vectors,
 *
 *   updateVectors: nPowerIterations times  v ← normalize(Wᵀ u),  u ← normalize(W v)
 *                  (normalize(a) = a / max(‖a‖, eps)), under noGrad, written into u and v in place
 *   σ = uᵀ W v,   returned: weight / σ
 *
 * u and v enter σ through core's stopGradient: constants for the gradient (as in PyTorch), so
 * ∂σ/∂W = u vᵀ. Without updateVectors (eval) the stored u and v are used as they are.
 */
export function spectralNormalize(weight: Tensor, u: Tensor, v: Tensor, options: SpectralNormalizeOptions = {}): Tensor {
  const op = 'spectralNormalize';
  checkOptions(op, options, ['dim', 'nPowerIterations', 'eps', 'updateVectors']);
  const { dim = 0, nPowerIterations = 1, eps = 1e-12, updateVectors = false } = options;
  if (weight.ndim < 1) throw new Error(`${op}: expected a weight with at least 1 dimension, got ${formatShape(weight.shape)}`);
  checkSpectralDim(op, dim, weight);
  checkPowerIterations(op, nPowerIterations);
  checkEps(op, eps);
  const matrix = weightMatrix(weight, dim);
  const [rows, columns] = matrix.shape as [number, number];
  if (u.ndim !== 1 || u.shape[0] !== rows) throw new Error(`${op}: u must have shape [${rows}] for a weight of shape ${formatShape(weight.shape)} and dim ${dim}, got ${formatShape(u.shape)}`);
  if (v.ndim !== 1 || v.shape[0] !== columns) throw new Error(`${op}: v must have shape [${columns}] for a weight of shape ${formatShape(weight.shape)} and dim ${dim}, got ${formatShape(v.shape)}`);
  checkSameDtype(op, weight, { u, v });
  if (updateVectors) {
    noGrad(() => {
      const w = matrix.detach();
      for (let i = 0; i < nPowerIterations; i++) {
        assignInPlace(v, normalizeVector(w.transpose(0, 1).matmul(u), eps));
        assignInPlace(u, normalizeVector(w.matmul(v), eps));
      }
    });
  }
  // Copies: a later forward updates u and v in place, and this graph must keep these values.
  const [uFixed, vFixed] = noGrad(() => [u.clone(), v.clone()]);
  const sigma = stopGradient(uFixed!).matmul(matrix.matmul(stopGradient(vFixed!)));
  return weight.div(sigma);
}

/** The weight as a (rows, columns) matrix: axis dim first, the others flattened. */
export function weightMatrix(weight: Tensor, dim: number): Tensor {
  const moved = dim === 0 ? weight : weight.permute([dim, ...range(0, weight.ndim).filter((axis) => axis !== dim)]);
  return moved.reshape([weight.shape[dim]!, -1]);
}

/** a / max(‖a‖, eps), PyTorch's F.normalize(a, dim=0, eps). */
export function normalizeVector(a: Tensor, eps: number): Tensor {
  return a.div(a.square().sum().sqrt().maximum(eps));
}

export function checkSpectralDim(op: string, dim: number, weight: Tensor): void {
  if (!Number.isInteger(dim) || dim < 0 || dim >= weight.ndim) {
    throw new Error(`${op}: dim must be an integer in [0, ${weight.ndim}) for a weight of shape ${formatShape(weight.shape)}, got ${dim}`);
  }
}

export function checkPowerIterations(op: string, nPowerIterations: number): void {
  if (!Number.isInteger(nPowerIterations) || nPowerIterations < 1) {
    throw new Error(`${op}: nPowerIterations must be a positive integer, got ${nPowerIterations}`);
  }
}
