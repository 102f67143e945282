import { Tensor, assignInPlace, checkOptions, isTracing, noGrad, tensor, traceEffect, traceGuard } from '@normgrad/core';
import { indentAfterFirstLine } from './repr.js';
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

/**
 * Marks t as a buffer (module state saved in stateDict, not learned) and returns it. A tensor
 * with graph history or requiresGrad is detached first (the returned tensor is the buffer), so a
 * buffer never keeps a graph alive. Update a buffer's values in place with `assignInPlace`.
 */
export function buffer(t: Tensor): Tensor {
  const state = t.isLeaf && !t.requiresGrad ? t : t.detach();
  bufferTensors.add(state);
  parameterTensors.delete(state);
  return state;
}

export function isParameter(t: Tensor): boolean {
  return parameterTensors.has(t);
}

export function isBuffer(t: Tensor): boolean {
  return bufferTensors.has(t);
}

/** Called before forward with the module and its inputs; may return replacement inputs. */
export type ForwardPreHook = (module: Module, inputs: Tensor[]) => Tensor[] | Tensor | void;
/** Called after forward with the module, its inputs and output; may return a replacement output. */
export type ForwardHook = (module: Module, inputs: Tensor[], output: Tensor) => Tensor | void;

/** Returned by the register*Hook methods: remove() unregisters the hook (calling it twice is harmless). */
export interface RemovableHandle {
  remove(): void;
}

interface ModuleHooks {
  pre: Set<ForwardPreHook>;
  post: Set<ForwardHook>;
}
/** Kept outside the instance so hooks never appear among a module's fields. */
const moduleHooks = new WeakMap<Module, ModuleHooks>();

function hooksOf(module: Module): ModuleHooks {
  let hooks = moduleHooks.get(module);
  if (!hooks) {
    hooks = { pre: new Set(), post: new Set() };
    moduleHooks.set(module, hooks);
  }
  return hooks;
}

/** The forward wrappers the Module constructor installs (hooks run only through them). */
const hookedForwards = new WeakSet<object>();

function checkHookable(op: string, module: Module): void {
  if (!hookedForwards.has(module.forward)) {
    throw new Error(
      `${op}: ${module.constructor.name}.forward was replaced after construction (a class field or an assignment), so hooks would never run; define forward as a method`,
    );
  }
}

