import { Tensor, checkOptions, jvp, moments, noGrad, scaledRsqrt, stopGradient, type DType } from '@normgrad/core';
import { batchNorm } from '../functional/batch-norm.js';
import { channelAffine, channelBroadcast, channelStatistics, checkBatchStatisticsUnderVmap, normalizeOver, checkEps, checkLayerMomentum, checkMoreThanOneValuePerChannel, updateRunningStats, valuesPerChannel } from '../functional/normalize.js';
import { Module, isParameter } from '../module.js';
import { checkSameDtype, formatShape, renameOp } from '../util.js';
import { affineParameters, channelNormRepr, checkChannelCount, checkNumFeatures, runningStatBuffers } from './channel-norm.js';

export interface CrossIterationBatchNorm2dOptions {
  /** The module that produces the normalized x from the layer's input (e.g. a Conv2d); required. */
  producer: Module;
  /** k: the number of iterations whose statistics are combined, the current one included. Default 4. */
  window?: number;
  /** Training iterations at the start that normalize as BatchNorm2d and record nothing. Default 0. */
  burnIn?: number;
  eps?: number;
  /** Weight of each new batch in the running statistics; null: cumulative average. Default 0.1. */
  momentum?: number | null;
  affine?: boolean;
  trackRunningStats?: boolean;
  dtype?: DType;
}

/** One past training iteration, kept for the compensation: what the producer was given and its parameters then. */
export interface CrossIterationRecord {
  /** The producer's input (a copy). */
  readonly input: Tensor;
  /** The producer's parameters by name (copies). */
  readonly parameters: Readonly<Record<string, Tensor>>;
}

const layer = 'CrossIterationBatchNorm2d';
const statAxes = [0, 2, 3];

/** Where one of the producer's parameters lives: read at every forward, so substituted values (functionalCall, checkLayer) are seen. */
interface ParameterSlot {
  name: string;
  owner: Record<string, unknown>;
  field: string;
}

/**
 * Cross-iteration batch normalization (Yao et al. 2021, "Cross-Iteration Batch Normalization",
 * https://arxiv.org/abs/2002.05712) over (N, C, H, W). In training the statistics are those of the
 * last k iterations (k = window), each compensated to the current parameters θ_t of the layer that
 * produced x (the paper's θ^l: the convolution before the norm) by a first-order Taylor term:
 *
 *   μ_{t−τ}(θ_t) = μ_{t−τ}(θ_{t−τ}) + ∂μ_{t−τ}/∂θ · (θ_t − θ_{t−τ})      μ = E[x]
 *   ν_{t−τ}(θ_t) = ν_{t−τ}(θ_{t−τ}) + ∂ν_{t−τ}/∂θ · (θ_t − θ_{t−τ})      ν = E[x²]
 *   μ̄ = 1/k Σ_{τ=0}^{k−1} μ_{t−τ}(θ_t)
 *   ν̄ = 1/k Σ_{τ=0}^{k−1} max(ν_{t−τ}(θ_t), μ_{t−τ}(θ_t)²)
 *   σ̄² = ν̄ − μ̄²
 *   y  = (x − μ̄) / sqrt(σ̄² + eps) · weight + bias
 *
 * with E over N, H, W per channel. The directional derivatives ∂μ/∂θ · Δθ and ∂ν/∂θ · Δθ are
 * forward-mode derivatives: core's `jvp` of the producer re-run on iteration t−τ's input at
 * θ_{t−τ}, along θ_t − θ_{t−τ} (for a convolution, what the paper's block-sparse gradients give).
 *
 * The paper's formula is in raw moments, ν̄ − μ̄² (E[x²] − E[x]²), which cancels in float32 at large
 * means. The same σ̄² is computed here as the law of total variance, a sum of non-negative terms:
 *
 *   σ̄² = 1/k Σ_τ v_τ + 1/k Σ_τ (μ_{t−τ}(θ_t) − μ̄)²
 *   v_τ = max(ν_{t−τ}(θ_t) − μ_{t−τ}(θ_t)², 0) = max(Var_{t−τ} + ∂Var_{t−τ}/∂θ · Δθ − (∂μ_{t−τ}/∂θ · Δθ)², 0)
 *
 * (algebraically equal: ν + ∂ν·Δθ − (μ + ∂μ·Δθ)² = Var + 2 E[(x − μ) ∂x·Δθ] − (∂μ·Δθ)², and
 * ∂Var·Δθ = 2 E[(x − μ) ∂x·Δθ]), where Var is the two-pass variance of core's moments; the paper's
 * max(ν, μ²) is the clamp of v_τ at 0 (the authors' code drops such iterations instead). The means
 * are taken relative to the current batch mean, so their differences do not round either. The term
 * −(∂μ·Δθ)² is the paper's: raw moments compensated to first order miss ν's second-order term, so
 * a parameter change that only shifts the mean lowers the estimated variance by the shift squared.
 *
 * Gradients, as in the paper and the authors' code: the statistics of past iterations, compensation
 * included, are constants (core's stopGradient); μ_t and Var_t of the current batch are
 * differentiated, so x, the producer's parameters (through x) and weight, bias get gradients.
 * The running statistics are BatchNorm2d's, from the current batch (eval normalizes with them).
 *
 * The layer owns its producer, the module whose parameters the statistics are compensated for (a
 * child named `producer`, so the layer stands for the pair conv + norm): `forward(input)` normalizes
 * x = producer.forward(input), compensating for every parameter of the producer (e.g. a Conv2d's
 * weight and bias). The producer must be deterministic and hold no buffers, as it is re-run on the
 * stored inputs (k − 1 times per training step). `history` holds the last k − 1 iterations (newest
 * first), as copies; a training step replaces the array, so it can be shared or restored. It is not
 * part of stateDict (as in the authors' code); `iterations` (the training steps seen, for burnIn) is.
 * During the first burnIn training steps, and with window 1, the layer is BatchNorm2d.
 */
