import { BatchNorm2d, BatchRenorm2d, Conv2d, Flatten, GroupNorm, InstanceNorm2d, LayerNorm, Linear, MaxPool2d, ReLU, Sequential, type Module } from '@normgrad/nn';

/** One normalization the study compares: how to build it after a conv with `channels` outputs of size height x width. */
export interface NormKind {
  /** Used on the command line (`--norms batch,group`) and in file names. */
  key: string;
  /** Used in tables and plot legends. */
  label: string;
  make: ((channels: number, height: number, width: number) => Module) | null;
}

/** The normalizations, in table and legend order. Adding one is one line here. */
export const NORM_KINDS: readonly NormKind[] = [
  { key: 'none', label: 'no norm', make: null },
  { key: 'batch', label: 'BatchNorm', make: (channels) => new BatchNorm2d(channels) },
  { key: 'group', label: 'GroupNorm', make: (channels) => new GroupNorm(Math.min(4, channels), channels) },
  { key: 'layer', label: 'LayerNorm', make: (channels, height, width) => new LayerNorm([channels, height, width]) },
  { key: 'instance', label: 'InstanceNorm', make: (channels) => new InstanceNorm2d(channels, { affine: true }) },
  { key: 'renorm', label: 'BatchRenorm', make: (channels) => new BatchRenorm2d(channels, { momentum: 0.1, warmupSteps: 20 }) },
];

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
