import { checkOptions, noGrad, randn, type Tensor } from '@normgrad/core';
import { checkEps } from '../functional/normalize.js';
import { checkPowerIterations, checkSpectralDim, normalizeVector, spectralNormalize, weightMatrix } from '../functional/spectral-norm.js';
import { buffer, isParameter, parameter, type Module } from '../module.js';

export interface SpectralNormOptions<Name extends string> {
  /** The parameter field to normalize. Default 'weight'. */
  name?: Name;
  /** Power iterations per training forward. Default 1. */
  nPowerIterations?: number;
  eps?: number;
  /** The weight axis that becomes the rows of the matrix. Default 0. */
  dim?: number;
}

/** A module after spectralNorm: parameter `<name>Orig`, buffers `<name>U` and `<name>V`. */
export type SpectralNormed<M extends Module, Name extends string> = M & Record<`${Name}Orig` | `${Name}U` | `${Name}V`, Tensor>;

/**
 * Spectral normalization (Miyato et al. 2018, https://arxiv.org/abs/1802.05957) of a module's
 * parameter, in place, as PyTorch's `torch.nn.utils.spectral_norm(module, name, n_power_iterations,
 * eps, dim)`: the parameter `<name>` becomes `<name>Orig`, with buffers `<name>U` and `<name>V`
 * (normalized standard normal draws from core's generator, as PyTorch's initial u and v), and
 * before every forward (a forward pre-hook)
 *
 *   training: nPowerIterations steps v ← normalize(Wᵀu), u ← normalize(Wv) under noGrad (buffers updated)
 *   module[name] = <name>Orig / σ,  σ = uᵀ W v  with u, v held fixed (stopGradient) for the gradient
 *
 * (see spectralNormalize). Eval uses the stored u, v. Names against PyTorch: `weightOrig` ↔
 * `weight_orig`, `weightU` ↔ `weight_u`, `weightV` ↔ `weight_v`; the same values given the same u, v.
 *
 * Under vmap over examples the pre-hook runs once per call (vmap traces the forward once for all
 * examples): nPowerIterations steps and one σ shared by the examples, as one forward of the whole
 * batch (PyTorch steps once per forward, not per example). Over stacked weights and vectors (an
 * ensemble: stackModuleState, functionalCallWithBuffers) each member steps its own u and v.
 */
export function spectralNorm<M extends Module, Name extends string = 'weight'>(module: M, options: SpectralNormOptions<Name> = {}): SpectralNormed<M, Name> {
  checkOptions('spectralNorm', options, ['name', 'nPowerIterations', 'eps', 'dim']);
  const name = (options.name ?? 'weight') as Name;
  const { nPowerIterations = 1, eps = 1e-12, dim = 0 } = options;
  const fields = module as unknown as Record<string, unknown>;
  const weight = fields[name];
  if (!(weight instanceof Object) || !isParameter(weight as Tensor)) {
    throw new Error(`spectralNorm: ${module.constructor.name} has no parameter '${name}' (already reparametrized, or a different name?)`);
  }
  const original = weight as Tensor;
  checkSpectralDim('spectralNorm', dim, original);
  checkPowerIterations('spectralNorm', nPowerIterations);
  checkEps('spectralNorm', eps);
  const [origName, uName, vName] = [`${name}Orig`, `${name}U`, `${name}V`];
  for (const field of [origName, uName, vName]) {
    if (field in fields) throw new Error(`spectralNorm: ${module.constructor.name} already has a field '${field}'`);
  }
  const [rows, columns] = weightMatrix(original, dim).shape as [number, number];
  fields[origName] = parameter(noGrad(() => original.detach().clone()).detach());
  fields[uName] = buffer(noGrad(() => normalizeVector(randn([rows], { dtype: original.dtype }), eps)).detach());
  fields[vName] = buffer(noGrad(() => normalizeVector(randn([columns], { dtype: original.dtype }), eps)).detach());
  fields[name] = noGrad(() => original.detach().clone()).detach();
  // a forward pre-hook, as PyTorch's spectral_norm: forward stays the class's, so other hooks still register
  module.registerForwardPreHook(() => {
    fields[name] = spectralNormalize(fields[origName] as Tensor, fields[uName] as Tensor, fields[vName] as Tensor, {
      dim,
      nPowerIterations,
      eps,
      updateVectors: module.training,
    });
  });
  return module as SpectralNormed<M, Name>;
}