export class CrossIterationBatchNorm2d extends Module {
  readonly numFeatures: number;
  readonly window: number;
  readonly burnIn: number;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  readonly producer: Module;
  private readonly slots: readonly ParameterSlot[];
  weight: Tensor | null;
  bias: Tensor | null;
  runningMean: Tensor | null;
  runningVar: Tensor | null;
  numBatchesTracked = 0;
  iterations = 0;
  history: readonly CrossIterationRecord[] = [];

  constructor(numFeatures: number, options: CrossIterationBatchNorm2dOptions) {
    super();
    checkNumFeatures(layer, numFeatures);
    if (options === undefined) throw new Error(`${layer}: options with producer (the module before the norm, e.g. a Conv2d) are required`);
    checkOptions(layer, options, ['producer', 'window', 'burnIn', 'eps', 'momentum', 'affine', 'trackRunningStats', 'dtype']);
    const { producer, window = 4, burnIn = 0, eps = 1e-5, momentum = 0.1, affine = true, trackRunningStats = true, dtype = 'float32' } = options;
    if (!Number.isInteger(window) || window < 1) throw new Error(`${layer}: window must be a positive integer, got ${window}`);
    if (!Number.isInteger(burnIn) || burnIn < 0) throw new Error(`${layer}: burnIn must be an integer >= 0, got ${burnIn}`);
    checkProducer(producer);
    checkEps(layer, eps);
    checkLayerMomentum(layer, momentum);
    this.numFeatures = numFeatures;
    this.producer = producer;
    this.slots = parameterSlots(producer);
    this.window = window;
    this.burnIn = burnIn;
    this.eps = eps;
    this.momentum = momentum;
    this.affine = affine;
    this.trackRunningStats = trackRunningStats;
    [this.weight, this.bias] = affine ? affineParameters(numFeatures, dtype) : [null, null];
    [this.runningMean, this.runningVar] = trackRunningStats ? runningStatBuffers(numFeatures, dtype) : [null, null];
  }

  protected override numericState(): string[] {
    return this.trackRunningStats ? ['numBatchesTracked', 'iterations'] : ['iterations'];
  }

  override extraRepr(): string {
    return `${channelNormRepr(this.numFeatures, this.eps, this.momentum, this.affine, this.trackRunningStats)}, window=${this.window}, burn_in=${this.burnIn}`;
  }

  /** Forgets the stored iterations (e.g. after changing the producer). */
  resetHistory(): void {
    this.history = [];
  }

