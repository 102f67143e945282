import { requireFinite } from './lr-scheduler.js';
import { checkOptimOptions, type BaseOptions, type Optimizer } from './optimizer.js';

export interface ReduceLROnPlateauOptions {
  /** 'min': the metric should decrease (a loss); 'max': increase (an accuracy). */
  mode?: 'min' | 'max';
  /** new lr = lr·factor (factor < 1). */
  factor?: number;
  /** Epochs without improvement tolerated before the lr is reduced. */
  patience?: number;
  /** How much better than the best a metric must be to count as an improvement. */
  threshold?: number;
  /** 'rel': better than best·(1 ∓ threshold); 'abs': better than best ∓ threshold. */
  thresholdMode?: 'rel' | 'abs';
  /** Epochs after a reduction during which bad epochs are not counted. */
  cooldown?: number;
  /** Lower bound of the lr, one for all groups or one per group. */
  minLr?: number | number[];
  /** Reductions smaller than eps are skipped. */
  eps?: number;
}

/**
 * ReduceLROnPlateau's state. `best` is a number, or the string 'Infinity' / '-Infinity' (the
 * starting value), so that the state dict survives JSON.
 */
export interface ReduceLROnPlateauStateDict {
  lastEpoch: number;
  best: number | 'Infinity' | '-Infinity';
  numBadEpochs: number;
  cooldownCounter: number;
  lastLr: number[];
}

const KNOWN = ['mode', 'factor', 'patience', 'threshold', 'thresholdMode', 'cooldown', 'minLr', 'eps'];

function requireNonNegativeInteger(label: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new Error(`ReduceLROnPlateau: invalid ${label} ${String(value)} (expected an integer >= 0)`);
  }
}

/**
 * Reduces every group's lr by `factor` once a metric has not improved for more than `patience`
 * epochs, as torch.optim.lr_scheduler.ReduceLROnPlateau (1.13): call `step(metric)` once per
 * epoch with the validation metric. Not an LRScheduler: it has no schedule of its own.
 */
export class ReduceLROnPlateau {
  readonly name = 'ReduceLROnPlateau';
  readonly optimizer: Optimizer<BaseOptions, object>;
  readonly mode: 'min' | 'max';
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: 'rel' | 'abs';
  readonly cooldown: number;
  readonly minLrs: readonly number[];
  readonly eps: number;
  /** The best metric so far (±Infinity before the first). */
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;
  private lastLr: number[];

  constructor(optimizer: Optimizer<BaseOptions, object>, options: ReduceLROnPlateauOptions = {}) {
    checkOptimOptions('ReduceLROnPlateau', options, KNOWN);
    const { mode = 'min', factor = 0.1, patience = 10, threshold = 1e-4, thresholdMode = 'rel', cooldown = 0, minLr = 0, eps = 1e-8 } = options;
    if (typeof factor !== 'number' || !(factor < 1) || !Number.isFinite(factor)) {
      throw new Error(`ReduceLROnPlateau: invalid factor ${String(factor)} (expected a number < 1)`);
    }
    if (mode !== 'min' && mode !== 'max') throw new Error(`ReduceLROnPlateau: invalid mode ${JSON.stringify(mode)} (expected 'min' or 'max')`);
    if (thresholdMode !== 'rel' && thresholdMode !== 'abs') {
      throw new Error(`ReduceLROnPlateau: invalid thresholdMode ${JSON.stringify(thresholdMode)} (expected 'rel' or 'abs')`);
    }
    requireNonNegativeInteger('patience', patience);
    requireNonNegativeInteger('cooldown', cooldown);
    requireFinite('ReduceLROnPlateau', 'threshold', threshold);
    requireFinite('ReduceLROnPlateau', 'eps', eps);
    const groups = optimizer.paramGroups.length;
    if (Array.isArray(minLr) && minLr.length !== groups) {
      throw new Error(`ReduceLROnPlateau: expected ${groups} values for minLr (one per param group), got ${minLr.length}`);
    }
    const minLrs = Array.isArray(minLr) ? [...minLr] : Array.from({ length: groups }, () => minLr);
    minLrs.forEach((value, index) => requireFinite('ReduceLROnPlateau', `minLr[${index}]`, value));
    this.optimizer = optimizer;
    this.mode = mode;
    this.factor = factor;
    this.patience = patience;
    this.threshold = threshold;
    this.thresholdMode = thresholdMode;
    this.cooldown = cooldown;
    this.minLrs = minLrs;
    this.eps = eps;
    this.best = this.modeWorse();
    this.lastLr = optimizer.paramGroups.map((group) => group.lr);
  }

