import { E, elementwiseInto, type Expr } from '@normgrad/core';
import {
  Optimizer,
  requireBoolean,
  requireNonNegative,
  withDefaults,
  type ParamGroup,
  type ParamSlot,
  type ParamStorage,
  type ParamsInput,
} from './optimizer.js';
import type { FloatArray } from './strided.js';

export interface AdamOptions {
  lr: number;
  /** Decay rates of the first and second moment averages, each in [0, 1). */
  betas: [number, number];
  /** Added to the bias-corrected square root of the second moment. */
  eps: number;
  /** Adam: L2 penalty added to the gradient. AdamW: decoupled decay, p ← p·(1 − lr·weightDecay). */
  weightDecay: number;
  /** Normalize by the running maximum of the second moment (PyTorch 1.13+ formulation). */
  amsgrad: boolean;
  maximize: boolean;
}

export interface AdamState {
  /** Number of updates this parameter has received. */
  step?: number;
  expAvg?: FloatArray;
  expAvgSq?: FloatArray;
  /** Only with amsgrad. */
  maxExpAvgSq?: FloatArray;
}

type AdamVariant = 'Adam' | 'AdamW';

function validateAdamOptions(name: AdamVariant, options: AdamOptions, where: string): void {
  requireNonNegative(name, where, 'learning rate lr', options.lr);
  requireNonNegative(name, where, 'eps', options.eps);
  requireNonNegative(name, where, 'weightDecay', options.weightDecay);
  requireBoolean(name, where, 'amsgrad', options.amsgrad);
  requireBoolean(name, where, 'maximize', options.maximize);
  const betas: unknown = options.betas;
  if (!Array.isArray(betas) || betas.length !== 2) {
    throw new Error(`${name}: invalid betas ${JSON.stringify(betas)} in ${where} (expected [beta1, beta2])`);
  }
  betas.forEach((beta: unknown, index) => {
    if (typeof beta !== 'number' || !(beta >= 0 && beta < 1)) {
      throw new Error(`${name}: invalid beta parameter at index ${index}: ${String(beta)} in ${where} (expected 0 <= beta < 1)`);
    }
  });
}

function withAdamDefaults(name: AdamVariant, options: unknown, weightDecay: number): AdamOptions {
  const merged = withDefaults<AdamOptions>(name, options, {
    lr: 1e-3,
    betas: [0.9, 0.999],
    eps: 1e-8,
    weightDecay,
    amsgrad: false,
    maximize: false,
  });
  const betas: unknown = merged.betas;
  return { ...merged, betas: Array.isArray(betas) ? [betas[0], betas[1]] : merged.betas };
}

/**
 * One Adam/AdamW step for one parameter, in the order of operations of torch.optim's
 * single-tensor `_single_tensor_adam` / `_single_tensor_adamw` (PyTorch 1.13).
 */
function adamUpdate(variant: AdamVariant, slot: ParamSlot<AdamState>, group: ParamGroup<AdamOptions>): void {
  const { lr, betas, eps, weightDecay, amsgrad, maximize } = group;
  const [beta1, beta2] = betas;
  const param = slot.values;
  const n = param.length;
  const state = slot.state;
  const expAvg = (state.expAvg ??= slot.zerosLike());
  const expAvgSq = (state.expAvgSq ??= slot.zerosLike());
  const maxExpAvgSq = amsgrad ? (state.maxExpAvgSq ??= slot.zerosLike()) : undefined;
  const step = (state.step ?? 0) + 1;
  state.step = step;

  const keep1 = 1 - beta1;
  const keep2 = 1 - beta2;
  const decay = variant === 'AdamW' ? 1 - lr * weightDecay : 1;
  const l2Penalty = variant === 'Adam' ? weightDecay : 0;
  const sign = maximize ? -1 : 1;
  const biasCorrection1 = 1 - beta1 ** step;
  const biasCorrection2 = 1 - beta2 ** step;
  const stepSize = lr / biasCorrection1;
  const biasCorrection2Sqrt = Math.sqrt(biasCorrection2);
  const grad = slot.grad;
  // One pass per element, in torch's order of operations; moments are read back from their
  // storage, so float32 state rounds exactly where torch's does.
  for (let i = 0; i < n; i++) {
    // AdamW: p = p·(1 − lr·λ)
    const decayed = decay === 1 ? param[i]! : param[i]! * decay;
    // g = ±∇, then Adam's L2 penalty g = g + λ·p
    const gradient = l2Penalty === 0 ? sign * grad[i]! : sign * grad[i]! + l2Penalty * decayed;
    // m = β1·m + (1 − β1)·g
    expAvg[i] = expAvg[i]! * beta1 + keep1 * gradient;
    // v = β2·v + (1 − β2)·g·g
    expAvgSq[i] = expAvgSq[i]! * beta2 + keep2 * gradient * gradient;
    let secondMoment = expAvgSq[i]!;
    if (maxExpAvgSq !== undefined) {
      // v̂max = max(v̂max, v)
      maxExpAvgSq[i] = Math.max(maxExpAvgSq[i]!, secondMoment);
      secondMoment = maxExpAvgSq[i]!;
    }
    // p = p − (lr / (1 − β1^t))·m / (√v / √(1 − β2^t) + ε)
    const denominator = Math.sqrt(secondMoment) / biasCorrection2Sqrt + eps;
    param[i] = decayed + (-stepSize * expAvg[i]!) / denominator;
  }
}

/**
 * The same step on the parameter's own storage, as three elementwise passes (first moment,
 * second moment, parameter) with the per-step numbers as one-element arrays, so that each pass
 * compiles once. float64 runs the same operations in the same order as adamUpdate; float32 runs
 * them in float32 lanes, as torch's float32 Adam does. amsgrad keeps to adamUpdate.
 */