  forward(input: Tensor): Tensor {
    const parameters = this.producerParameters();
    if (!(input instanceof Tensor)) throw new Error(`${layer}: expected a Tensor input, got ${typeof input}`);
    const x = this.producer.forward(input);
    if (!(x instanceof Tensor) || x.ndim !== 4) {
      const got = x instanceof Tensor ? `${x.ndim}D output of shape ${formatShape(x.shape)}` : typeof x;
      throw new Error(`${layer}: expected the producer to return a 4D (N, C, H, W) tensor, got ${got}`);
    }
    checkChannelCount(layer, x, this.numFeatures);
    checkSameDtype(layer, x, { weight: this.weight, runningMean: this.runningMean });
    const useBatchStats = this.training || this.runningMean === null;
    if (useBatchStats) checkBatchStatisticsUnderVmap(layer, x, [this.runningMean, this.runningVar, this.weight, this.bias]);
    if (useBatchStats) checkMoreThanOneValuePerChannel(layer, x);
    try {
      if (!this.training || x.size === 0) {
        // eval (BatchNorm2d's), or an empty batch, which updates and records nothing
        const passStats = !this.training && this.runningMean !== null;
        return batchNorm(x, passStats ? this.runningMean : null, passStats ? this.runningVar : null, {
          weight: this.weight,
          bias: this.bias,
          training: useBatchStats,
          eps: this.eps,
        });
      }
      this.iterations += 1;
      const crossIteration = this.window > 1 && this.iterations > this.burnIn;
      const y = this.normalize(x, crossIteration ? this.history : [], parameters);
      if (crossIteration) this.record(input, parameters);
      return y;
    } catch (error) {
      throw renameOp(error, 'batchNorm', layer);
    }
  }

  /** The producer's parameters by name, checked against the stored iterations. */
  private producerParameters(): Record<string, Tensor> {
    const parameters = Object.fromEntries(this.slots.map(({ name, owner, field }) => [name, owner[field] as Tensor]));
    const describe = (named: Readonly<Record<string, Tensor>>): string =>
      Object.entries(named).map(([name, t]) => `${name} ${formatShape(t.shape)}`).join(', ');
    const stored = this.history[0]?.parameters;
    if (stored && describe(stored) !== describe(parameters)) {
      throw new Error(
        `${layer}: the producer's parameters (${describe(parameters)}) differ from those of the stored iterations (${describe(stored)}); call resetHistory() after changing the producer`,
      );
    }
    return parameters;
  }

  /** Training: the compensated cross-iteration statistics (BatchNorm2d's when there are no past iterations). */
  private normalize(x: Tensor, past: readonly CrossIterationRecord[], parameters: Record<string, Tensor>): Tensor {
    if (past.length === 0) {
      // batchNorm's own computation, so that it is BatchNorm2d's bit for bit
      const batch = normalizeOver(x, channelStatistics(x), this.eps);
      this.updateRunning(x, batch.mean, batch.variance);
      return batch.affine(channelBroadcast(x, this.weight), channelBroadcast(x, this.bias));
    }
    const current = moments(x, statAxes, { correction: 0 });
    this.updateRunning(x, current.mean, current.variance);

    // Everything in units of the current scale s (a graph constant, 1 unless the squares leave range),
    // means relative to the current batch mean c: its float rounding would otherwise enter every offset.
    const { scale } = current;
    const c = stopGradient(current.mean);
    const currentShift = noGrad(() => x.detach().sub(c).mean(statAxes, true));
    // zero, carrying the derivative of μ_t (in units of s): μ_{t−τ}(θ_t) − μ_t has derivative −dμ_t
    const currentMeanZero = current.mean.sub(c).div(scale);
    const k = past.length + 1;
    const offsets: Tensor[] = [];
    let variances = current.scaledVariance;
    for (const record of past) {
      const { shift, variance } = compensatedStatistics(record, this.producer, this.slots, parameters, c);
      offsets.push(stopGradient(shift.sub(currentShift)).div(scale).sub(currentMeanZero));
      variances = variances.add(stopGradient(variance).div(scale).div(scale));
    }
    // o_0 = 0: the current iteration's offset from itself
    const meanOffset = offsets.reduce((total, o) => total.add(o)).div(k);
    const spread = offsets.reduce((total, o) => total.add(o.sub(meanOffset).square()), meanOffset.square());
    const variance = variances.div(k).add(spread.div(k));
    const normalized = current.scaledDeviation.sub(meanOffset).mul(scaledRsqrt(variance, scale, this.eps));
    return channelAffine(normalized, this.weight, this.bias);
  }

