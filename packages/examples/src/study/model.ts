import type { DType } from '@normgrad/core';
import {
  BatchNorm1d,
  BatchNorm2d,
  BatchRenorm1d,
  BatchRenorm2d,
  Conv2d,
  DynamicTanh,
  EvoNorm2dB0,
  EvoNorm2dS0,
  FilterResponseNorm2d,
  Flatten,
  GhostBatchNorm1d,
  GhostBatchNorm2d,
  GroupNorm,
  InstanceNorm2d,
  LayerNorm,
  Linear,
  LocalResponseNorm,
  MaxPool2d,
  ReLU,
  RMSNorm,
  Sequential,
  SwitchableNorm2d,
  type Module,
} from '@normgrad/nn';

/** One normalization the study compares: how to build it after a conv with `channels` outputs of size height x width. */
export interface NormKind {
  /** Used on the command line (`--norms batch,group`) and in file names. */
  key: string;
  /** Used in tables and plot legends. */
  label: string;
  make: ((channels: number, height: number, width: number) => Module) | null;
}

/** The largest divisor of `channels` that is at most `most` (the group count of GroupNorm and EvoNorm-S0). */
export function groupsFor(channels: number, most = 4): number {
  for (let groups = Math.min(most, channels); groups > 1; groups--) if (channels % groups === 0) return groups;
  return 1;
}

/** Samples per virtual batch of the study's Ghost BatchNorm in the convnet. */
export const GHOST_VIRTUAL_BATCH = 8;

/**
 * The normalizations, in table and legend order. Adding one is one line here. The first six are
 * the classic ones (the default of the speed experiment); the rest are the research variants that
 * fit after a convolution. ScaleNorm (the last axis only, the image's width here), the weight
 * reparametrizations (weightNorm, spectralNorm) and the two-input norms (AdaIN, conditional BN)
 * are not offered: they do not replace a norm layer in this network.
 */
export const NORM_KINDS: readonly NormKind[] = [
  { key: 'none', label: 'no norm', make: null },
  { key: 'batch', label: 'BatchNorm', make: (channels) => new BatchNorm2d(channels) },
  { key: 'group', label: 'GroupNorm', make: (channels) => new GroupNorm(groupsFor(channels), channels) },
  { key: 'layer', label: 'LayerNorm', make: (channels, height, width) => new LayerNorm([channels, height, width]) },
  { key: 'instance', label: 'InstanceNorm', make: (channels) => new InstanceNorm2d(channels, { affine: true }) },
  { key: 'renorm', label: 'BatchRenorm', make: (channels) => new BatchRenorm2d(channels, { momentum: 0.1, warmupSteps: 20 }) },
  { key: 'ghost', label: `GhostBN (${GHOST_VIRTUAL_BATCH})`, make: (channels) => new GhostBatchNorm2d(channels, { virtualBatchSize: GHOST_VIRTUAL_BATCH }) },
  { key: 'frn', label: 'FRN + TLU', make: (channels) => new FilterResponseNorm2d(channels) },
  { key: 'evonorm-b0', label: 'EvoNorm-B0', make: (channels) => new EvoNorm2dB0(channels) },
  { key: 'evonorm-s0', label: 'EvoNorm-S0', make: (channels) => new EvoNorm2dS0(channels, { groups: groupsFor(channels) }) },
  { key: 'rms', label: 'RMSNorm', make: (channels, height, width) => new RMSNorm([channels, height, width]) },
  { key: 'dyt', label: 'DyT', make: (channels, height, width) => new DynamicTanh([channels, height, width]) },
  { key: 'switchable', label: 'SwitchableNorm', make: (channels) => new SwitchableNorm2d(channels) },
  { key: 'lrn', label: 'LocalResponseNorm', make: () => new LocalResponseNorm(5) },
];

/** The speed experiment's default norms: the classic six and the research variants with batch-free or batch statistics. */
export const DEFAULT_NORM_KEYS = ['none', 'batch', 'group', 'layer', 'instance', 'renorm', 'ghost', 'frn', 'evonorm-b0', 'evonorm-s0', 'rms', 'dyt'];

