import { Tensor, tensor } from '@normgrad/core';
import { asInt64 } from './safetensors.js';

/**
 * normgrad names state like PyTorch, in camelCase: a key is a dotted path of module names (kept
 * as they are, e.g. Sequential's `0`, `1`, or a field `features`) ending in a tensor name, which
 * is PyTorch's snake_case name in camelCase:
 *
 *   weight, bias                          (Linear, Conv2d, every norm's affine parameters)
 *   runningMean        ↔ running_mean     (BatchNorm, InstanceNorm with trackRunningStats, BatchRenorm, SwitchableNorm)
 *   runningVar         ↔ running_var
 *   numBatchesTracked  ↔ num_batches_tracked, an int64 scalar in PyTorch (a float64 scalar in normgrad)
 *   meanWeight, varWeight ↔ mean_weight, var_weight   (SwitchableNorm, as its reference implementation)
 *
 * so the mapping is the same rule for every layer: the last name converts between camelCase and
 * snake_case, the module path is unchanged. PyTorch 1.13 has no RMSNorm, BatchRenorm or
 * SwitchableNorm; a PyTorch module written to match them (as torch 2.4's nn.RMSNorm does for
 * RMSNorm: `weight`) loads with these names.
 */

/** `runningMean` → `running_mean`. */
export function torchName(name: string): string {
  return name.replace(/[A-Z]/g, (capital) => `_${capital.toLowerCase()}`);
}

/** `running_mean` → `runningMean`. */
export function normgradName(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

function mapKey(key: string, rename: (name: string) => string): string {
  const dot = key.lastIndexOf('.');
  return key.slice(0, dot + 1) + rename(key.slice(dot + 1));
}

function checkStateDict(entryPoint: string, stateDict: unknown): asserts stateDict is Record<string, Tensor> {
  if (typeof stateDict !== 'object' || stateDict === null || Array.isArray(stateDict) || stateDict instanceof Tensor) {
    throw new Error(`${entryPoint}: expected a state dict (a record of named Tensors), got ${stateDict === null ? 'null' : Array.isArray(stateDict) ? 'an array' : typeof stateDict}`);
  }
  for (const [key, value] of Object.entries(stateDict)) {
    if (!(value instanceof Tensor)) throw new Error(`${entryPoint}: "${key}" is ${typeof value === 'object' ? 'a plain object' : typeof value}, expected a Tensor`);
  }
}

/**
 * A normgrad state dict (module.stateDict()) under PyTorch's keys: `0.runningMean` →
 * `0.running_mean`; `numBatchesTracked` becomes `num_batches_tracked`, marked to be written as
 * int64 by saveSafetensors. Tensors are shared, not copied (num_batches_tracked is a new scalar).
 */
export function toTorchStateDict(stateDict: Record<string, Tensor>): Record<string, Tensor> {
  const entryPoint = 'toTorchStateDict';
  checkStateDict(entryPoint, stateDict);
  const result: Record<string, Tensor> = {};
  const sources = new Map<string, string>();
  for (const [key, value] of Object.entries(stateDict)) {
    const name = key.slice(key.lastIndexOf('.') + 1);
    if (name.includes('_')) {
      throw new Error(`${entryPoint}: "${key}" is not a camelCase normgrad name ("${name}" has an underscore, so PyTorch's snake_case name would not map back)`);
    }
    const torchKey = mapKey(key, torchName);
    const earlier = sources.get(torchKey);
    if (earlier !== undefined) throw new Error(`${entryPoint}: "${earlier}" and "${key}" both map to "${torchKey}"`);
    sources.set(torchKey, key);
    if (name === 'numBatchesTracked') {
      if (value.size !== 1) throw new Error(`${entryPoint}: "${key}" must be a one-element tensor, got shape [${value.shape.join(', ')}]`);
      result[torchKey] = asInt64(tensor(value.item(), { dtype: 'float64' }));
    } else {
      result[torchKey] = value;
    }
  }
  return result;
}

/**
 * A PyTorch state dict (e.g. loadSafetensors of a file written by safetensors.torch.save_file)
 * under normgrad's keys, for module.loadStateDict: `0.running_mean` → `0.runningMean`.
 */
export function fromTorchStateDict(stateDict: Record<string, Tensor>): Record<string, Tensor> {
  const entryPoint = 'fromTorchStateDict';
  checkStateDict(entryPoint, stateDict);
  const result: Record<string, Tensor> = {};
  const sources = new Map<string, string>();
  for (const [key, value] of Object.entries(stateDict)) {
    const normgradKey = mapKey(key, normgradName);
    const earlier = sources.get(normgradKey);
    if (earlier !== undefined) throw new Error(`${entryPoint}: "${earlier}" and "${key}" both map to "${normgradKey}"`);
    sources.set(normgradKey, key);
    result[normgradKey] = value;
  }
  return result;
}