  /** BatchNorm2d's update of the running statistics (when tracked) from the batch mean and biased variance. */
  private updateRunning(x: Tensor, mean: Tensor, variance: Tensor): void {
    if (!this.runningMean || !this.runningVar) return;
    const n = valuesPerChannel(x);
    this.numBatchesTracked += 1;
    const momentum = this.momentum ?? 1 / this.numBatchesTracked;
    updateRunningStats(this.runningMean, this.runningVar, mean.reshape([this.numFeatures]), variance.mul(n / (n - 1)).reshape([this.numFeatures]), momentum);
  }

  /** Keeps this iteration (copies of the input and of the producer's parameters), newest first, k − 1 at most. */
  private record(input: Tensor, parameters: Record<string, Tensor>): void {
    const copies = noGrad(() => ({
      input: input.detach().clone(),
      parameters: Object.fromEntries(Object.entries(parameters).map(([name, t]) => [name, t.detach().clone()])),
    }));
    this.history = [copies, ...this.history].slice(0, this.window - 1);
  }
}

/** A Module with parameters and no buffers (it is re-run on stored inputs). */
function checkProducer(producer: unknown): asserts producer is Module {
  if (!(producer instanceof Module)) {
    throw new Error(`${layer}: options.producer must be the Module that produces the normalized x (e.g. a Conv2d), got ${producer === null ? 'null' : typeof producer}`);
  }
  const buffers = producer.namedBuffers().map(([name]) => name);
  if (buffers.length > 0) throw new Error(`${layer}: the producer must hold no buffers (it is re-run on stored inputs), got ${buffers.join(', ')}`);
  if (producer.namedParameters().length === 0) throw new Error(`${layer}: the producer has no parameters to compensate for`);
}

/**
 * Iteration t−τ's statistics compensated to θ_t, per channel (shape [1, C, 1, 1]):
 * shift = μ_{t−τ}(θ_t) − c and variance = max(ν_{t−τ}(θ_t) − μ_{t−τ}(θ_t)², 0), from one jvp of the
 * producer at θ_{t−τ} on its stored input along θ_t − θ_{t−τ}: x and ẋ = ∂x/∂θ · Δθ, so that
 * ∂μ/∂θ · Δθ = E[ẋ] and ∂Var/∂θ · Δθ = 2 E[(x − μ) ẋ].
 */
function compensatedStatistics(
  record: CrossIterationRecord,
  producer: Module,
  slots: readonly ParameterSlot[],
  current: Record<string, Tensor>,
  c: Tensor,
): { shift: Tensor; variance: Tensor } {
  const primals = slots.map(({ name }) => record.parameters[name]!);
  const tangents = slots.map(({ name }, i) => current[name]!.detach().sub(primals[i]!));
  const [x, change] = jvp((...values: Tensor[]) => withParameters(slots, values, () => producer.forward(record.input)), primals, tangents);
  const shifted = moments(x.sub(c), statAxes, { correction: 0 });
  const meanChange = change.mean(statAxes, true);
  const varianceChange = shifted.deviation.mul(change).mean(statAxes, true).mul(2);
  const compensated = shifted.variance.add(varianceChange).sub(meanChange.square());
  return { shift: shifted.mean.add(meanChange), variance: compensated.maximum(0) };
}

/** The producer's parameter fields (through its child modules), named as namedParameters names them. */
function parameterSlots(producer: Module): ParameterSlot[] {
  const slots: ParameterSlot[] = [];
  for (const [prefix, module] of producer.namedModules()) {
    for (const [field, value] of Object.entries(module)) {
      if (value instanceof Tensor && isParameter(value)) slots.push({ name: prefix === '' ? field : `${prefix}.${field}`, owner: module as unknown as Record<string, unknown>, field });
    }
  }
  return slots;
}

/** Runs fn with the parameter fields set to values (restored afterwards, also when fn throws). */
function withParameters<T>(slots: readonly ParameterSlot[], values: readonly Tensor[], fn: () => T): T {
  const originals = slots.map(({ owner, field }) => owner[field]);
  slots.forEach(({ owner, field }, i) => (owner[field] = values[i]));
  try {
    return fn();
  } finally {
    slots.forEach(({ owner, field }, i) => (owner[field] = originals[i]));
  }
}