export function normKind(key: string): NormKind {
  const kind = NORM_KINDS.find((candidate) => candidate.key === key);
  if (kind === undefined) throw new Error(`unknown normalization ${JSON.stringify(key)}; choose from ${NORM_KINDS.map((k) => k.key).join(', ')}`);
  return kind;
}

export interface ConvNetShape {
  imageSize: number;
  channels: readonly [number, number];
}

/**
 * The study's network, the same for every normalization:
 *   [conv 3x3 (pad 1) → norm → ReLU → maxpool 2] x 2 → flatten → linear to 10 classes.
 * With 14x14 inputs and channels (8, 16): 14 → 7 → 3, so the classifier sees 16·3·3 = 144 features.
 */
export function buildConvNet(norm: NormKind, shape: ConvNetShape): Sequential {
  const layers: Module[] = [];
  let inChannels = 1;
  let side = shape.imageSize;
  for (const outChannels of shape.channels) {
    layers.push(new Conv2d(inChannels, outChannels, 3, { padding: 1 }));
    if (norm.make) layers.push(norm.make(outChannels, side, side));
    layers.push(new ReLU(), new MaxPool2d(2));
    inChannels = outChannels;
    side = Math.floor(side / 2);
  }
  layers.push(new Flatten(), new Linear(inChannels * side * side, 10));
  return new Sequential(...layers);
}

/** A normalization of the small-batch experiment's MLP, after a Linear with `features` outputs; `statisticsBatch` is the batch its statistics should come from. */
export interface FeatureNormKind {
  key: string;
  label: string;
  make: (features: number, statisticsBatch: number, dtype: DType) => Module | null;
}

/** BatchNorm1d and its small-batch remedies, plus GroupNorm (no batch statistics) and no norm. */
export const FEATURE_NORM_KINDS: readonly FeatureNormKind[] = [
  { key: 'none', label: 'no norm', make: () => null },
  { key: 'batch', label: 'BatchNorm', make: (features, _, dtype) => new BatchNorm1d(features, { dtype }) },
  { key: 'group', label: 'GroupNorm', make: (features, _, dtype) => new GroupNorm(groupsFor(features, 8), features, { dtype }) },
  { key: 'renorm', label: 'BatchRenorm', make: (features, _, dtype) => new BatchRenorm1d(features, { momentum: 0.1, warmupSteps: 100, dtype }) },
  { key: 'ghost', label: 'GhostBN', make: (features, statisticsBatch, dtype) => new GhostBatchNorm1d(features, { virtualBatchSize: statisticsBatch, dtype }) },
];

export function featureNormKind(key: string): FeatureNormKind {
  const kind = FEATURE_NORM_KINDS.find((candidate) => candidate.key === key);
  if (kind === undefined) throw new Error(`unknown normalization ${JSON.stringify(key)}; choose from ${FEATURE_NORM_KINDS.map((k) => k.key).join(', ')}`);
  return kind;
}

/**
 * The MLP of the small-batch and curvature experiments: flatten → [linear → norm → ReLU] per hidden
 * width → linear to 10 classes. Each BatchNorm1d channel's statistics come from the batch alone
 * (one value per sample), so batch statistics are as noisy as the batch is small.
 */
export function buildMlp(norm: FeatureNormKind, options: { inputs: number; hidden: readonly number[]; statisticsBatch: number; dtype?: DType }): Sequential {
  const dtype = options.dtype ?? 'float32';
  const layers: Module[] = [new Flatten()];
  let inputs = options.inputs;
  for (const width of options.hidden) {
    layers.push(new Linear(inputs, width, { dtype }));
    const layer = norm.make(width, options.statisticsBatch, dtype);
    if (layer !== null) layers.push(layer);
    layers.push(new ReLU());
    inputs = width;
  }
  layers.push(new Linear(inputs, 10, { dtype }));
  return new Sequential(...layers);
}
