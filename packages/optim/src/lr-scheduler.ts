import { checkOptimOptions, type BaseOptions, type Optimizer } from './optimizer.js';

/** Serializable scheduler state (PyTorch's scheduler `state_dict()`, minus the hyperparameters). */
export interface LRSchedulerStateDict {
  lastEpoch: number;
  stepCount: number;
  baseLrs: number[];
  lastLr: number[];
}

/** Python's floor modulo (the sign follows the divisor), used where PyTorch's formulas use `%`. */
function pythonModulo(a: number, b: number): number {
  return ((a % b) + b) % b;
}

/** Python's bisect_right on a sorted array: how many entries are <= value. */
function bisectRight(sorted: readonly number[], value: number): number {
  let count = 0;
  while (count < sorted.length && sorted[count]! <= value) count++;
  return count;
}

export function requirePositiveInteger(scheduler: string, label: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new Error(`${scheduler}: invalid ${label} ${String(value)} (expected a positive integer)`);
  }
}

export function requireFinite(scheduler: string, label: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new Error(`${scheduler}: invalid ${label} ${String(value)} (expected a finite number)`);
  }
}

/**
 * The base of learning-rate schedules, as PyTorch's `_LRScheduler`: the constructor records each
 * group's `initialLr` and performs the epoch-0 step; afterwards call `step()` (alias `stepLr()`)
 * once per epoch, after that epoch's `optimizer.step()` calls. Subclasses give the chainable
 * form: the new lr of every group from its current lr.
 */
export abstract class LRScheduler {
  readonly name: string;
  readonly optimizer: Optimizer<BaseOptions, object>;
  baseLrs: number[];
  /** Index of the last epoch stepped (0 right after construction). */
  lastEpoch: number;
  /** Number of step() calls, including the one made by the constructor. */
  protected stepCount = 0;
  protected lastLr: number[] = [];

  protected constructor(name: string, optimizer: Optimizer<BaseOptions, object>, lastEpoch = -1) {
    this.name = name;
    this.optimizer = optimizer;
    if (lastEpoch === -1) {
      for (const group of optimizer.paramGroups) group.initialLr ??= group.lr;
    } else {
      optimizer.paramGroups.forEach((group, index) => {
        if (group.initialLr === undefined) {
          throw new Error(`${name}: param group ${index} has no initialLr; resuming at lastEpoch ${lastEpoch} needs the optimizer state of the earlier run`);
        }
      });
    }
    this.baseLrs = optimizer.paramGroups.map((group) => group.initialLr!);
    this.lastEpoch = lastEpoch;
  }

  /** Call at the end of each subclass constructor: PyTorch's initial step. */
  protected initialStep(): void {
    this.stepCount = 0;
    this.step();
  }

  /** The chainable form: new learning rates from the groups' current ones and `lastEpoch`. */
  protected abstract getLr(): number[];

  /**
   * The closed form, PyTorch's `_get_closed_form_lr`: the learning rates at `lastEpoch` from the
   * base ones, for the schedules that have one (null otherwise).
   */
  protected closedFormLr(): number[] | null {
    return null;
  }

  /** Advances one epoch and writes the new learning rate into every param group. */
  step(): void {
    this.stepCount += 1;
    this.lastEpoch += 1;
    this.setLrs(this.getLr());
  }

  /**
   * PyTorch's `step(epoch)`, as SequentialLR uses it at a milestone: jumps to `epoch`, through the
   * closed form where the schedule has one, else the chainable form.
   */
  protected stepToEpoch(epoch: number): void {
    this.stepCount += 1;
    this.lastEpoch = epoch;
    this.setLrs(this.closedFormLr() ?? this.getLr());
  }

  /** Writes one lr per param group and records them as the last ones. */
  protected setLrs(values: readonly number[]): void {
    this.optimizer.paramGroups.forEach((group, index) => {
      group.lr = values[index]!;
    });
    this.lastLr = this.optimizer.paramGroups.map((group) => group.lr);
  }

  /** For SequentialLR: `scheduler.stepToEpoch(epoch)` on another scheduler. */
  protected static stepSchedulerToEpoch(scheduler: LRScheduler, epoch: number): void {
    scheduler.stepToEpoch(epoch);
  }

