import { randn, type DType } from '@normgrad/core';
import {
  AvgPool2d,
  BatchNorm1d,
  BatchNorm2d,
  BatchRenorm1d,
  BatchRenorm2d,
  Conv2d,
  Dropout,
  DynamicTanh,
  EvoNorm2dB0,
  EvoNorm2dS0,
  FilterResponseNorm2d,
  Flatten,
  GhostBatchNorm1d,
  GhostBatchNorm2d,
  GlobalResponseNorm,
  GroupNorm,
  InstanceNorm1d,
  InstanceNorm2d,
  LayerNorm,
  Linear,
  LocalResponseNorm,
  MaxPool2d,
  ReLU,
  RMSNorm,
  ScaleNorm,
  Sequential,
  SwitchableNorm1d,
  SwitchableNorm2d,
  WSConv2d,
  spectralNorm,
  weightNorm,
  type Module,
} from '@normgrad/nn';
import { afterAll, describe, expect, it } from 'vitest';
import { exportOnnx } from '../src/index.js';
import { decodeModel, evalOutput, maxAbsError, randomizeState, runOnnx } from './onnx-helpers.js';

// Every exportable layer alone, with random parameters and statistics, run in onnxruntime and
// compared with normgrad's eval output. Set ONNX_ERRORS=1 to print the errors.

type LayerCase = [name: string, make: (dtype: DType) => Module, inputShape: number[], opsets: number[]];

