import { Tensor, checkOptions, enableGrad, noGrad, writeStorage } from '@normgrad/core';
import { contiguousElements, readElements, writeElements, type FloatArray } from './strided.js';

/** Hyperparameters every optimizer has. */
export interface BaseOptions {
  lr: number;
}

/** One parameter group as the user passes it: its parameters plus options overriding the defaults. */
export type ParamGroupSpec<O> = { params: Iterable<Tensor> } & Partial<O>;

/** What an optimizer is constructed over: parameters, or parameter groups. */
export type ParamsInput<O> = Iterable<Tensor> | Iterable<ParamGroupSpec<O>>;

/**
 * A live parameter group: the defaults merged with the group's overrides. Schedulers write `lr`
 * (and record the starting value in `initialLr`, as PyTorch's `initial_lr`).
 */
export type ParamGroup<O> = O & { params: Tensor[]; initialLr?: number };

/** Plain-data value of a serialized option or state entry. */
export type PlainValue = number | boolean | null | number[] | readonly number[];

/**
 * A serializable snapshot of an optimizer, shaped like PyTorch's `state_dict()`: `state` is keyed
 * by the parameter's index in the order of `paramGroups` (tensors flattened in row-major order),
 * and each group lists the indices of its parameters in place of the tensors.
 */
export interface OptimizerStateDict {
  state: Record<string, Record<string, number | number[]>>;
  paramGroups: Array<{ params: number[] } & Record<string, PlainValue>>;
}

/** Per-parameter state: numbers (e.g. the step count) and float buffers in the parameter's dtype. */
export type ParamState = Record<string, number | FloatArray>;

/**
 * What an in-place update rule works on: the parameter's and the gradient's own contiguous
 * storage (same dtype), updated directly, with no float64 copies.
 */
export interface ParamStorage<S> {
  readonly param: Tensor;
  /** The parameter's elements in row-major order, in its storage: the rule updates them in place. */
  readonly values: FloatArray;
  /** The gradient's elements in row-major order, in its storage (the rule must not change them). */
  readonly grad: FloatArray;
  readonly state: S;
  zerosLike(): FloatArray;
}

/**
 * The values an update rule works on: copies in float64, written back to the parameter after.
 * `values` and `grad` live in scratch memory the optimizer reuses for the next parameter: they
 * are valid during `updateParam` only, so a rule that keeps them copies them (as SGD's momentum
 * buffer does).
 */
export interface ParamSlot<S> {
  readonly param: Tensor;
  /** The parameter's elements in row-major order; the rule updates this array in place. */
  readonly values: Float64Array;
  /** The gradient's elements in row-major order (the rule may overwrite them). */
  readonly grad: Float64Array;
  /** The parameter's state (empty on its first step); the rule fills it in. */
  readonly state: S;
  /** A zero-filled buffer shaped like the parameter, in its dtype (how state buffers are made). */
  zerosLike(): FloatArray;
}

function isTensor(value: unknown): value is Tensor {
  return value instanceof Tensor;
}

function formatValue(value: unknown): string {
  return Array.isArray(value) ? `[${value.join(', ')}]` : String(value);
}

/**
 * The base of all optimizers: parameter groups whose options override the defaults, one state
 * object per parameter, `step()` (parameters whose `grad` is null are skipped), `zeroGrad()` and
 * a plain-data `stateDict()` / `loadStateDict()` that lets a resumed run continue the exact
 * trajectory. Subclasses implement `updateParam`, the update rule of one parameter.
 */
export abstract class Optimizer<O extends BaseOptions, S extends object = ParamState> {
  readonly name: string;
  readonly defaults: Readonly<O>;
  readonly paramGroups: ParamGroup<O>[] = [];
  /** State per parameter, created on the parameter's first step. */
  readonly state = new Map<Tensor, S>();
  /** Reused float64 copies of a parameter and its gradient: no fresh memory per parameter and step. */
  #valuesScratch = new Float64Array(0);
  #gradScratch = new Float64Array(0);