  /** For SequentialLR: PyTorch's `scheduler._initial_step()` on another scheduler. */
  protected static restartScheduler(scheduler: LRScheduler): void {
    scheduler.initialStep();
  }

  /** Same as `step()`: advance the schedule by one epoch. */
  stepLr(): void {
    this.step();
  }

  /** The learning rates the last `step()` set, one per param group. */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  stateDict(): LRSchedulerStateDict {
    return { lastEpoch: this.lastEpoch, stepCount: this.stepCount, baseLrs: [...this.baseLrs], lastLr: [...this.lastLr] };
  }

  loadStateDict(stateDict: LRSchedulerStateDict): void {
    const groups = this.optimizer.paramGroups.length;
    if (stateDict === null || typeof stateDict !== 'object' || !Array.isArray(stateDict.baseLrs) || !Array.isArray(stateDict.lastLr) ||
      typeof stateDict.lastEpoch !== 'number' || typeof stateDict.stepCount !== 'number') {
      throw new Error(`${this.name}.loadStateDict: expected { lastEpoch, stepCount, baseLrs, lastLr } from stateDict(), got ${stateDict === null ? 'null' : typeof stateDict === 'object' ? `keys ${Object.keys(stateDict).join(', ')}` : typeof stateDict}`);
    }
    if (stateDict.baseLrs.length !== groups || stateDict.lastLr.length !== groups) {
      throw new Error(`${this.name}.loadStateDict: the state dict is for ${stateDict.baseLrs.length} param groups, the optimizer has ${groups}`);
    }
    this.lastEpoch = stateDict.lastEpoch;
    this.stepCount = stateDict.stepCount;
    this.baseLrs = [...stateDict.baseLrs];
    this.lastLr = [...stateDict.lastLr];
  }

  protected currentLrs(): number[] {
    return this.optimizer.paramGroups.map((group) => group.lr);
  }
}

/** Multiplies the lr by gamma every stepSize epochs. */
export class StepLR extends LRScheduler {
  readonly stepSize: number;
  readonly gamma: number;

  constructor(optimizer: Optimizer<BaseOptions, object>, options: { stepSize: number; gamma?: number; lastEpoch?: number }) {
    checkOptimOptions('StepLR', options, ['stepSize', 'gamma', 'lastEpoch']);
    super('StepLR', optimizer, options.lastEpoch);
    requirePositiveInteger('StepLR', 'stepSize', options.stepSize);
    this.stepSize = options.stepSize;
    this.gamma = options.gamma ?? 0.1;
    requireFinite('StepLR', 'gamma', this.gamma);
    this.initialStep();
  }

  protected override getLr(): number[] {
    // lr ← lr·γ when epoch is a positive multiple of stepSize
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return this.currentLrs();
    return this.currentLrs().map((lr) => lr * this.gamma);
  }

  protected override closedFormLr(): number[] {
    // lr = base·γ^⌊epoch / stepSize⌋
    return this.baseLrs.map((base) => base * this.gamma ** Math.floor(this.lastEpoch / this.stepSize));
  }
}

/** Multiplies the lr by gamma every epoch. */
export class ExponentialLR extends LRScheduler {
  readonly gamma: number;

  constructor(optimizer: Optimizer<BaseOptions, object>, options: { gamma: number; lastEpoch?: number }) {
    checkOptimOptions('ExponentialLR', options, ['gamma', 'lastEpoch']);
    super('ExponentialLR', optimizer, options.lastEpoch);
    requireFinite('ExponentialLR', 'gamma', options.gamma);
    this.gamma = options.gamma;
    this.initialStep();
  }

  protected override getLr(): number[] {
    // lr ← lr·γ
    if (this.lastEpoch === 0) return this.currentLrs();
    return this.currentLrs().map((lr) => lr * this.gamma);
  }

  protected override closedFormLr(): number[] {
    // lr = base·γ^epoch
    return this.baseLrs.map((base) => base * this.gamma ** this.lastEpoch);
  }
}

