import { checkOptions, noGrad, type Tensor } from '@normgrad/core';
import { checkWeightNormDim, directionNorm, weightNormalize } from '../functional/weight-norm.js';
import { isParameter, parameter, type Module } from '../module.js';

export interface WeightNormOptions<Name extends string> {
  /** The parameter field to reparametrize. Default 'weight'. */
  name?: Name;
  /** The axis with one magnitude per slice; null: one magnitude for the whole weight. Default 0. */
  dim?: number | null;
}

/** A module after weightNorm: its `<name>G` (magnitude) and `<name>V` (direction) parameters. */
export type WeightNormed<M extends Module, Name extends string> = M & Record<`${Name}G` | `${Name}V`, Tensor>;

/**
 * Weight normalization (Salimans & Kingma 2016, https://arxiv.org/abs/1602.07868) of a module's
 * parameter, in place, as PyTorch's `torch.nn.utils.weight_norm(module, name, dim)`: the
 * parameter `<name>` is replaced by two parameters,
 *
 *   <name>V = the old weight (direction),  <name>G = ‖<name>V‖ (magnitude, over every axis but dim)
 *
 * and `module[name] = <name>G · <name>V / ‖<name>V‖` is recomputed (in the graph) by a forward
 * pre-hook before every forward, so gradients reach G and V. At the start the weight is unchanged.
 * The computed `module[name]` is an ordinary tensor field, neither parameter nor state.
 *
 * Names against PyTorch: `weightG` ↔ `weight_g`, `weightV` ↔ `weight_v` (torch.nn.utils.weight_norm);
 * with torch ≥ 2.1's `parametrizations.weight_norm`, `weightG` ↔ `parametrizations.weight.original0`
 * and `weightV` ↔ `parametrizations.weight.original1`. Same shapes (g keeps v's rank with ones).
 */
export function weightNorm<M extends Module, Name extends string = 'weight'>(module: M, options: WeightNormOptions<Name> = {}): WeightNormed<M, Name> {
  checkOptions('weightNorm', options, ['name', 'dim']);
  const name = (options.name ?? 'weight') as Name;
  const dim = options.dim === undefined ? 0 : options.dim;
  const fields = module as unknown as Record<string, unknown>;
  const weight = fields[name];
  if (!(weight instanceof Object) || !isParameter(weight as Tensor)) {
    throw new Error(`weightNorm: ${module.constructor.name} has no parameter '${name}' (already reparametrized, or a different name?)`);
  }
  const original = weight as Tensor;
  checkWeightNormDim('weightNorm', dim, original);
  const [gName, vName] = [`${name}G`, `${name}V`];
  if (gName in fields || vName in fields) throw new Error(`weightNorm: ${module.constructor.name} already has a field '${gName}' or '${vName}'`);
  // g before v: the parameter order of PyTorch's weight_norm (bias, weight_g, weight_v)
  fields[gName] = parameter(noGrad(() => directionNorm(original, dim)).detach());
  fields[vName] = parameter(noGrad(() => original.detach().clone()).detach());
  const compute = (): Tensor => weightNormalize(fields[vName] as Tensor, fields[gName] as Tensor, { dim });
  fields[name] = noGrad(compute).detach();
  // a forward pre-hook, as PyTorch's weight_norm: forward stays the class's, so other hooks still register
  module.registerForwardPreHook(() => {
    fields[name] = compute();
  });
  return module as WeightNormed<M, Name>;
}