const layerCases: LayerCase[] = [
  ['Linear', (dtype) => new Linear(5, 3, { dtype }), [4, 5], [17]],
  ['Linear without bias', (dtype) => new Linear(5, 3, { bias: false, dtype }), [4, 5], [17]],
  ['Linear on (N, L, C)', (dtype) => new Linear(5, 3, { dtype }), [2, 3, 5], [17]],
  ['Conv2d stride 2, padding 1', (dtype) => new Conv2d(3, 4, 3, { stride: 2, padding: 1, dtype }), [2, 3, 9, 9], [17]],
  ['Conv2d 2x3 kernel, no bias', (dtype) => new Conv2d(3, 4, [2, 3], { stride: [1, 2], padding: [1, 0], bias: false, dtype }), [2, 3, 6, 7], [17]],
  ['WSConv2d', (dtype) => new WSConv2d(3, 4, 3, { padding: 1, dtype }), [2, 3, 6, 6], [13, 18]],
  ['MaxPool2d', () => new MaxPool2d(2), [2, 3, 6, 6], [17]],
  ['MaxPool2d stride 2, padding 1', () => new MaxPool2d(3, { stride: 2, padding: 1 }), [2, 3, 7, 7], [17]],
  ['AvgPool2d', () => new AvgPool2d(2), [2, 3, 6, 6], [17]],
  ['AvgPool2d stride 2, padding 1', () => new AvgPool2d(3, { stride: 2, padding: 1 }), [2, 3, 7, 7], [17]],
  ['ReLU', () => new ReLU(), [2, 3, 4], [17]],
  ['Dropout (eval)', () => new Dropout(0.5), [2, 3, 4], [17]],
  ['Flatten', () => new Flatten(), [2, 3, 4, 5], [17]],
  ['Flatten(2)', () => new Flatten(2), [2, 3, 4, 5], [17]],
  ['Flatten(0, 1)', () => new Flatten(0, 1), [2, 3, 4, 5], [17]],
  ['BatchNorm1d (N, C)', (dtype) => new BatchNorm1d(4, { dtype }), [6, 4], [17]],
  ['BatchNorm1d (N, C, L)', (dtype) => new BatchNorm1d(4, { dtype }), [3, 4, 5], [17]],
  ['BatchNorm2d', (dtype) => new BatchNorm2d(3, { dtype }), [2, 3, 4, 4], [17]],
  ['BatchNorm2d affine false', (dtype) => new BatchNorm2d(3, { affine: false, dtype }), [2, 3, 4, 4], [17]],
  ['BatchNorm2d without running statistics', (dtype) => new BatchNorm2d(3, { trackRunningStats: false, dtype }), [2, 3, 4, 4], [13, 18]],
  ['BatchRenorm1d', (dtype) => new BatchRenorm1d(4, { dtype }), [6, 4], [17]],
  ['BatchRenorm2d', (dtype) => new BatchRenorm2d(3, { dtype }), [2, 3, 4, 4], [17]],
  ['InstanceNorm1d', (dtype) => new InstanceNorm1d(3, { dtype }), [2, 3, 7], [17]],
  ['InstanceNorm2d affine', (dtype) => new InstanceNorm2d(3, { affine: true, dtype }), [2, 3, 4, 4], [17]],
  ['InstanceNorm2d with running statistics', (dtype) => new InstanceNorm2d(3, { affine: true, trackRunningStats: true, dtype }), [2, 3, 4, 4], [17]],
  ['LayerNorm', (dtype) => new LayerNorm([4, 5], { dtype }), [2, 3, 4, 5], [13, 17]],
  ['LayerNorm without affine', (dtype) => new LayerNorm(5, { elementwiseAffine: false, dtype }), [2, 3, 5], [13, 17]],
  ['LayerNorm without bias', (dtype) => new LayerNorm(5, { bias: false, dtype }), [2, 3, 5], [13, 17]],
  ['GroupNorm', (dtype) => new GroupNorm(2, 4, { dtype }), [2, 4, 3, 3], [13, 18, 21]],
  ['GroupNorm (N, C), affine false', (dtype) => new GroupNorm(3, 6, { affine: false, dtype }), [4, 6], [17]],
  ['RMSNorm', (dtype) => new RMSNorm([4, 5], { dtype }), [2, 3, 4, 5], [17, 23]],
  ['RMSNorm eps 1e-6, no weight', (dtype) => new RMSNorm(5, { eps: 1e-6, elementwiseAffine: false, dtype }), [2, 3, 5], [17, 23]],
  ['SwitchableNorm2d', (dtype) => new SwitchableNorm2d(3, { dtype }), [2, 3, 4, 4], [13, 18]],
  ['SwitchableNorm2d without running statistics', (dtype) => new SwitchableNorm2d(3, { trackRunningStats: false, dtype }), [2, 3, 4, 4], [17]],
  ['SwitchableNorm2d IN and LN only', (dtype) => new SwitchableNorm2d(3, { usingBatchStats: false, dtype }), [2, 3, 4, 4], [17]],
  ['SwitchableNorm1d', (dtype) => new SwitchableNorm1d(3, { dtype }), [2, 3, 6], [17]],
  ['GhostBatchNorm1d', (dtype) => new GhostBatchNorm1d(4, { virtualBatchSize: 2, dtype }), [6, 4], [17]],
  ['GhostBatchNorm2d without running statistics', (dtype) => new GhostBatchNorm2d(3, { virtualBatchSize: 1, trackRunningStats: false, dtype }), [2, 3, 4, 4], [17]],
  ['DynamicTanh', (dtype) => new DynamicTanh([4, 5], { dtype }), [2, 3, 4, 5], [17]],
  ['ScaleNorm', (dtype) => new ScaleNorm(Math.sqrt(5), { dtype }), [2, 3, 5], [17]],
  ['LocalResponseNorm size 3 (LRN)', () => new LocalResponseNorm(3, { alpha: 0.5, beta: 0.75, k: 2 }), [2, 6, 4, 4], [17]],
  ['LocalResponseNorm size 4', () => new LocalResponseNorm(4, { alpha: 0.5, beta: 0.6, k: 1.5 }), [2, 6, 3], [13, 18]],
  ['GlobalResponseNorm', (dtype) => new GlobalResponseNorm(3, { dtype }), [2, 3, 4, 4], [13, 18]],
  ['FilterResponseNorm2d', (dtype) => new FilterResponseNorm2d(3, { dtype }), [2, 3, 4, 4], [13, 18]],
  ['FilterResponseNorm2d learnable eps', (dtype) => new FilterResponseNorm2d(3, { learnableEps: true, eps: 1e-3, dtype }), [2, 3, 4, 4], [17]],
  ['EvoNorm2dB0', (dtype) => new EvoNorm2dB0(4, { dtype }), [2, 4, 3, 3], [13, 18]],
  ['EvoNorm2dS0', (dtype) => new EvoNorm2dS0(4, { groups: 2, dtype }), [2, 4, 3, 3], [13, 18]],
  ['weightNorm(Linear)', (dtype) => weightNorm(new Linear(5, 3, { dtype })), [4, 5], [17]],
  ['spectralNorm(Conv2d)', (dtype) => spectralNorm(new Conv2d(3, 4, 3, { dtype })), [2, 3, 5, 5], [17]],
];

const errors: string[] = [];
afterAll(() => {
  if (process.env.ONNX_ERRORS) console.log(errors.join('\n'));
});

describe('exportOnnx: each layer alone in onnxruntime (float32)', () => {
  it.each(layerCases)('%s', async (name, make, inputShape, opsets) => {
    for (const opset of opsets) {
      const model = randomizeState(make('float32'), 11);
      const x = randn(inputShape, { seed: 3 });
      const expected = evalOutput(model, x);
      const actual = await runOnnx(exportOnnx(model, [x], { opset }), x);
      const error = maxAbsError(actual, expected);
      errors.push(`${name} (opset ${opset}): ${error.toExponential(2)}`);
      expect(error, `opset ${opset}`).toBeLessThanOrEqual(1e-5);
    }
  });
});

