import { Tensor, assignInPlace, checkOptions, noGrad, tensor } from '@normgrad/core';
import { formatShape } from './util.js';

/**
 * Tensors a module learns. Marking (rather than a wrapper class) keeps a parameter an ordinary
 * Tensor that every op accepts; Module discovers marked tensors among its own fields.
 */
const parameterTensors = new WeakSet<Tensor>();
/** Tensors a module keeps as state but does not learn (running statistics). */
const bufferTensors = new WeakSet<Tensor>();

/** Marks t as a learnable parameter (sets requiresGrad) and returns it. */
export function parameter(t: Tensor): Tensor {
  if (!t.isLeaf) throw new Error(`parameter: expected a leaf tensor (no history), got one of shape ${formatShape(t.shape)} produced by an op`);
  t.requiresGrad = true;
  parameterTensors.add(t);
  bufferTensors.delete(t);
  return t;
}

/** Marks t as a buffer (module state saved in stateDict, not learned) and returns it. */
export function buffer(t: Tensor): Tensor {
  bufferTensors.add(t);
  parameterTensors.delete(t);
  return t;
}

export function isParameter(t: Tensor): boolean {
  return parameterTensors.has(t);
}

export function isBuffer(t: Tensor): boolean {
  return bufferTensors.has(t);
}

export interface LoadStateDictOptions {
  /** Missing and unexpected keys are errors (default true). Shape mismatches are always errors. */
  strict?: boolean;
}

/**
 * Base class of layers. Subclasses hold their state in ordinary fields:
 * - Tensors marked with `parameter(...)` are parameters, with `buffer(...)` buffers;
 * - Module fields are children, arrays of Modules are children named `field.0`, `field.1`, ...;
 * - number fields named by `numericState()` (e.g. BatchNorm's `numBatchesTracked`) are saved in
 *   stateDict as scalar float64 tensors.
 * Nothing is registered by hand. Names are dotted paths, e.g. `block.bn.runningMean`.
 */
export abstract class Module {
  training = true;

  abstract forward(...inputs: Tensor[]): Tensor;

  /** Number-valued state saved in stateDict under these field names. */
  protected numericState(): string[] {
    return [];
  }

  /** Direct children with their names. Sequential overrides this to name them `0`, `1`, ... */
  namedChildren(): [string, Module][] {
    const children: [string, Module][] = [];
    for (const [field, value] of Object.entries(this)) {
      if (value instanceof Module) children.push([field, value]);
      else if (Array.isArray(value)) {
        value.forEach((item: unknown, index) => {
          if (item instanceof Module) children.push([`${field}.${index}`, item]);
        });
      }
    }
    return children;
  }

  children(): Module[] {
    return this.namedChildren().map(([, child]) => child);
  }