/** The inputs of Adam's update trees, in order (adamUpdateStorage's arrays). */
const adamInputNames = [
  'param', 'grad', 'expAvg', 'expAvgSq', 'beta1', 'keep1', 'beta2', 'keep2', 'sign', 'decay', 'l2Penalty', 'eps', 'negativeStepSize', 'biasCorrection2Sqrt',
] as const;

/** The three update trees per form (AdamW's decoupled decay, Adam's L2 penalty), made once: a kernel is found by its tree. */
const adamTrees = new Map<string, readonly [Expr, Expr, Expr]>();

function adamUpdateTrees(decoupledDecay: boolean, l2Penalty: boolean): readonly [Expr, Expr, Expr] {
  const key = `${decoupledDecay} ${l2Penalty}`;
  let trees = adamTrees.get(key);
  if (trees === undefined) {
    const x = Object.fromEntries(adamInputNames.map((name, k) => [name, E.input(k)])) as Record<(typeof adamInputNames)[number], Expr>;
    // AdamW: p = p·(1 − lr·λ); g = ±∇, then Adam's L2 penalty g = g + λ·p
    const decayed = decoupledDecay ? E.mul(x.param, x.decay) : x.param;
    const gradient = l2Penalty ? E.add(E.mul(x.sign, x.grad), E.mul(x.l2Penalty, decayed)) : E.mul(x.sign, x.grad);
    trees = [
      // m = β1·m + (1 − β1)·g
      E.add(E.mul(x.expAvg, x.beta1), E.mul(x.keep1, gradient)),
      // v = β2·v + (1 − β2)·g·g
      E.add(E.mul(x.expAvgSq, x.beta2), E.mul(E.mul(x.keep2, gradient), gradient)),
      // p = p − (lr / (1 − β1^t))·m / (√v / √(1 − β2^t) + ε)
      E.add(decayed, E.div(E.mul(x.negativeStepSize, x.expAvg), E.add(E.div(E.sqrt(x.expAvgSq), x.biasCorrection2Sqrt), x.eps))),
    ];
    adamTrees.set(key, trees);
  }
  return trees;
}

function adamUpdateStorage(variant: AdamVariant, storage: ParamStorage<AdamState>, group: ParamGroup<AdamOptions>): boolean {
  const { lr, betas, eps, weightDecay, amsgrad, maximize } = group;
  if (amsgrad) return false;
  const [beta1, beta2] = betas;
  const state = storage.state;
  const expAvg = (state.expAvg ??= storage.zerosLike());
  const expAvgSq = (state.expAvgSq ??= storage.zerosLike());
  const step = (state.step ?? 0) + 1;
  state.step = step;
  const number = (value: number): FloatArray => (storage.values instanceof Float64Array ? Float64Array.of(value) : Float32Array.of(value));
  const decay = variant === 'AdamW' ? 1 - lr * weightDecay : 1;
  const l2Penalty = variant === 'Adam' ? weightDecay : 0;
  const arrays = {
    param: storage.values, grad: storage.grad, expAvg, expAvgSq,
    beta1: number(beta1), keep1: number(1 - beta1), beta2: number(beta2), keep2: number(1 - beta2),
    sign: number(maximize ? -1 : 1), decay: number(decay), l2Penalty: number(l2Penalty), eps: number(eps),
    negativeStepSize: number(-(lr / (1 - beta1 ** step))), biasCorrection2Sqrt: number(Math.sqrt(1 - beta2 ** step)),
  };
  const inputs = adamInputNames.map((name) => arrays[name]);
  const [expAvgUpdate, expAvgSqUpdate, paramUpdate] = adamUpdateTrees(decay !== 1, l2Penalty !== 0);
  elementwiseInto(expAvgUpdate, inputs, expAvg);
  elementwiseInto(expAvgSqUpdate, inputs, expAvgSq);
  elementwiseInto(paramUpdate, inputs, storage.values);
  return true;
}

/** Adam (Kingma & Ba) with L2 weight decay, amsgrad and maximize, step for step as torch.optim.Adam. */
export class Adam extends Optimizer<AdamOptions, AdamState> {
  constructor(params: ParamsInput<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super('Adam', params, withAdamDefaults('Adam', options, 0));
  }

  protected override validateOptions(options: AdamOptions, where: string): void {
    validateAdamOptions('Adam', options, where);
  }

  protected override updateParam(slot: ParamSlot<AdamState>, group: ParamGroup<AdamOptions>): void {
    adamUpdate('Adam', slot, group);
  }

  protected override updateStorage(storage: ParamStorage<AdamState>, group: ParamGroup<AdamOptions>): boolean {
    return adamUpdateStorage('Adam', storage, group);
  }
}

/**
 * AdamW (Loshchilov & Hutter): Adam with decoupled weight decay applied to the parameter before
 * the Adam step, default weightDecay 1e-2, step for step as torch.optim.AdamW.
 */
export class AdamW extends Optimizer<AdamOptions, AdamState> {
  constructor(params: ParamsInput<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super('AdamW', params, withAdamDefaults('AdamW', options, 1e-2));
  }

  protected override validateOptions(options: AdamOptions, where: string): void {
    validateAdamOptions('AdamW', options, where);
  }

  protected override updateParam(slot: ParamSlot<AdamState>, group: ParamGroup<AdamOptions>): void {
    adamUpdate('AdamW', slot, group);
  }

  protected override updateStorage(storage: ParamStorage<AdamState>, group: ParamGroup<AdamOptions>): boolean {
    return adamUpdateStorage('AdamW', storage, group);
  }
}