function runForward(module: Module, forward: (...inputs: Tensor[]) => Tensor, inputs: Tensor[]): Tensor {
  const hooks = moduleHooks.get(module);
  if (!hooks || (hooks.pre.size === 0 && hooks.post.size === 0)) return forward.apply(module, inputs);
  let args = inputs;
  for (const hook of [...hooks.pre]) {
    const replaced = hook(module, args);
    if (replaced !== undefined) args = Array.isArray(replaced) ? replaced : [replaced];
  }
  let output = forward.apply(module, args);
  for (const hook of [...hooks.post]) {
    const replaced = hook(module, args, output);
    if (replaced !== undefined) output = replaced;
  }
  return output;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * The Modules held in a field: the value itself, or the Modules inside arrays, plain objects and
 * Maps (at any depth), named `field.index` / `field.key`. A Module in a container that cannot be
 * named (a Set, a Map with a non-string key, a key containing '.') is an Error, never skipped.
 */
function collectModules(owner: string, name: string, value: unknown, out: [string, Module][], seen: Set<object>): void {
  if (value instanceof Module) {
    out.push([name, value]);
    return;
  }
  if (value === null || typeof value !== 'object' || value instanceof Tensor || seen.has(value)) return;
  const entries: [unknown, unknown][] | null = Array.isArray(value)
    ? value.map((item, index) => [index, item])
    : value instanceof Map
      ? [...value.entries()]
      : isPlainObject(value)
        ? Object.entries(value)
        : null;
  if (entries === null) {
    if (value instanceof Set && [...value].some((item) => item instanceof Module)) {
      throw new Error(`${owner}: field '${name}' is a Set holding Modules, whose children cannot be named; use an array, a plain object, ModuleList or ModuleDict`);
    }
    return;
  }
  seen.add(value);
  for (const [key, item] of entries) {
    if (item === null || typeof item !== 'object') continue;
    if ((typeof key !== 'string' && typeof key !== 'number') || String(key).includes('.') || String(key) === '') {
      const holdsModule = item instanceof Module || (typeof item === 'object' && item !== null);
      if (holdsModule && containsModule(item, new Set())) {
        throw new Error(`${owner}: field '${name}' holds a Module under the key ${typeof key === 'string' ? `'${key}'` : String(key)}, which cannot name a child (keys must be non-empty strings without '.')`);
      }
      continue;
    }
    collectModules(owner, `${name}.${String(key)}`, item, out, seen);
  }
}

function containsModule(value: unknown, seen: Set<object>): boolean {
  if (value instanceof Module) return true;
  if (value === null || typeof value !== 'object' || value instanceof Tensor || seen.has(value)) return false;
  seen.add(value);
  const items = Array.isArray(value) ? value : value instanceof Map || value instanceof Set ? [...value.values()] : isPlainObject(value) ? Object.values(value) : [];
  return items.some((item) => containsModule(item, seen));
}

export interface LoadStateDictOptions {
  /** Missing and unexpected keys are errors (default true). Shape mismatches are always errors. */
  strict?: boolean;
}

/**
 * Base class of layers. Subclasses hold their state in ordinary fields:
 * - Tensors marked with `parameter(...)` are parameters, with `buffer(...)` buffers;
 * - Module fields are children, and so are Modules inside arrays, plain objects and Maps held in
 *   fields, named `field.0`, `field.1`, ... or `field.key` (a Set of Modules is an Error);
 * - number fields named by `numericState()` (e.g. BatchNorm's `numBatchesTracked`) are saved in
 *   stateDict as scalar float64 tensors.
 * Nothing is registered by hand. Names are dotted paths, e.g. `block.bn.runningMean`.
 */
export abstract class Module {
  training = true;

  /**
   * Every call of `forward` (including calls from a parent's forward) runs the module's forward
   * pre-hooks and forward hooks: the constructor wraps the subclass's `forward` in an own,
   * non-enumerable property. `super.forward(...)` inside a subclass calls the unwrapped method.
   */
  constructor() {
    const forward = this.forward;
    const hooked = (...inputs: Tensor[]): Tensor => (isTracing() ? this.tracedForward(forward, inputs) : runForward(this, forward, inputs));
    hookedForwards.add(hooked);
    Object.defineProperty(this, 'forward', {
      value: hooked,
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }

  abstract forward(...inputs: Tensor[]): Tensor;

  /**
   * A forward call while core's compile traces: the program depends on `training`, and the
   * changes the call made to numeric state (numBatchesTracked += 1) are repeated by every replay.
   */
  private tracedForward(forward: (...inputs: Tensor[]) => Tensor, inputs: Tensor[]): Tensor {
    traceGuard(() => this.training);
    const fields = this.numericState();
    const before = fields.map((field) => this.readNumber(field));
    const output = runForward(this, forward, inputs);
    fields.forEach((field, k) => {
      const change = this.readNumber(field) - before[k]!;
      if (change === 0) return;
      this.writeNumber(field, before[k]!);
      traceEffect(() => this.writeNumber(field, this.readNumber(field) + change), { arrays: [] });
    });
    return output;
  }

  /**
   * Registers fn to run before every forward call with (module, inputs); returning a Tensor or
   * an array of Tensors replaces the inputs (PyTorch's register_forward_pre_hook).
   */
  registerForwardPreHook(fn: ForwardPreHook): RemovableHandle {
    if (typeof fn !== 'function') throw new Error(`registerForwardPreHook: expected a function, got ${typeof fn}`);
    checkHookable('registerForwardPreHook', this);
    const hooks = hooksOf(this);
    hooks.pre.add(fn);
    return { remove: () => void hooks.pre.delete(fn) };
  }

  /**
   * Registers fn to run after every forward call with (module, inputs, output); returning a
   * Tensor replaces the output (PyTorch's register_forward_hook).
   */
  registerForwardHook(fn: ForwardHook): RemovableHandle {
    if (typeof fn !== 'function') throw new Error(`registerForwardHook: expected a function, got ${typeof fn}`);
    checkHookable('registerForwardHook', this);
    const hooks = hooksOf(this);
    hooks.post.add(fn);
    return { remove: () => void hooks.post.delete(fn) };
  }

  /**
   * Stores t as a parameter in the field `name` (for names computed at run time; a field
   * assigned `parameter(t)` is the same). null stores no tensor. Returns the stored tensor.
   */
  registerParameter(name: string, t: Tensor | null): Tensor | null {
    this.checkTensorField('registerParameter', name, t);
    const value = t === null ? null : parameter(t);
    (this as unknown as Record<string, unknown>)[name] = value;
    return value;
  }

  /**
   * Stores t as a buffer in the field `name` (detached, see `buffer`). null stores no tensor.
   * Returns the stored tensor: update its values in place with `assignInPlace`.
   */
  registerBuffer(name: string, t: Tensor | null): Tensor | null {
    this.checkTensorField('registerBuffer', name, t);
    const value = t === null ? null : buffer(t);
    (this as unknown as Record<string, unknown>)[name] = value;
    return value;
  }

  private checkTensorField(op: string, name: string, t: Tensor | null): void {
    if (typeof name !== 'string' || name === '' || name.includes('.')) {
      throw new Error(`${op}: name must be a non-empty string without '.', got ${JSON.stringify(name)}`);
    }
    if (t !== null && !(t instanceof Tensor)) throw new Error(`${op}: expected a Tensor or null for '${name}', got ${typeof t}`);
    const existing: unknown = (this as unknown as Record<string, unknown>)[name];
    const isOwnState = Object.prototype.hasOwnProperty.call(this, name) && (existing === null || existing === undefined || existing instanceof Tensor);
    if (name in this && !isOwnState) {
      throw new Error(`${op}: ${this.constructor.name} already has a member named '${name}' that is not a tensor`);
    }
  }

  /** The layer's settings in PyTorch's printed form (its extra_repr), '' for none. */
  extraRepr(): string {
    return '';
  }

  /** The module tree in PyTorch's format (`str(module)`): `Sequential(\n  (0): Linear(in_features=...`. */
  toString(): string {
    const extra = this.extraRepr();
    const extraLines = extra === '' ? [] : extra.split('\n');
    const childLines = this.namedChildren().map(([name, child]) => `(${name}): ${indentAfterFirstLine(child.toString(), 2)}`);
    const lines = [...extraLines, ...childLines];
    let text = `${this.constructor.name}(`;
    if (lines.length > 0) {
      text += extraLines.length === 1 && childLines.length === 0 ? extraLines[0]! : `\n  ${lines.join('\n  ')}\n`;
    }
    return `${text})`;
  }

  /** Number-valued state saved in stateDict under these field names. */
  protected numericState(): string[] {
    return [];
  }

  /** Direct children with their names. Sequential overrides this to name them `0`, `1`, ... */
  namedChildren(): [string, Module][] {
    const children: [string, Module][] = [];
    const seen = new Set<object>();
    for (const [field, value] of Object.entries(this)) collectModules(this.constructor.name, field, value, children, seen);
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