  /** This module (name '') and every descendant, depth first, each once. */
  namedModules(prefix = '', seen = new Set<Module>()): [string, Module][] {
    if (seen.has(this)) return [];
    seen.add(this);
    const result: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.namedChildren()) {
      result.push(...child.namedModules(joinName(prefix, name), seen));
    }
    return result;
  }

  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  private ownTensors(isKind: (t: Tensor) => boolean): [string, Tensor][] {
    return Object.entries(this).filter(
      (entry): entry is [string, Tensor] => entry[1] instanceof Tensor && isKind(entry[1]),
    );
  }

  private collectTensors(isKind: (t: Tensor) => boolean): [string, Tensor][] {
    const seen = new Set<Tensor>();
    const result: [string, Tensor][] = [];
    for (const [prefix, module] of this.namedModules()) {
      for (const [name, t] of module.ownTensors(isKind)) {
        if (seen.has(t)) continue; // a tensor shared by two modules is listed once, under its first name
        seen.add(t);
        result.push([joinName(prefix, name), t]);
      }
    }
    return result;
  }

  namedParameters(): [string, Tensor][] {
    return this.collectTensors(isParameter);
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  namedBuffers(): [string, Tensor][] {
    return this.collectTensors(isBuffer);
  }

  buffers(): Tensor[] {
    return this.namedBuffers().map(([, t]) => t);
  }

  /** Sets training mode on this module and all descendants. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Sets every parameter's grad to null. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  /**
   * Parameters, buffers and numeric state under their dotted names, as detached copies
   * (later training does not change a saved dict).
   */
  stateDict(): Record<string, Tensor> {
    const state: Record<string, Tensor> = {};
    for (const [name, t] of [...this.namedParameters(), ...this.namedBuffers()]) {
      state[name] = tensor(t.toTypedArray(), { shape: t.shape, dtype: t.dtype });
    }
    for (const [prefix, module] of this.namedModules()) {
      for (const field of module.numericState()) {
        state[joinName(prefix, field)] = tensor(module.readNumber(field), { dtype: 'float64' });
      }
    }
    return state;
  }

  /**
   * Copies values from `state` into this module's tensors in place (so optimizers holding the
   * parameters keep working). Throws one Error naming every missing key, unexpected key (strict
   * mode) and shape mismatch; nothing is loaded when it throws.
   */
  loadStateDict(state: Record<string, Tensor>, options: LoadStateDictOptions = {}): void {
    checkOptions('loadStateDict', options, ['strict']);
    if (options.strict !== undefined && typeof options.strict !== 'boolean') {
      throw new Error(`loadStateDict: strict must be a boolean, got ${JSON.stringify(options.strict)}`);
    }
    checkStateDictValues(state);
    const strict = options.strict ?? true;
    const targets = new Map<string, Tensor>([...this.namedParameters(), ...this.namedBuffers()]);
    const numbers = new Map<string, [Module, string]>();
    for (const [prefix, module] of this.namedModules()) {
      for (const field of module.numericState()) numbers.set(joinName(prefix, field), [module, field]);
    }

    const missing = [...targets.keys(), ...numbers.keys()].filter((key) => !(key in state));
    const unexpected = Object.keys(state).filter((key) => !targets.has(key) && !numbers.has(key));
    const mismatches: string[] = [];
    for (const [key, target] of targets) {
      const source = state[key];
      if (source !== undefined && !sameShape(source.shape, target.shape)) {
        mismatches.push(
          `size mismatch for ${key}: copying a tensor of shape ${formatShape(source.shape)} from the state dict, ` +
            `the shape in the current model is ${formatShape(target.shape)}`,
        );
      }
    }
    for (const [key] of numbers) {
      const source = state[key];
      if (source !== undefined && source.size !== 1) {
        mismatches.push(`size mismatch for ${key}: expected a one-element tensor, got shape ${formatShape(source.shape)}`);
      } else if (source !== undefined && !(Number.isInteger(source.item()) && source.item() >= 0)) {
        mismatches.push(`invalid value for ${key}: expected a non-negative integer (a count), got ${source.item()}`);
      }
    }

    const problems = [...mismatches];
    if (strict && missing.length > 0) problems.unshift(`Missing key(s) in state_dict: ${quoteAll(missing)}.`);
    if (strict && unexpected.length > 0) problems.push(`Unexpected key(s) in state_dict: ${quoteAll(unexpected)}.`);
    if (problems.length > 0) {
      throw new Error(`loadStateDict: error(s) in loading state dict for ${this.constructor.name}:\n\t${problems.join('\n\t')}`);
    }

    noGrad(() => {
      for (const [key, target] of targets) {
        const source = state[key];
        if (source !== undefined) assignInPlace(target, source);
      }
      for (const [key, [module, field]] of numbers) {
        const source = state[key];
        if (source !== undefined) module.writeNumber(field, source.item());
      }
    });
  }

  private readNumber(field: string): number {
    const value: unknown = (this as unknown as Record<string, unknown>)[field];
    if (typeof value !== 'number') throw new Error(`${this.constructor.name}: numeric state '${field}' is not a number`);
    return value;
  }

  private writeNumber(field: string, value: number): void {
    (this as unknown as Record<string, unknown>)[field] = value;
  }
}

/** A state dict is a plain object whose values are Tensors: say what was given instead. */
function checkStateDictValues(state: unknown): asserts state is Record<string, Tensor> {
  const expected = 'an object of Tensors by name, as stateDict() returns';
  if (state === null || typeof state !== 'object' || Array.isArray(state) || state instanceof Tensor || state instanceof Map) {
    const given = state === null ? 'null' : Array.isArray(state) ? 'an array' : state instanceof Tensor ? 'a Tensor' : state instanceof Map ? 'a Map' : `${typeof state} ${String(state)}`;
    throw new Error(`loadStateDict: expected a state dict (${expected}), got ${given}`);
  }
  for (const [key, value] of Object.entries(state)) {
    if (value instanceof Tensor) continue;
    if (value !== null && typeof value === 'object') {
      throw new Error(
        `loadStateDict: expected a Tensor for every key, got ${Array.isArray(value) ? 'an array' : 'a plain object'} for "${key}" ` +
          '(parsed JSON? rebuild each entry with tensor(value.data, { shape: value.shape, dtype: value.dtype }), or save and load with @normgrad/io)',
      );
    }
    const given = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'number' ? `the number ${value}` : typeof value;
    throw new Error(`loadStateDict: '${key}' must be a Tensor (${expected}), got ${given}`);
  }
}

function joinName(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}.${name}`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((extent, i) => extent === b[i]);
}

function quoteAll(keys: string[]): string {
  return keys.map((k) => `"${k}"`).join(', ');
}