  protected constructor(name: string, params: ParamsInput<O>, defaults: O) {
    this.name = name;
    this.validateOptions(defaults, 'options');
    this.defaults = { ...defaults };
    const items = Array.from(params as Iterable<Tensor | ParamGroupSpec<O>>);
    if (items.length === 0) throw new Error(`${name}: got an empty parameter list`);
    const tensors = items.filter(isTensor);
    if (tensors.length === items.length) {
      this.addParamGroup({ params: tensors } as unknown as ParamGroupSpec<O>);
    } else if (tensors.length > 0) {
      throw new Error(`${name}: params must be all tensors or all parameter groups ({ params, ...options }), not a mix`);
    } else {
      for (const group of items as ParamGroupSpec<O>[]) this.addParamGroup(group);
    }
  }

  /** Checks one set of options (the defaults, or a group's merged options); throws naming the value. */
  protected abstract validateOptions(options: O, where: string): void;

  /** The update rule for one parameter that has a gradient. Runs under no-grad. */
  protected abstract updateParam(slot: ParamSlot<S>, group: ParamGroup<O>): void;

  /**
   * An optional faster form of the rule on the parameter's own storage, tried first when the
   * parameter and its gradient are contiguous and of one dtype; returns false (having changed
   * nothing) to leave the parameter to `updateParam`.
   */
  protected updateStorage(_storage: ParamStorage<S>, _group: ParamGroup<O>): boolean {
    return false;
  }

  /** Adds a group; options it leaves out take the optimizer's defaults (PyTorch's add_param_group). */
  addParamGroup(spec: ParamGroupSpec<O>): void {
    const index = this.paramGroups.length;
    if (spec === null || typeof spec !== 'object' || !('params' in spec)) {
      throw new Error(`${this.name}: param group ${index} must be an object with a 'params' field`);
    }
    const params = isTensor(spec.params) ? [spec.params] : Array.from(spec.params);
    if (params.length === 0) throw new Error(`${this.name}: param group ${index} has no parameters`);
    for (const [position, param] of params.entries()) {
      if (!isTensor(param)) {
        throw new Error(`${this.name}: param group ${index}, parameter ${position} is not a Tensor (got ${typeof param})`);
      }
      if (!param.isLeaf) {
        throw new Error(`${this.name}: param group ${index}, parameter ${position} (shape [${param.shape.join(', ')}]) is not a leaf tensor; optimize leaves only`);
      }
    }
    const seen = new Set(this.paramGroups.flatMap((group) => group.params));
    if (new Set(params).size !== params.length || params.some((param) => seen.has(param))) {
      throw new Error(`${this.name}: some parameters appear in more than one parameter group (param group ${index})`);
    }
    checkOptimOptions(`${this.name}: param group ${index}`, spec, ['params', ...Object.keys(this.defaults), 'initialLr']);
    const overrides = Object.fromEntries(
      Object.entries(spec).filter(([key, value]) => key !== 'params' && value !== undefined),
    ) as Partial<O>;
    const group = { ...copyOptions(this.defaults), ...copyOptions(overrides), params } as ParamGroup<O>;
    this.validateOptions(group, `param group ${index}`);
    this.paramGroups.push(group);
  }

