import { LRScheduler, requireFinite, requirePositiveInteger } from './lr-scheduler.js';
import { checkOptimOptions, type BaseOptions, type Optimizer } from './optimizer.js';

export interface OneCycleLROptions {
  /** Peak lr, one for all groups or one per group. */
  maxLr: number | number[];
  /** Number of scheduler steps in the cycle; or give epochs and stepsPerEpoch. */
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  /** Fraction of the cycle spent increasing the lr. */
  pctStart?: number;
  annealStrategy?: 'cos' | 'linear';
  /** Cycle momentum (SGD, RMSprop) or beta1 (Adam, AdamW) inversely to the lr. */
  cycleMomentum?: boolean;
  baseMomentum?: number | number[];
  maxMomentum?: number | number[];
  /** The starting lr is maxLr / divFactor. */
  divFactor?: number;
  /** The final lr is the starting lr / finalDivFactor. */
  finalDivFactor?: number;
  /** Up to maxLr, back down to the starting lr, then down to the final lr (fastai's schedule). */
  threePhase?: boolean;
  lastEpoch?: number;
}

const KNOWN = ['maxLr', 'totalSteps', 'epochs', 'stepsPerEpoch', 'pctStart', 'annealStrategy', 'cycleMomentum', 'baseMomentum', 'maxMomentum',
  'divFactor', 'finalDivFactor', 'threePhase', 'lastEpoch'];

type Level = 'initial' | 'max' | 'min';

interface Phase {
  endStep: number;
  startLr: Level;
  endLr: Level;
  startMomentum: 'max' | 'base';
  endMomentum: 'max' | 'base';
}

function perGroup(name: string, groups: number, value: number | number[]): number[] {
  if (Array.isArray(value)) {
    if (value.length !== groups) throw new Error(`OneCycleLR: expected ${groups} values for ${name} (one per param group), got ${value.length}`);
    value.forEach((v, index) => requireFinite('OneCycleLR', `${name}[${index}]`, v));
    return [...value];
  }
  requireFinite('OneCycleLR', name, value);
  return Array.from({ length: groups }, () => value);
}

/**
 * The 1cycle policy (Smith & Topin, https://arxiv.org/abs/1708.07120), stepped once per batch:
 * the lr anneals from maxLr / divFactor up to maxLr over pctStart of totalSteps, then down to
 * maxLr / divFactor / finalDivFactor (three phases with threePhase), by cosine or linear
 * annealing, while momentum (or Adam's beta1) goes the other way between maxMomentum and
 * baseMomentum, as torch.optim.lr_scheduler.OneCycleLR (1.13). Stepping past totalSteps is an Error.
 */
export class OneCycleLR extends LRScheduler {
  readonly totalSteps: number;
  readonly annealStrategy: 'cos' | 'linear';
  readonly cycleMomentum: boolean;
  /** Whether momentum is Adam's beta1 (the optimizer has betas) rather than a momentum option. */
  readonly useBeta1: boolean;
  readonly maxLrs: readonly number[];
  /** Per group: maxLr / divFactor / finalDivFactor. */
  readonly minLrs: readonly number[];
  readonly maxMomentums: readonly number[];
  readonly baseMomentums: readonly number[];
  private readonly phases: Phase[];