/**
 * Cosine annealing from the base lr to etaMin over tMax epochs (then back up, periodically),
 * with PyTorch's recursive (chainable) formula so values match torch.optim.lr_scheduler exactly.
 */
export class CosineAnnealingLR extends LRScheduler {
  readonly tMax: number;
  readonly etaMin: number;

  constructor(optimizer: Optimizer<BaseOptions, object>, options: { tMax: number; etaMin?: number; lastEpoch?: number }) {
    checkOptimOptions('CosineAnnealingLR', options, ['tMax', 'etaMin', 'lastEpoch']);
    super('CosineAnnealingLR', optimizer, options.lastEpoch);
    requirePositiveInteger('CosineAnnealingLR', 'tMax', options.tMax);
    this.tMax = options.tMax;
    this.etaMin = options.etaMin ?? 0;
    requireFinite('CosineAnnealingLR', 'etaMin', this.etaMin);
    this.initialStep();
  }

  protected override getLr(): number[] {
    const { lastEpoch: epoch, tMax, etaMin } = this;
    const lrs = this.currentLrs();
    if (epoch === 0) return lrs;
    if (this.stepCount === 1 && epoch > 0) {
      // resumed: lr = η_min + (base − η_min)·(1 + cos(epoch·π / T)) / 2
      return this.baseLrs.map((base) => etaMin + ((base - etaMin) * (1 + Math.cos((epoch * Math.PI) / tMax))) / 2);
    }
    if (pythonModulo(epoch - 1 - tMax, 2 * tMax) === 0) {
      // lr ← lr + (base − η_min)·(1 − cos(π / T)) / 2
      return lrs.map((lr, index) => lr + ((this.baseLrs[index]! - etaMin) * (1 - Math.cos(Math.PI / tMax))) / 2);
    }
    // lr ← (1 + cos(π·epoch / T)) / (1 + cos(π·(epoch − 1) / T))·(lr − η_min) + η_min
    return lrs.map(
      (lr) => ((1 + Math.cos((Math.PI * epoch) / tMax)) / (1 + Math.cos((Math.PI * (epoch - 1)) / tMax))) * (lr - etaMin) + etaMin,
    );
  }

  protected override closedFormLr(): number[] {
    // lr = η_min + (base − η_min)·(1 + cos(π·epoch / T)) / 2
    return this.baseLrs.map((base) => this.etaMin + ((base - this.etaMin) * (1 + Math.cos((Math.PI * this.lastEpoch) / this.tMax))) / 2);
  }
}

/**
 * Linear warm-up (or decay): the lr factor goes linearly from startFactor to endFactor over
 * totalIters epochs, then stays (defaults 1/3 → 1 over 5 epochs, as PyTorch).
 */
export class LinearLR extends LRScheduler {
  readonly startFactor: number;
  readonly endFactor: number;
  readonly totalIters: number;

  constructor(
    optimizer: Optimizer<BaseOptions, object>,
    options: { startFactor?: number; endFactor?: number; totalIters?: number; lastEpoch?: number } = {},
  ) {
    checkOptimOptions('LinearLR', options, ['startFactor', 'endFactor', 'totalIters', 'lastEpoch']);
    super('LinearLR', optimizer, options.lastEpoch);
    this.startFactor = options.startFactor ?? 1 / 3;
    this.endFactor = options.endFactor ?? 1;
    this.totalIters = options.totalIters ?? 5;
    if (!(this.startFactor > 0 && this.startFactor <= 1)) {
      throw new Error(`LinearLR: invalid startFactor ${this.startFactor} (expected 0 < startFactor <= 1)`);
    }
    if (!(this.endFactor >= 0 && this.endFactor <= 1)) {
      throw new Error(`LinearLR: invalid endFactor ${this.endFactor} (expected 0 <= endFactor <= 1)`);
    }
    requirePositiveInteger('LinearLR', 'totalIters', this.totalIters);
    this.initialStep();
  }