  /**
   * Performs one update of every parameter that has a gradient. An optional closure re-evaluates
   * the model (with grad enabled) and returns the loss, which step returns.
   */
  step<L>(closure?: () => L): L | undefined {
    const loss = closure === undefined ? undefined : enableGrad(closure);
    noGrad(() => {
      for (const [groupIndex, group] of this.paramGroups.entries()) {
        for (const [paramIndex, param] of group.params.entries()) {
          const grad = param.grad;
          if (grad === null) continue;
          if (grad.shape.length !== param.shape.length || grad.shape.some((extent, axis) => extent !== param.shape[axis])) {
            throw new Error(
              `${this.name}: gradient of shape [${grad.shape.join(', ')}] does not match parameter of shape [${param.shape.join(', ')}] (param group ${groupIndex}, parameter ${paramIndex})`,
            );
          }
          let state = this.state.get(param);
          if (state === undefined) {
            state = {} as S;
            this.state.set(param, state);
          }
          const dtype = param.dtype;
          const size = param.size;
          const zerosLike = () => (dtype === 'float64' ? new Float64Array(size) : new Float32Array(size));
          writeStorage(param.data.data, () => {
            const paramStorage = contiguousElements(param.data);
            const gradStorage = contiguousElements(grad.data);
            if (paramStorage !== null && gradStorage !== null && paramStorage.constructor === gradStorage.constructor) {
              if (this.updateStorage({ param, values: paramStorage, grad: gradStorage, state, zerosLike }, group)) return;
            }
            if (this.#valuesScratch.length < param.size) {
              this.#valuesScratch = new Float64Array(param.size);
              this.#gradScratch = new Float64Array(param.size);
            }
            const values = readElements(param.data, undefined, this.#valuesScratch);
            const slot: ParamSlot<S> = { param, values, grad: readElements(grad.data, undefined, this.#gradScratch), state, zerosLike };
            this.updateParam(slot, group);
            writeElements(param.data, values);
          }, { target: param.data, reads: [grad.data] });
        }
      }
    });
    return loss;
  }

  /**
   * Clears every parameter's gradient. Like PyTorch 2 (`set_to_none=True`, its default), the
   * gradient becomes null rather than a zero tensor, so the next step skips parameters that get
   * no new gradient. (PyTorch 1.13's default, set_to_none=False, zero-filled instead.)
   */
  zeroGrad(): void {
    for (const group of this.paramGroups) for (const param of group.params) param.grad = null;
  }

  /** A plain-data snapshot (numbers, booleans and number arrays only) that survives JSON. */
  stateDict(): OptimizerStateDict {
    const state: OptimizerStateDict['state'] = {};
    const paramGroups: OptimizerStateDict['paramGroups'] = [];
    let index = 0;
    for (const group of this.paramGroups) {
      const indices: number[] = [];
      for (const param of group.params) {
        const paramState = this.state.get(param);
        if (paramState !== undefined) {
          const entry: Record<string, number | number[]> = {};
          for (const [key, value] of Object.entries(paramState) as [string, unknown][]) {
            if (typeof value === 'number') entry[key] = value;
            else if (value instanceof Float32Array || value instanceof Float64Array) entry[key] = Array.from(value);
          }
          state[String(index)] = entry;
        }
        indices.push(index++);
      }
      const { params: _params, ...options } = group;
      paramGroups.push({ ...(copyOptions(options) as Record<string, PlainValue>), params: indices });
    }
    return { state, paramGroups };
  }

  /**
   * Restores a snapshot from `stateDict()` (possibly after JSON round trip) onto this optimizer's
   * parameters, matched by position: group options (lr included) and per-parameter state.
   */
  loadStateDict(stateDict: OptimizerStateDict): void {
    const where = `${this.name}.loadStateDict`;
    const groups = stateDict.paramGroups;
    if (!Array.isArray(groups) || groups.length !== this.paramGroups.length) {
      throw new Error(`${where}: the state dict has ${Array.isArray(groups) ? groups.length : 'no'} param groups, the optimizer has ${this.paramGroups.length}`);
    }
    const byIndex = new Map<number, Tensor>();
    for (const [groupIndex, group] of this.paramGroups.entries()) {
      const saved = groups[groupIndex]!;
      if (!Array.isArray(saved.params) || saved.params.length !== group.params.length) {
        throw new Error(`${where}: param group ${groupIndex} has ${group.params.length} parameters, the state dict's has ${Array.isArray(saved.params) ? saved.params.length : 'none'}`);
      }
      saved.params.forEach((index, position) => byIndex.set(index, group.params[position]!));
    }
    const restored = new Map<Tensor, S>();
    for (const [key, entry] of Object.entries(stateDict.state ?? {})) {
      const param = byIndex.get(Number(key));
      if (param === undefined) throw new Error(`${where}: state for parameter ${key}, which no param group lists`);
      const paramState: Record<string, number | FloatArray> = {};
      for (const [name, value] of Object.entries(entry)) {
        if (typeof value === 'number') {
          paramState[name] = value;
        } else if (Array.isArray(value)) {
          if (value.length !== param.size) {
            throw new Error(`${where}: state '${name}' of parameter ${key} has ${value.length} values, the parameter (shape [${param.shape.join(', ')}]) has ${param.size}`);
          }
          paramState[name] = param.dtype === 'float64' ? Float64Array.from(value) : Float32Array.from(value);
        } else {
          throw new Error(`${where}: state '${name}' of parameter ${key} is ${formatValue(value)}; expected a number or an array of numbers`);
        }
      }
      restored.set(param, paramState as S);
    }
    for (const [groupIndex, group] of this.paramGroups.entries()) {
      const { params: _params, ...options } = groups[groupIndex]!;
      const merged = { ...group, ...copyOptions(options), params: group.params } as ParamGroup<O>;
      this.validateOptions(merged, `param group ${groupIndex} of the loaded state dict`);
      this.paramGroups[groupIndex] = merged;
    }
    this.state.clear();
    for (const [param, paramState] of restored) this.state.set(param, paramState);
  }
}

/** A copy of an options object in which arrays (betas) are copied too. */
function copyOptions<T extends object>(options: T): T {
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) copy[key] = Array.isArray(value) ? [...value] : value;
  return copy as T;
}

// ---- option validation shared by the optimizers ----------------------------------------------

/** Spellings from torch.optim and elsewhere that checkOptions' edit distance does not relate to our names. */
const OPTION_ALIASES: Record<string, string> = { learningRate: 'lr', learning_rate: 'lr' };

/** `weight_decay` → `weightDecay`, `T_0` → `t0`, `T_mult` → `tMult` (torch's names in our spelling). */
function camelCase(key: string): string {
  const camel = key.replace(/_([a-zA-Z0-9])/g, (_, next: string) => next.toUpperCase());
  return camel.charAt(0).toLowerCase() + camel.slice(1);
}

/**
 * Core's checkOptions, which first recognizes torch.optim's snake_case names and `learningRate`
 * and names the option meant (`Adam: unknown option 'learningRate' (did you mean 'lr'?); …`).
 * Every optimizer and scheduler of this package checks its options through it.
 */
export function checkOptimOptions(entryPoint: string, options: unknown, known: readonly string[]): void {
  if (options !== null && typeof options === 'object' && !Array.isArray(options)) {
    for (const key of Object.keys(options)) {
      if (known.includes(key)) continue;
      const meant = [OPTION_ALIASES[key], camelCase(key)].find((candidate) => candidate !== undefined && known.includes(candidate));
      if (meant !== undefined) {
        throw new Error(`${entryPoint}: unknown option '${key}' (did you mean '${meant}'?); known options: ${known.join(', ')}`);
      }
    }
  }
  checkOptions(entryPoint, options, known);
}

/**
 * An optimizer's options: `defaults` overridden by the user's `options` (entries that are
 * undefined keep the default). Unknown keys are an Error naming the optimizer and the key, by
 * core's checkOptions, as are param groups' keys in addParamGroup.
 */
export function withDefaults<O extends object>(optimizer: string, options: unknown, defaults: O): O {
  checkOptimOptions(optimizer, options, Object.keys(defaults));
  const merged: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  for (const [key, value] of Object.entries((options ?? {}) as object)) if (value !== undefined) merged[key] = value;
  return merged as O;
}

/** Throws unless `value` is a finite number >= 0. */
export function requireNonNegative(optimizer: string, where: string, label: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new Error(`${optimizer}: invalid ${label} ${formatValue(value)} in ${where} (expected a finite number >= 0)`);
  }
}

/** Throws unless `value` is a boolean. */
export function requireBoolean(optimizer: string, where: string, label: string, value: unknown): void {
  if (typeof value !== 'boolean') {
    throw new Error(`${optimizer}: invalid ${label} ${formatValue(value)} in ${where} (expected true or false)`);
  }
}
