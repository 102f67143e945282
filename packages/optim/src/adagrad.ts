import {
  Optimizer,
  requireBoolean,
  requireNonNegative,
  withDefaults,
  type ParamGroup,
  type ParamGroupSpec,
  type ParamSlot,
  type ParamsInput,
} from './optimizer.js';
import type { FloatArray } from './strided.js';

export interface AdagradOptions {
  lr: number;
  /** The step size is lr / (1 + (step − 1)·lrDecay). */
  lrDecay: number;
  /** L2 penalty: weightDecay · param is added to the gradient. */
  weightDecay: number;
  /** Starting value of every element of the sum of squared gradients. */
  initialAccumulatorValue: number;
  eps: number;
  maximize: boolean;
}

export interface AdagradState {
  /** Number of updates this parameter has received. */
  step?: number;
  /** Sum of squared gradients, from initialAccumulatorValue. */
  sum?: FloatArray;
}

/**
 * Adagrad (Duchi, Hazan & Singer 2011, https://jmlr.org/papers/v12/duchi11a.html) with lr decay,
 * weight decay and maximize, step for step as torch.optim.Adagrad (PyTorch 1.13,
 * `_single_tensor_adagrad`): s = s + g², p = p − clr·g / (√s + ε) with
 * clr = lr / (1 + (step − 1)·lrDecay). As in PyTorch, every parameter's state (step 0 and the
 * sum filled with initialAccumulatorValue) exists from construction, so stateDict lists it.
 */
export class Adagrad extends Optimizer<AdagradOptions, AdagradState> {
  constructor(params: ParamsInput<AdagradOptions>, options: Partial<AdagradOptions> = {}) {
    super('Adagrad', params, withDefaults<AdagradOptions>('Adagrad', options, {
      lr: 1e-2,
      lrDecay: 0,
      weightDecay: 0,
      initialAccumulatorValue: 0,
      eps: 1e-10,
      maximize: false,
    }));
  }

  /**
   * Adds a group and creates its parameters' state: step 0 and the sum filled with the
   * optimizer's initialAccumulatorValue (as PyTorch 1.13, which fills it from the constructor's
   * value, not the group's).
   */
  override addParamGroup(spec: ParamGroupSpec<AdagradOptions>): void {
    super.addParamGroup(spec);
    const group = this.paramGroups[this.paramGroups.length - 1]!;
    for (const param of group.params) {
      const sum = param.dtype === 'float64' ? new Float64Array(param.size) : new Float32Array(param.size);
      this.state.set(param, initialState(sum, this.defaults.initialAccumulatorValue));
    }
  }

  protected override validateOptions(options: AdagradOptions, where: string): void {
    requireNonNegative('Adagrad', where, 'learning rate lr', options.lr);
    requireNonNegative('Adagrad', where, 'lrDecay', options.lrDecay);
    requireNonNegative('Adagrad', where, 'weightDecay', options.weightDecay);
    requireNonNegative('Adagrad', where, 'initialAccumulatorValue', options.initialAccumulatorValue);
    requireNonNegative('Adagrad', where, 'eps', options.eps);
    requireBoolean('Adagrad', where, 'maximize', options.maximize);
  }

  protected override updateParam(slot: ParamSlot<AdagradState>, group: ParamGroup<AdagradOptions>): void {
    const { lr, lrDecay, weightDecay, eps, maximize } = group;
    const param = slot.values;
    const grad = slot.grad;
    const n = param.length;
    const state = slot.state;
    // A state dict may have been loaded without this parameter's state: start it as at construction.
    if (state.sum === undefined) initialState(slot.zerosLike(), this.defaults.initialAccumulatorValue, state);
    const sum = state.sum!;
    const step = (state.step ?? 0) + 1;
    state.step = step;
    // clr = lr / (1 + (step − 1)·lrDecay)
    const clr = lr / (1 + (step - 1) * lrDecay);
    for (let i = 0; i < n; i++) {
      // g = ±∇, then g = g + λ·p
      const gradient = weightDecay === 0 ? (maximize ? -grad[i]! : grad[i]!) : (maximize ? -grad[i]! : grad[i]!) + weightDecay * param[i]!;
      // s = s + g·g
      sum[i] = sum[i]! + gradient * gradient;
      // p = p − clr·g / (√s + ε)
      param[i] = param[i]! + (-clr * gradient) / (Math.sqrt(sum[i]!) + eps);
    }
  }
}

function initialState(sum: FloatArray, initialAccumulatorValue: number, state: AdagradState = {}): AdagradState {
  sum.fill(initialAccumulatorValue);
  state.step = 0;
  state.sum = sum;
  return state;
}