  constructor(optimizer: Optimizer<BaseOptions, object>, options: OneCycleLROptions) {
    checkOptimOptions('OneCycleLR', options, KNOWN);
    const {
      maxLr, totalSteps, epochs, stepsPerEpoch, pctStart = 0.3, annealStrategy = 'cos', cycleMomentum = true,
      baseMomentum = 0.85, maxMomentum = 0.95, divFactor = 25, finalDivFactor = 1e4, threePhase = false, lastEpoch = -1,
    } = options;
    let steps: number;
    if (totalSteps !== undefined) {
      requirePositiveInteger('OneCycleLR', 'totalSteps', totalSteps);
      steps = totalSteps;
    } else if (epochs !== undefined || stepsPerEpoch !== undefined) {
      requirePositiveInteger('OneCycleLR', 'epochs', epochs);
      requirePositiveInteger('OneCycleLR', 'stepsPerEpoch', stepsPerEpoch);
      steps = epochs! * stepsPerEpoch!;
    } else {
      throw new Error('OneCycleLR: give totalSteps, or epochs and stepsPerEpoch');
    }
    if (typeof pctStart !== 'number' || !(pctStart >= 0 && pctStart <= 1)) {
      throw new Error(`OneCycleLR: invalid pctStart ${String(pctStart)} (expected a number in [0, 1])`);
    }
    if (annealStrategy !== 'cos' && annealStrategy !== 'linear') {
      throw new Error(`OneCycleLR: invalid annealStrategy ${JSON.stringify(annealStrategy)} (expected 'cos' or 'linear')`);
    }
    requireFinite('OneCycleLR', 'divFactor', divFactor);
    requireFinite('OneCycleLR', 'finalDivFactor', finalDivFactor);
    if (typeof threePhase !== 'boolean' || typeof cycleMomentum !== 'boolean') {
      throw new Error(`OneCycleLR: threePhase and cycleMomentum must be true or false (got ${String(threePhase)}, ${String(cycleMomentum)})`);
    }
    const groups = optimizer.paramGroups.length;
    const maxLrs = perGroup('maxLr', groups, maxLr);
    const defaults = optimizer.defaults as object;
    const useBeta1 = 'betas' in defaults;
    if (cycleMomentum && !('momentum' in defaults) && !useBeta1) {
      throw new Error(`OneCycleLR: ${optimizer.name} has neither momentum nor betas; pass cycleMomentum: false`);
    }
    const maxMomentums = cycleMomentum ? perGroup('maxMomentum', groups, maxMomentum) : [];
    const baseMomentums = cycleMomentum ? perGroup('baseMomentum', groups, baseMomentum) : [];
    if (lastEpoch === -1) {
      optimizer.paramGroups.forEach((group, index) => {
        group.initialLr = maxLrs[index]! / divFactor;
        if (cycleMomentum) setMomentum(group, useBeta1, maxMomentums[index]!);
      });
    }
    super('OneCycleLR', optimizer, lastEpoch);
    this.totalSteps = steps;
    this.annealStrategy = annealStrategy;
    this.cycleMomentum = cycleMomentum;
    this.useBeta1 = useBeta1;
    this.maxLrs = maxLrs;
    this.minLrs = optimizer.paramGroups.map((group) => group.initialLr! / finalDivFactor);
    this.maxMomentums = maxMomentums;
    this.baseMomentums = baseMomentums;
    this.phases = threePhase
      ? [
        { endStep: pctStart * steps - 1, startLr: 'initial', endLr: 'max', startMomentum: 'max', endMomentum: 'base' },
        { endStep: 2 * pctStart * steps - 2, startLr: 'max', endLr: 'initial', startMomentum: 'base', endMomentum: 'max' },
        { endStep: steps - 1, startLr: 'initial', endLr: 'min', startMomentum: 'max', endMomentum: 'max' },
      ]
      : [
        { endStep: pctStart * steps - 1, startLr: 'initial', endLr: 'max', startMomentum: 'max', endMomentum: 'base' },
        { endStep: steps - 1, startLr: 'max', endLr: 'min', startMomentum: 'base', endMomentum: 'max' },
      ];
    this.initialStep();
  }

  private anneal(start: number, end: number, pct: number): number {
    // cos: end + (start − end)/2·(cos(π·pct) + 1); linear: (end − start)·pct + start
    if (this.annealStrategy === 'cos') return end + ((start - end) / 2.0) * (Math.cos(Math.PI * pct) + 1);
    return (end - start) * pct + start;
  }

  protected override getLr(): number[] {
    const stepNumber = this.lastEpoch;
    if (stepNumber > this.totalSteps) {
      throw new Error(`OneCycleLR: tried to step ${stepNumber + 1} times; the specified number of total steps is ${this.totalSteps}`);
    }
    return this.optimizer.paramGroups.map((group, index) => {
      const lrs: Record<Level, number> = { initial: group.initialLr!, max: this.maxLrs[index]!, min: this.minLrs[index]! };
      let startStep = 0;
      for (const [phaseIndex, phase] of this.phases.entries()) {
        if (stepNumber <= phase.endStep || phaseIndex === this.phases.length - 1) {
          if (phase.endStep === startStep) throw new Error(`OneCycleLR: phase ${phaseIndex} of the schedule is empty (totalSteps ${this.totalSteps}, pctStart too small or too large)`);
          const pct = (stepNumber - startStep) / (phase.endStep - startStep);
          if (this.cycleMomentum) {
            const momentums = { max: this.maxMomentums[index]!, base: this.baseMomentums[index]! };
            setMomentum(group, this.useBeta1, this.anneal(momentums[phase.startMomentum], momentums[phase.endMomentum], pct));
          }
          return this.anneal(lrs[phase.startLr], lrs[phase.endLr], pct);
        }
        startStep = phase.endStep;
      }
      throw new Error('OneCycleLR: unreachable: the last phase always matches');
    });
  }
}

/** Writes momentum, or beta1 of Adam's betas, into a param group. */
function setMomentum(group: object, useBeta1: boolean, value: number): void {
  const options = group as { momentum?: number; betas?: [number, number] };
  if (useBeta1) options.betas = [value, options.betas![1]];
  else options.momentum = value;
}
