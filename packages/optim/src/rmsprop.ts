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

export interface RMSpropOptions {
  lr: number;
  /** Smoothing constant of the running average of squared gradients. */
  alpha: number;
  /** Added to the square root of the (centered) average. */
  eps: number;
  /** L2 penalty: weightDecay · param is added to the gradient. */
  weightDecay: number;
  momentum: number;
  /** Normalize by an estimate of the gradient's variance (the average of g² minus the square of the average of g). */
  centered: boolean;
  maximize: boolean;
}

export interface RMSpropState {
  /** Number of updates this parameter has received. */
  step?: number;
  squareAvg?: FloatArray;
  /** Only with momentum > 0. */
  momentumBuffer?: FloatArray;
  /** Only when centered. */
  gradAvg?: FloatArray;
}

/**
 * RMSprop (Hinton's lecture notes; centered form from Graves 2013, arXiv:1308.0850) with weight
 * decay, momentum and maximize, step for step as torch.optim.RMSprop (PyTorch 1.13,
 * `_single_tensor_rmsprop`):
 * v = α·v + (1 − α)·g², v̄ = v − ḡ² when centered (ḡ = α·ḡ + (1 − α)·g), then
 * p = p − lr·g / (√v̄ + ε), or with momentum b = μ·b + g / (√v̄ + ε), p = p − lr·b.
 */
export class RMSprop extends Optimizer<RMSpropOptions, RMSpropState> {
  constructor(params: ParamsInput<RMSpropOptions>, options: Partial<RMSpropOptions> = {}) {
    super('RMSprop', params, withDefaults<RMSpropOptions>('RMSprop', options, {
      lr: 1e-2,
      alpha: 0.99,
      eps: 1e-8,
      weightDecay: 0,
      momentum: 0,
      centered: false,
      maximize: false,
    }));
  }

  protected override validateOptions(options: RMSpropOptions, where: string): void {
    requireNonNegative('RMSprop', where, 'learning rate lr', options.lr);
    requireNonNegative('RMSprop', where, 'alpha', options.alpha);
    requireNonNegative('RMSprop', where, 'eps', options.eps);
    requireNonNegative('RMSprop', where, 'weightDecay', options.weightDecay);
    requireNonNegative('RMSprop', where, 'momentum', options.momentum);
    requireBoolean('RMSprop', where, 'centered', options.centered);
    requireBoolean('RMSprop', where, 'maximize', options.maximize);
  }

  protected override updateParam(slot: ParamSlot<RMSpropState>, group: ParamGroup<RMSpropOptions>): void {
    const { lr, alpha, eps, weightDecay, momentum, centered, maximize } = group;
    const param = slot.values;
    const grad = slot.grad;
    const n = param.length;
    const state = slot.state;
    if (state.step === undefined) {
      state.step = 0;
      state.squareAvg = slot.zerosLike();
      if (momentum > 0) state.momentumBuffer = slot.zerosLike();
      if (centered) state.gradAvg = slot.zerosLike();
    }
    state.step += 1;
    const squareAvg = (state.squareAvg ??= slot.zerosLike());
    const gradAvg = centered ? (state.gradAvg ??= slot.zerosLike()) : undefined;
    const buffer = momentum > 0 ? (state.momentumBuffer ??= slot.zerosLike()) : undefined;
    const keep = 1 - alpha;
    for (let i = 0; i < n; i++) {
      // g = ±∇, then g = g + λ·p
      const gradient = weightDecay === 0 ? (maximize ? -grad[i]! : grad[i]!) : (maximize ? -grad[i]! : grad[i]!) + weightDecay * param[i]!;
      // v = α·v + (1 − α)·g·g
      squareAvg[i] = squareAvg[i]! * alpha + keep * gradient * gradient;
      let average: number;
      if (gradAvg !== undefined) {
        // ḡ = α·ḡ + (1 − α)·g; avg = √(v − ḡ·ḡ)
        gradAvg[i] = gradAvg[i]! * alpha + keep * gradient;
        average = Math.sqrt(squareAvg[i]! + -1 * gradAvg[i]! * gradAvg[i]!);
      } else {
        average = Math.sqrt(squareAvg[i]!);
      }
      // avg = avg + ε
      average += eps;
      if (buffer !== undefined) {
        // b = μ·b + g / avg; p = p − lr·b
        buffer[i] = buffer[i]! * momentum + gradient / average;
        param[i] = param[i]! + -lr * buffer[i]!;
      } else {
        // p = p − lr·g / avg
        param[i] = param[i]! + (-lr * gradient) / average;
      }
    }
  }
}