  protected override getLr(): number[] {
    const { lastEpoch: epoch, startFactor, endFactor, totalIters } = this;
    const lrs = this.currentLrs();
    // lr ← lr·startFactor at epoch 0
    if (epoch === 0) return lrs.map((lr) => lr * startFactor);
    if (epoch > totalIters) return lrs;
    // lr ← lr·(1 + (e − s) / (T·s + (epoch − 1)·(e − s)))
    const delta = endFactor - startFactor;
    return lrs.map((lr) => lr * (1 + delta / (totalIters * startFactor + (epoch - 1) * delta)));
  }

  protected override closedFormLr(): number[] {
    // lr = base·(s + (e − s)·min(T, epoch) / T)
    const { startFactor, endFactor, totalIters } = this;
    return this.baseLrs.map((base) => base * (startFactor + ((endFactor - startFactor) * Math.min(totalIters, this.lastEpoch)) / totalIters));
  }
}

/** A factor of the base lr as a function of the epoch (LambdaLR's lrLambda). */
export type LrLambda = (epoch: number) => number;

/**
 * lr = base·lrLambda(epoch), one function for every group or one per group. stateDict() holds
 * the epoch and counters but not the functions, which cannot be serialized (PyTorch saves only
 * callable objects, never functions or lambdas): rebuild the scheduler with the same functions,
 * then loadStateDict.
 */
export class LambdaLR extends LRScheduler {
  readonly lrLambdas: LrLambda[];

  constructor(optimizer: Optimizer<BaseOptions, object>, options: { lrLambda: LrLambda | LrLambda[]; lastEpoch?: number }) {
    checkOptimOptions('LambdaLR', options, ['lrLambda', 'lastEpoch']);
    const groups = optimizer.paramGroups.length;
    const lambdas = Array.isArray(options.lrLambda) ? [...options.lrLambda] : Array.from({ length: groups }, () => options.lrLambda as LrLambda);
    if (lambdas.length !== groups) throw new Error(`LambdaLR: expected ${groups} lrLambda functions (one per param group), got ${lambdas.length}`);
    lambdas.forEach((fn, index) => {
      if (typeof fn !== 'function') throw new Error(`LambdaLR: lrLambda ${index} is ${typeof fn}, expected a function of the epoch`);
    });
    super('LambdaLR', optimizer, options.lastEpoch);
    this.lrLambdas = lambdas;
    this.initialStep();
  }

  protected override getLr(): number[] {
    // lr = base·λ(epoch)
    return this.baseLrs.map((base, index) => {
      const factor = this.lrLambdas[index]!(this.lastEpoch);
      if (typeof factor !== 'number') throw new Error(`LambdaLR: lrLambda ${index} returned ${typeof factor} at epoch ${this.lastEpoch}, expected a number`);
      return base * factor;
    });
  }
}

/** Multiplies the lr by gamma at each milestone epoch (by gamma^k at a milestone listed k times). */
export class MultiStepLR extends LRScheduler {
  readonly milestones: readonly number[];
  readonly gamma: number;

  constructor(optimizer: Optimizer<BaseOptions, object>, options: { milestones: number[]; gamma?: number; lastEpoch?: number }) {
    checkOptimOptions('MultiStepLR', options, ['milestones', 'gamma', 'lastEpoch']);
    if (!Array.isArray(options.milestones) || options.milestones.some((m) => !Number.isInteger(m))) {
      throw new Error(`MultiStepLR: invalid milestones ${JSON.stringify(options.milestones)} (expected an array of integer epochs)`);
    }
    super('MultiStepLR', optimizer, options.lastEpoch);
    this.milestones = [...options.milestones].sort((a, b) => a - b);
    this.gamma = options.gamma ?? 0.1;
    requireFinite('MultiStepLR', 'gamma', this.gamma);
    this.initialStep();
  }

  protected override getLr(): number[] {
    // lr ← lr·γ^k where epoch is listed k times
    const count = this.milestones.filter((milestone) => milestone === this.lastEpoch).length;
    if (count === 0) return this.currentLrs();
    return this.currentLrs().map((lr) => lr * this.gamma ** count);
  }

  protected override closedFormLr(): number[] {
    // lr = base·γ^(number of milestones <= epoch)
    return this.baseLrs.map((base) => base * this.gamma ** bisectRight(this.milestones, this.lastEpoch));
  }
}

