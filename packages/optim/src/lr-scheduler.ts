import type { BaseOptions, Optimizer } from './optimizer.js';

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

function requirePositiveInteger(scheduler: string, label: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new Error(`${scheduler}: invalid ${label} ${String(value)} (expected a positive integer)`);
  }
}

function requireFinite(scheduler: string, label: string, value: unknown): void {
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
  private lastLr: number[] = [];

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

  /** Advances one epoch and writes the new learning rate into every param group. */
  step(): void {
    this.stepCount += 1;
    this.lastEpoch += 1;
    const values = this.getLr();
    this.optimizer.paramGroups.forEach((group, index) => {
      group.lr = values[index]!;
    });
    this.lastLr = this.optimizer.paramGroups.map((group) => group.lr);
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
}

/** Multiplies the lr by gamma every epoch. */
export class ExponentialLR extends LRScheduler {
  readonly gamma: number;

  constructor(optimizer: Optimizer<BaseOptions, object>, options: { gamma: number; lastEpoch?: number }) {
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
}

/**
 * Cosine annealing from the base lr to etaMin over tMax epochs (then back up, periodically),
 * with PyTorch's recursive (chainable) formula so values match torch.optim.lr_scheduler exactly.
 */
export class CosineAnnealingLR extends LRScheduler {
  readonly tMax: number;
  readonly etaMin: number;

  constructor(optimizer: Optimizer<BaseOptions, object>, options: { tMax: number; etaMin?: number; lastEpoch?: number }) {
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
}