  private modeWorse(): number {
    return this.mode === 'min' ? Infinity : -Infinity;
  }

  /** Whether `metric` improves on `best` by more than the threshold. */
  isBetter(metric: number, best: number): boolean {
    if (this.mode === 'min' && this.thresholdMode === 'rel') return metric < best * (1 - this.threshold);
    if (this.mode === 'min') return metric < best - this.threshold;
    if (this.thresholdMode === 'rel') return metric > best * (this.threshold + 1);
    return metric > best + this.threshold;
  }

  get inCooldown(): boolean {
    return this.cooldownCounter > 0;
  }

  /** Records one epoch's metric and reduces the lr after more than `patience` epochs without improvement. */
  step(metric: number): void {
    if (typeof metric !== 'number') {
      throw new Error(`ReduceLROnPlateau.step: expected the epoch's metric as a number, got ${metric === null ? 'null' : typeof metric}`);
    }
    this.lastEpoch += 1;
    if (this.isBetter(metric, this.best)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs += 1;
    }
    if (this.inCooldown) {
      this.cooldownCounter -= 1;
      this.numBadEpochs = 0; // bad epochs in cooldown do not count
    }
    if (this.numBadEpochs > this.patience) {
      this.optimizer.paramGroups.forEach((group, index) => {
        // lr = max(lr·factor, minLr), unless that changes it by eps or less
        const newLr = Math.max(group.lr * this.factor, this.minLrs[index]!);
        if (group.lr - newLr > this.eps) group.lr = newLr;
      });
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.lastLr = this.optimizer.paramGroups.map((group) => group.lr);
  }

  /** The learning rates after the last `step(metric)` (the optimizer's, before the first). */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  stateDict(): ReduceLROnPlateauStateDict {
    const best = Number.isFinite(this.best) ? this.best : (String(this.best) as 'Infinity' | '-Infinity');
    return { lastEpoch: this.lastEpoch, best, numBadEpochs: this.numBadEpochs, cooldownCounter: this.cooldownCounter, lastLr: [...this.lastLr] };
  }

  loadStateDict(stateDict: ReduceLROnPlateauStateDict): void {
    const where = 'ReduceLROnPlateau.loadStateDict';
    if (stateDict === null || typeof stateDict !== 'object') throw new Error(`${where}: expected a state dict from stateDict(), got ${stateDict === null ? 'null' : typeof stateDict}`);
    const { lastEpoch, best, numBadEpochs, cooldownCounter, lastLr } = stateDict;
    const bestValue = best === 'Infinity' ? Infinity : best === '-Infinity' ? -Infinity : best;
    for (const [label, value] of [['lastEpoch', lastEpoch], ['best', bestValue], ['numBadEpochs', numBadEpochs], ['cooldownCounter', cooldownCounter]] as const) {
      if (typeof value !== 'number' || Number.isNaN(value)) throw new Error(`${where}: ${label} is ${String(value)}, expected a number`);
    }
    if (!Array.isArray(lastLr) || lastLr.length !== this.optimizer.paramGroups.length) {
      throw new Error(`${where}: lastLr must hold one lr per param group (${this.optimizer.paramGroups.length})`);
    }
    this.lastEpoch = lastEpoch;
    this.best = bestValue as number;
    this.numBadEpochs = numBadEpochs;
    this.cooldownCounter = cooldownCounter;
    this.lastLr = [...lastLr];
  }
}
