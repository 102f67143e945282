import { describe, expect, it } from 'vitest';
import {
  BatchRenorm1d,
  BatchRenorm2d,
  ConditionalBatchNorm2d,
  Conv2d,
  DynamicTanh,
  EvoNorm2dB0,
  EvoNorm2dS0,
  FilterResponseNorm2d,
  GhostBatchNorm1d,
  GhostBatchNorm2d,
  GlobalResponseNorm,
  IterNorm,
  Linear,
  LocalResponseNorm,
  ScaleNorm,
  Sequential,
  SwitchableNorm1d,
  SwitchableNorm2d,
  WSConv2d,
  spectralNorm,
  weightNorm,
  type Module,
} from '../src/index.js';

describe('research-kit layers print their settings in PyTorch\'s style', () => {
  // PyTorch 1.13's str() of the same module, where PyTorch has the layer
  const asPyTorch: [string, () => Module, string][] = [
    ['LocalResponseNorm defaults', () => new LocalResponseNorm(5), 'LocalResponseNorm(5, alpha=0.0001, beta=0.75, k=1.0)'],
    ['LocalResponseNorm', () => new LocalResponseNorm(3, { alpha: 2e-4, beta: 0.5, k: 2.5 }), 'LocalResponseNorm(3, alpha=0.0002, beta=0.5, k=2.5)'],
    // torch.nn.utils.weight_norm / spectral_norm leave the module's string as it was
    ['weightNorm(Linear)', () => weightNorm(new Linear(3, 4)), 'Linear(in_features=3, out_features=4, bias=True)'],
    ['weightNorm(Conv2d), dim null', () => weightNorm(new Conv2d(2, 3, 3, { padding: 1 }), { dim: null }), 'Conv2d(2, 3, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))'],
    ['spectralNorm(Conv2d)', () => spectralNorm(new Conv2d(2, 3, 3, { padding: 1 })), 'Conv2d(2, 3, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))'],
  ];
  // No PyTorch counterpart (timm's EvoNorm, FilterResponseNorm and GlobalResponseNorm print no settings): the
  // constructor's arguments in PyTorch's format, options in snake_case
  const ownFormat: [string, () => Module, string][] = [
    ['GhostBatchNorm1d', () => new GhostBatchNorm1d(4, { virtualBatchSize: 8 }), 'GhostBatchNorm1d(4, virtual_batch_size=8, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)'],
    ['GhostBatchNorm2d', () => new GhostBatchNorm2d(3, { virtualBatchSize: 2, momentum: null, affine: false, trackRunningStats: false, eps: 1e-3 }),
      'GhostBatchNorm2d(3, virtual_batch_size=2, eps=0.001, momentum=None, affine=False, track_running_stats=False)'],
    ['DynamicTanh', () => new DynamicTanh(8), 'DynamicTanh(normalized_shape=(8,), alpha_init_value=0.5)'],
    ['DynamicTanh 2-D shape', () => new DynamicTanh([2, 3], { alphaInit: 1 }), 'DynamicTanh(normalized_shape=(2, 3), alpha_init_value=1.0)'],
    ['ScaleNorm', () => new ScaleNorm(Math.sqrt(8), { eps: 1e-6 }), 'ScaleNorm(eps=1e-06)'],
    ['GlobalResponseNorm', () => new GlobalResponseNorm(16), 'GlobalResponseNorm(16, eps=1e-06)'],
    ['FilterResponseNorm2d', () => new FilterResponseNorm2d(4, { learnableEps: true }), 'FilterResponseNorm2d(4, eps=1e-06, learnable_eps=True)'],
    ['EvoNorm2dB0', () => new EvoNorm2dB0(8), 'EvoNorm2dB0(8, eps=0.001, momentum=0.1)'],
    ['EvoNorm2dS0', () => new EvoNorm2dS0(8, { groups: 4 }), 'EvoNorm2dS0(8, groups=4, eps=1e-05)'],
    ['IterNorm', () => new IterNorm(8, { numGroups: 2, iterations: 3, affine: false }), 'IterNorm(8, num_groups=2, iterations=3, momentum=0.1, eps=1e-05, affine=False)'],
    ['ConditionalBatchNorm2d', () => new ConditionalBatchNorm2d(4, 10), 'ConditionalBatchNorm2d(4, num_classes=10, eps=1e-05, momentum=0.1, track_running_stats=True)'],
    ['SwitchableNorm1d', () => new SwitchableNorm1d(3), 'SwitchableNorm1d(3, eps=1e-05, momentum=0.1, affine=True, using_batch_stats=True, track_running_stats=True)'],
    ['SwitchableNorm2d without the BN branch', () => new SwitchableNorm2d(3, { usingBatchStats: false }),
      'SwitchableNorm2d(3, eps=1e-05, momentum=0.1, affine=True, using_batch_stats=False, track_running_stats=False)'],
    ['BatchRenorm1d', () => new BatchRenorm1d(5), 'BatchRenorm1d(5, eps=0.001, momentum=0.01, affine=True, r_max=3.0, d_max=5.0, warmup_steps=0)'],
    ['BatchRenorm2d', () => new BatchRenorm2d(2, { rMax: 1.5, dMax: 0.5, warmupSteps: 100 }), 'BatchRenorm2d(2, eps=0.001, momentum=0.01, affine=True, r_max=1.5, d_max=0.5, warmup_steps=100)'],
    ['WSConv2d', () => new WSConv2d(3, 8, 3, { padding: 1, bias: false }), 'WSConv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False, eps=1e-05)'],
  ];

  it.each([...asPyTorch, ...ownFormat])('%s', (_label, build, expected) => {
    expect(String(build())).toBe(expected);
  });

  it('BatchRenorm prints its current rMax and dMax (plain fields relaxed during training)', () => {
    const layer = new BatchRenorm2d(2, { rMax: 1, dMax: 0 });
    layer.rMax = 2.25;
    layer.dMax = 1;
    expect(layer.toString()).toBe('BatchRenorm2d(2, eps=0.001, momentum=0.01, affine=True, r_max=2.25, d_max=1.0, warmup_steps=0)');
  });

  it('inside a container, as PyTorch nests them', () => {
    const model = new Sequential(weightNorm(new Linear(3, 4)), new LocalResponseNorm(2, { alpha: 1e-3, beta: 0.5 }), new DynamicTanh(4));
    expect(String(model)).toBe(
      'Sequential(\n  (0): Linear(in_features=3, out_features=4, bias=True)\n  (1): LocalResponseNorm(2, alpha=0.001, beta=0.5, k=1.0)\n  (2): DynamicTanh(normalized_shape=(4,), alpha_init_value=0.5)\n)',
    );
  });
});
