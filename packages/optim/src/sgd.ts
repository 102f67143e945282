import {
  Optimizer,
  requireBoolean,
  requireNonNegative,
  withDefaults,
  type ParamGroup,
  type ParamSlot,
  type ParamsInput,
} from './optimizer.js';
import type { FloatArray } from './strided.js';

export interface SGDOptions {
  /** Learning rate (required, as in PyTorch). */
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  /** L2 penalty: weightDecay · param is added to the gradient. */
  weightDecay: number;
  /** Ascend the objective instead of descending it. */
  maximize: boolean;
}

export interface SGDState {
  /** Created on a parameter's first step when momentum != 0 (a copy of that step's direction). */
  momentumBuffer?: FloatArray;
}

/**
 * Stochastic gradient descent with optional (Nesterov) momentum, dampening, weight decay and
 * maximize, step for step as torch.optim.SGD (PyTorch 1.13, single-tensor implementation).
 */
export class SGD extends Optimizer<SGDOptions, SGDState> {
  constructor(
    params: ParamsInput<SGDOptions>,
    options: { lr: number } & Partial<SGDOptions>,
  ) {
    super('SGD', params, withDefaults('SGD', options, {
      lr: undefined as unknown as number,
      momentum: 0,
      dampening: 0,
      nesterov: false,
      weightDecay: 0,
      maximize: false,
    }));
  }

  protected override validateOptions(options: SGDOptions, where: string): void {
    requireNonNegative('SGD', where, 'learning rate lr', options.lr);
    requireNonNegative('SGD', where, 'momentum', options.momentum);
    if (typeof options.dampening !== 'number' || !Number.isFinite(options.dampening)) {
      throw new Error(`SGD: invalid dampening ${String(options.dampening)} in ${where} (expected a finite number)`);
    }
    requireNonNegative('SGD', where, 'weightDecay', options.weightDecay);
    requireBoolean('SGD', where, 'nesterov', options.nesterov);
    requireBoolean('SGD', where, 'maximize', options.maximize);
    if (options.nesterov && (options.momentum <= 0 || options.dampening !== 0)) {
      throw new Error(
        `SGD: nesterov momentum requires momentum > 0 and dampening = 0 (got momentum ${options.momentum}, dampening ${options.dampening}) in ${where}`,
      );
    }
  }

  protected override updateParam(slot: ParamSlot<SGDState>, group: ParamGroup<SGDOptions>): void {
    const { lr, momentum, dampening, nesterov, weightDecay, maximize } = group;
    const param = slot.values;
    const n = param.length;
    // d = ±g
    const direction = maximize ? slot.grad.map((g) => -g) : slot.grad;
    if (weightDecay !== 0) {
      // d = d + λ·p
      for (let i = 0; i < n; i++) direction[i] = direction[i]! + weightDecay * param[i]!;
    }
    let update: ArrayLike<number> = direction;
    if (momentum !== 0) {
      let buffer = slot.state.momentumBuffer;
      if (buffer === undefined) {
        // b = d (first step)
        buffer = slot.zerosLike();
        buffer.set(direction);
        slot.state.momentumBuffer = buffer;
      } else {
        // b = μ·b + (1 − τ)·d
        const keep = 1 - dampening;
        for (let i = 0; i < n; i++) buffer[i] = buffer[i]! * momentum + keep * direction[i]!;
      }
      if (nesterov) {
        // d = d + μ·b
        for (let i = 0; i < n; i++) direction[i] = direction[i]! + momentum * buffer[i]!;
      } else {
        // d = b
        update = buffer;
      }
    }
    // p = p − lr·d
    for (let i = 0; i < n; i++) param[i] = param[i]! + -lr * update[i]!;
  }
}