/** SequentialLR's state: its own counters and each scheduler's state dict. */
export interface SequentialLRStateDict extends LRSchedulerStateDict {
  schedulers: LRSchedulerStateDict[];
}

/**
 * Runs schedulers one after the other: schedulers[i] from epoch milestones[i − 1] on, restarted
 * at epoch 0 at its milestone (PyTorch's `step(0)`: the closed form where it has one), as
 * torch.optim.lr_scheduler.SequentialLR (1.13). The schedulers must all wrap `optimizer`.
 */
export class SequentialLR extends LRScheduler {
  readonly schedulers: readonly LRScheduler[];
  readonly milestones: readonly number[];

  constructor(optimizer: Optimizer<BaseOptions, object>, options: { schedulers: LRScheduler[]; milestones: number[]; lastEpoch?: number }) {
    checkOptimOptions('SequentialLR', options, ['schedulers', 'milestones', 'lastEpoch']);
    const { schedulers, milestones } = options;
    if (!Array.isArray(schedulers) || schedulers.length === 0 || schedulers.some((s) => !(s instanceof LRScheduler))) {
      throw new Error('SequentialLR: schedulers must be a non-empty array of LRScheduler (ReduceLROnPlateau cannot be chained)');
    }
    schedulers.forEach((scheduler, index) => {
      if (scheduler.optimizer !== optimizer) throw new Error(`SequentialLR: scheduler ${index} (${scheduler.name}) wraps a different optimizer than the one passed in`);
    });
    if (!Array.isArray(milestones) || milestones.length !== schedulers.length - 1 || milestones.some((m) => !Number.isInteger(m))) {
      throw new Error(`SequentialLR: expected ${schedulers.length - 1} integer milestones (one fewer than the ${schedulers.length} schedulers), got ${JSON.stringify(milestones)}`);
    }
    const lastEpoch = options.lastEpoch ?? -1;
    super('SequentialLR', optimizer, lastEpoch);
    this.schedulers = [...schedulers];
    this.milestones = [...milestones];
    this.lastEpoch = lastEpoch + 1;
    // Reset the learning rates and undo the step each scheduler made at construction; then
    // only the first scheduler makes its initial step.
    for (const group of optimizer.paramGroups) group.lr = group.initialLr!;
    for (const scheduler of this.schedulers) scheduler.lastEpoch -= 1;
    LRScheduler.restartScheduler(this.schedulers[0]!);
    this.lastLr = this.schedulers[0]!.getLastLr();
  }

  /** The lr that the active scheduler last set (SequentialLR's step hands over to it). */
  protected override getLr(): number[] {
    return this.currentLrs();
  }

  override step(): void {
    this.stepCount += 1;
    this.lastEpoch += 1;
    const index = bisectRight(this.milestones, this.lastEpoch);
    const scheduler = this.schedulers[index]!;
    if (index > 0 && this.milestones[index - 1] === this.lastEpoch) LRScheduler.stepSchedulerToEpoch(scheduler, 0);
    else scheduler.step();
    this.lastLr = scheduler.getLastLr();
  }

  override stateDict(): SequentialLRStateDict {
    return { ...super.stateDict(), schedulers: this.schedulers.map((scheduler) => scheduler.stateDict()) };
  }

  override loadStateDict(stateDict: SequentialLRStateDict): void {
    super.loadStateDict(stateDict);
    if (!Array.isArray(stateDict.schedulers) || stateDict.schedulers.length !== this.schedulers.length) {
      throw new Error(`SequentialLR.loadStateDict: expected the state of ${this.schedulers.length} schedulers, got ${Array.isArray(stateDict.schedulers) ? stateDict.schedulers.length : 'none'}`);
    }
    this.schedulers.forEach((scheduler, index) => scheduler.loadStateDict(stateDict.schedulers[index]!));
  }
}

/** CosineAnnealingWarmRestarts' state: the base counters plus the current period and position in it. */
export interface CosineAnnealingWarmRestartsStateDict extends LRSchedulerStateDict {
  tI: number;
  tCur: number;
}