describe('exportOnnx: float64', () => {
  // onnxruntime's CPU provider has double kernels for these ops (not for Conv, AveragePool and
  // InstanceNormalization, see docs/onnx.md).
  it.each<[string, () => Module, number[]]>([
    [
      'Linear, BatchNorm1d, ReLU, LayerNorm, RMSNorm',
      () => new Sequential(new Linear(6, 8, { dtype: 'float64' }), new BatchNorm1d(8, { dtype: 'float64' }), new ReLU(), new LayerNorm(8, { dtype: 'float64' }), new RMSNorm(8, { dtype: 'float64' }), new Linear(8, 4, { dtype: 'float64' })),
      [5, 6],
    ],
    [
      'MaxPool2d, GroupNorm, SwitchableNorm2d, BatchNorm2d, LayerNorm, Flatten, Linear',
      () =>
        new Sequential(
          new MaxPool2d(2),
          new GroupNorm(2, 4, { dtype: 'float64' }),
          new SwitchableNorm2d(4, { dtype: 'float64' }),
          new BatchNorm2d(4, { dtype: 'float64' }),
          new LayerNorm([4, 3, 3], { dtype: 'float64' }),
          new Flatten(),
          new Linear(36, 3, { dtype: 'float64' }),
        ),
      [2, 4, 6, 6],
    ],
  ])('%s', async (name, make, inputShape) => {
    for (const opset of [17, 23]) {
      const model = randomizeState(make(), 5);
      const x = randn(inputShape, { seed: 2, dtype: 'float64' });
      const bytes = exportOnnx(model, [x], { opset });
      expect(decodeModel(bytes).graph.input[0]!.type.tensor_type.elem_type).toBe(11); // DOUBLE
      const error = maxAbsError(await runOnnx(bytes, x), evalOutput(model, x));
      errors.push(`float64 ${name} (opset ${opset}): ${error.toExponential(2)}`);
      expect(error).toBeLessThanOrEqual(1e-11);
    }
  });
});

describe('exportOnnx: which ONNX ops a norm becomes', () => {
  const opTypes = (model: Module, shape: number[], opset: number): string[] =>
    decodeModel(exportOnnx(model, [randn(shape, { seed: 1 })], { opset })).graph.node.map((n) => n.op_type);

  it('uses LayerNormalization from opset 17 and RMSNormalization from opset 23, primitive ops before', () => {
    expect(opTypes(new LayerNorm(5), [2, 5], 17)).toEqual(['LayerNormalization']);
    expect(opTypes(new LayerNorm(5), [2, 5], 13)).not.toContain('LayerNormalization');
    expect(opTypes(new RMSNorm(5), [2, 5], 23)).toEqual(['RMSNormalization']);
    expect(opTypes(new RMSNorm(5), [2, 5], 22)).not.toContain('RMSNormalization');
  });

  it('maps BatchNorm, BatchRenorm and InstanceNorm with running statistics to BatchNormalization, InstanceNorm to InstanceNormalization', () => {
    expect(opTypes(new BatchNorm2d(3), [2, 3, 4, 4], 17)).toEqual(['BatchNormalization']);
    expect(opTypes(new BatchRenorm2d(3), [2, 3, 4, 4], 17)).toEqual(['BatchNormalization']);
    expect(opTypes(new InstanceNorm2d(3, { trackRunningStats: true }), [2, 3, 4, 4], 17)).toEqual(['BatchNormalization']);
    expect(opTypes(new InstanceNorm2d(3), [2, 3, 4, 4], 17)).toEqual(['InstanceNormalization']);
  });

  it('decomposes GroupNorm at every opset, so float32 stays accurate at large means', async () => {
    expect(opTypes(new GroupNorm(2, 4), [2, 4, 3, 3], 21)).not.toContain('GroupNormalization');
    // Inputs around 1e4 carry float32 rounding of about 1e-3; a variance taken as E[x²] - E[x]²
    // would lose every digit here (onnxruntime's GroupNormalization gives NaN).
    const model = randomizeState(new Sequential(new GroupNorm(2, 4), new LayerNorm([4, 3, 3]), new SwitchableNorm2d(4), new InstanceNorm2d(4)), 7);
    const x = randn([2, 4, 3, 3], { seed: 9 }).mul(3).add(1e4);
    const error = maxAbsError(await runOnnx(exportOnnx(model, [x], { opset: 21 }), x), evalOutput(model, x));
    errors.push(`GroupNorm, LayerNorm, SwitchableNorm2d, InstanceNorm2d at mean 1e4 (opset 21): ${error.toExponential(2)}`);
    expect(error).toBeLessThanOrEqual(1e-2);
  });
});