/**
 * SGDR (Loshchilov & Hutter, https://arxiv.org/abs/1608.03983): cosine annealing from the base lr
 * to etaMin over periods of t0, t0·tMult, t0·tMult², … epochs, restarting at the base lr:
 * lr = η_min + (base − η_min)·(1 + cos(π·T_cur / T_i)) / 2, as
 * torch.optim.lr_scheduler.CosineAnnealingWarmRestarts (1.13). `step(epoch)` takes an explicit,
 * possibly fractional epoch (e.g. epoch + batch / batches), as PyTorch's.
 */
export class CosineAnnealingWarmRestarts extends LRScheduler {
  readonly t0: number;
  readonly tMult: number;
  readonly etaMin: number;
  /** Length of the current period. */
  tI: number;
  /** Epochs since the last restart (fractional after step(epoch)). */
  tCur: number;

  constructor(optimizer: Optimizer<BaseOptions, object>, options: { t0: number; tMult?: number; etaMin?: number; lastEpoch?: number }) {
    checkOptimOptions('CosineAnnealingWarmRestarts', options, ['t0', 'tMult', 'etaMin', 'lastEpoch']);
    requirePositiveInteger('CosineAnnealingWarmRestarts', 't0', options.t0);
    const tMult = options.tMult ?? 1;
    requirePositiveInteger('CosineAnnealingWarmRestarts', 'tMult', tMult);
    super('CosineAnnealingWarmRestarts', optimizer, options.lastEpoch);
    this.t0 = options.t0;
    this.tI = options.t0;
    this.tMult = tMult;
    this.etaMin = options.etaMin ?? 0;
    requireFinite('CosineAnnealingWarmRestarts', 'etaMin', this.etaMin);
    this.tCur = this.lastEpoch;
    this.initialStep();
  }

  protected override getLr(): number[] {
    // lr = η_min + (base − η_min)·(1 + cos(π·T_cur / T_i)) / 2
    return this.baseLrs.map((base) => this.etaMin + ((base - this.etaMin) * (1 + Math.cos((Math.PI * this.tCur) / this.tI))) / 2);
  }

  /** Advances one epoch, or with `epoch` jumps to that (possibly fractional) epoch. */
  override step(epoch?: number): void {
    if (epoch === undefined && this.lastEpoch < 0) epoch = 0;
    if (epoch === undefined) {
      epoch = this.lastEpoch + 1;
      this.tCur += 1;
      if (this.tCur >= this.tI) {
        this.tCur -= this.tI;
        this.tI *= this.tMult;
      }
    } else {
      if (typeof epoch !== 'number' || !(epoch >= 0) || !Number.isFinite(epoch)) {
        throw new Error(`CosineAnnealingWarmRestarts.step: expected a finite epoch >= 0, got ${String(epoch)}`);
      }
      if (epoch >= this.t0) {
        if (this.tMult === 1) {
          this.tCur = epoch % this.t0;
        } else {
          // n = ⌊log_tMult(epoch / T_0·(tMult − 1) + 1)⌋: the number of completed periods
          const n = Math.trunc(Math.log((epoch / this.t0) * (this.tMult - 1) + 1) / Math.log(this.tMult));
          this.tCur = epoch - (this.t0 * (this.tMult ** n - 1)) / (this.tMult - 1);
          this.tI = this.t0 * this.tMult ** n;
        }
      } else {
        this.tI = this.t0;
        this.tCur = epoch;
      }
    }
    this.lastEpoch = Math.floor(epoch);
    this.setLrs(this.getLr());
  }

  protected override stepToEpoch(epoch: number): void {
    this.step(epoch);
  }

  override stateDict(): CosineAnnealingWarmRestartsStateDict {
    return { ...super.stateDict(), tI: this.tI, tCur: this.tCur };
  }

  override loadStateDict(stateDict: CosineAnnealingWarmRestartsStateDict): void {
    if (typeof stateDict?.tI !== 'number' || typeof stateDict.tCur !== 'number') {
      throw new Error('CosineAnnealingWarmRestarts.loadStateDict: the state dict has no numbers tI and tCur (expected one from CosineAnnealingWarmRestarts.stateDict())');
    }
    super.loadStateDict(stateDict);
    this.tI = stateDict.tI;
    this.tCur = stateDict.tCur;
  }
}
