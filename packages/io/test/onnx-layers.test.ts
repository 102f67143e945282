import { rand, randn, type DType, type Tensor } from '@normgrad/core';
import * as nn from '@normgrad/nn';
import { afterAll, describe, expect, it } from 'vitest';
import { exportOnnx } from '../src/index.js';
import { exportableLayerNames } from '../src/onnx/layers.js';
import { decodeModel, evalOutput, maxAbsError, randomizeState, runOnnx } from './onnx-helpers.js';

// Every exportable layer alone, with random parameters and statistics, exported once with a
// dynamic batch axis (fixedBatch: without), run in onnxruntime at the traced batch size and at a
// larger one, and compared with normgrad's eval output. Set ONNX_ERRORS=1 to print the errors.

interface CaseOptions {
  /** Default [17]. */
  opsets?: number[];
  /** Export with a fixed batch axis and run at the traced size only. */
  fixedBatch?: boolean;
  /** The input: int32 indices below this bound instead of N(0, 1) values. */
  indicesBelow?: number;
}

type LayerCase = [name: string, make: (dtype: DType) => nn.Module, inputShape: number[], options?: CaseOptions];

const layerCases: LayerCase[] = [
  ['Linear', (dtype) => new nn.Linear(5, 3, { dtype }), [4, 5]],
  ['Linear without bias', (dtype) => new nn.Linear(5, 3, { bias: false, dtype }), [4, 5]],
  ['Linear on (N, L, C)', (dtype) => new nn.Linear(5, 3, { dtype }), [2, 3, 5]],
  ['Conv2d stride 2, padding 1', (dtype) => new nn.Conv2d(3, 4, 3, { stride: 2, padding: 1, dtype }), [2, 3, 9, 9]],
  ['Conv2d 2x3 kernel, no bias', (dtype) => new nn.Conv2d(3, 4, [2, 3], { stride: [1, 2], padding: [1, 0], bias: false, dtype }), [2, 3, 6, 7]],
  ['WSConv2d', (dtype) => new nn.WSConv2d(3, 4, 3, { padding: 1, dtype }), [2, 3, 6, 6], { opsets: [13, 18] }],
  ['MaxPool2d', () => new nn.MaxPool2d(2), [2, 3, 6, 6]],
  ['MaxPool2d stride 2, padding 1', () => new nn.MaxPool2d(3, { stride: 2, padding: 1 }), [2, 3, 7, 7]],
  ['AvgPool2d', () => new nn.AvgPool2d(2), [2, 3, 6, 6]],
  ['AvgPool2d stride 2, padding 1', () => new nn.AvgPool2d(3, { stride: 2, padding: 1 }), [2, 3, 7, 7]],
  ['ReLU', () => new nn.ReLU(), [2, 3, 4]],
  ['Dropout (eval)', () => new nn.Dropout(0.5), [2, 3, 4]],
  ['Flatten', () => new nn.Flatten(), [2, 3, 4, 5]],
  ['Flatten(2)', () => new nn.Flatten(2), [2, 3, 4, 5]],
  ['Flatten(0, 1)', () => new nn.Flatten(0, 1), [2, 3, 4, 5], { fixedBatch: true }],
  ['BatchNorm1d (N, C)', (dtype) => new nn.BatchNorm1d(4, { dtype }), [6, 4]],
  ['BatchNorm1d (N, C, L)', (dtype) => new nn.BatchNorm1d(4, { dtype }), [3, 4, 5]],
  ['BatchNorm2d', (dtype) => new nn.BatchNorm2d(3, { dtype }), [2, 3, 4, 4]],
  ['BatchNorm2d affine false', (dtype) => new nn.BatchNorm2d(3, { affine: false, dtype }), [2, 3, 4, 4]],
  ['BatchNorm2d without running statistics', (dtype) => new nn.BatchNorm2d(3, { trackRunningStats: false, dtype }), [2, 3, 4, 4], { opsets: [13, 18] }],
  ['BatchRenorm1d', (dtype) => new nn.BatchRenorm1d(4, { dtype }), [6, 4]],
  ['BatchRenorm2d', (dtype) => new nn.BatchRenorm2d(3, { dtype }), [2, 3, 4, 4]],
  ['InstanceNorm1d', (dtype) => new nn.InstanceNorm1d(3, { dtype }), [2, 3, 7]],
  ['InstanceNorm2d affine', (dtype) => new nn.InstanceNorm2d(3, { affine: true, dtype }), [2, 3, 4, 4]],
  ['InstanceNorm2d with running statistics', (dtype) => new nn.InstanceNorm2d(3, { affine: true, trackRunningStats: true, dtype }), [2, 3, 4, 4]],
  ['LayerNorm', (dtype) => new nn.LayerNorm([4, 5], { dtype }), [2, 3, 4, 5], { opsets: [13, 17] }],
  ['LayerNorm without affine', (dtype) => new nn.LayerNorm(5, { elementwiseAffine: false, dtype }), [2, 3, 5], { opsets: [13, 17] }],
  ['LayerNorm without bias', (dtype) => new nn.LayerNorm(5, { bias: false, dtype }), [2, 3, 5], { opsets: [13, 17] }],
  ['GroupNorm', (dtype) => new nn.GroupNorm(2, 4, { dtype }), [2, 4, 3, 3], { opsets: [13, 18, 21] }],
  ['GroupNorm (N, C), affine false', (dtype) => new nn.GroupNorm(3, 6, { affine: false, dtype }), [4, 6]],
  ['RMSNorm', (dtype) => new nn.RMSNorm([4, 5], { dtype }), [2, 3, 4, 5], { opsets: [17, 23] }],
  ['RMSNorm eps 1e-6, no weight', (dtype) => new nn.RMSNorm(5, { eps: 1e-6, elementwiseAffine: false, dtype }), [2, 3, 5], { opsets: [17, 23] }],
  ['SwitchableNorm2d', (dtype) => new nn.SwitchableNorm2d(3, { dtype }), [2, 3, 4, 4], { opsets: [13, 18] }],
  ['SwitchableNorm2d without running statistics', (dtype) => new nn.SwitchableNorm2d(3, { trackRunningStats: false, dtype }), [2, 3, 4, 4]],
  ['SwitchableNorm2d IN and LN only', (dtype) => new nn.SwitchableNorm2d(3, { usingBatchStats: false, dtype }), [2, 3, 4, 4]],
  ['SwitchableNorm1d', (dtype) => new nn.SwitchableNorm1d(3, { dtype }), [2, 3, 6]],
  ['GhostBatchNorm1d', (dtype) => new nn.GhostBatchNorm1d(4, { virtualBatchSize: 2, dtype }), [6, 4]],
  ['GhostBatchNorm2d without running statistics', (dtype) => new nn.GhostBatchNorm2d(3, { virtualBatchSize: 1, trackRunningStats: false, dtype }), [2, 3, 4, 4]],
  ['DynamicTanh', (dtype) => new nn.DynamicTanh([4, 5], { dtype }), [2, 3, 4, 5]],
  ['ScaleNorm', (dtype) => new nn.ScaleNorm(Math.sqrt(5), { dtype }), [2, 3, 5]],
  ['LocalResponseNorm size 3 (LRN)', () => new nn.LocalResponseNorm(3, { alpha: 0.5, beta: 0.75, k: 2 }), [2, 6, 4, 4]],
  ['LocalResponseNorm size 4', () => new nn.LocalResponseNorm(4, { alpha: 0.5, beta: 0.6, k: 1.5 }), [2, 6, 3], { opsets: [13, 18] }],
  ['GlobalResponseNorm', (dtype) => new nn.GlobalResponseNorm(3, { dtype }), [2, 3, 4, 4], { opsets: [13, 18] }],
  ['FilterResponseNorm2d', (dtype) => new nn.FilterResponseNorm2d(3, { dtype }), [2, 3, 4, 4], { opsets: [13, 18] }],
  ['FilterResponseNorm2d learnable eps', (dtype) => new nn.FilterResponseNorm2d(3, { learnableEps: true, eps: 1e-3, dtype }), [2, 3, 4, 4]],
  ['EvoNorm2dB0', (dtype) => new nn.EvoNorm2dB0(4, { dtype }), [2, 4, 3, 3], { opsets: [13, 18] }],
  ['EvoNorm2dS0', (dtype) => new nn.EvoNorm2dS0(4, { groups: 2, dtype }), [2, 4, 3, 3], { opsets: [13, 18] }],
  ['weightNorm(Linear)', (dtype) => nn.weightNorm(new nn.Linear(5, 3, { dtype })), [4, 5]],
  ['spectralNorm(Conv2d)', (dtype) => nn.spectralNorm(new nn.Conv2d(3, 4, 3, { dtype })), [2, 3, 5, 5]],
  ['Conv1d stride 2, padding 1, dilation 2', (dtype) => new nn.Conv1d(3, 4, 3, { stride: 2, padding: 1, dilation: 2, dtype }), [2, 3, 11]],
  ['Conv1d groups 2, no bias', (dtype) => new nn.Conv1d(4, 6, 2, { groups: 2, bias: false, dtype }), [2, 4, 7]],
  ['Conv2d dilation 2, groups 2', (dtype) => new nn.Conv2d(4, 6, 3, { dilation: 2, groups: 2, padding: 2, dtype }), [2, 4, 8, 8]],
  ['Conv2d depthwise, stride 2', (dtype) => new nn.Conv2d(3, 6, 3, { groups: 3, padding: 1, stride: 2, dtype }), [2, 3, 7, 7]],
  ['Conv2d dilation (2, 1), depthwise', (dtype) => new nn.Conv2d(4, 4, [3, 2], { dilation: [2, 1], groups: 4, bias: false, dtype }), [2, 4, 7, 6]],
  ['ConvTranspose2d stride 2, padding 1, outputPadding 1', (dtype) => new nn.ConvTranspose2d(3, 4, 3, { stride: 2, padding: 1, outputPadding: 1, dtype }), [2, 3, 4, 4]],
  [
    'ConvTranspose2d groups 2, dilation 2, outputPadding (1, 0), no bias',
    (dtype) => new nn.ConvTranspose2d(4, 6, [2, 3], { stride: [2, 1], dilation: 2, groups: 2, outputPadding: [1, 0], bias: false, dtype }),
    [2, 4, 3, 4],
  ],
  ['MaxPool2d dilation 2', () => new nn.MaxPool2d(2, { dilation: 2, stride: 1 }), [2, 3, 6, 6]],
  ['MaxPool2d ceilMode', () => new nn.MaxPool2d(3, { stride: 2, ceilMode: true }), [2, 3, 8, 8]],
  ['MaxPool2d ceilMode, a last window in the padding dropped', () => new nn.MaxPool2d(2, { stride: 2, padding: 1, ceilMode: true }), [2, 3, 5, 5]],
  ['MaxPool2d (3, 2) kernel, padding, dilation (1, 2), ceilMode', () => new nn.MaxPool2d([3, 2], { stride: [2, 3], padding: 1, dilation: [1, 2], ceilMode: true }), [2, 3, 7, 9]],
  ['AdaptiveAvgPool2d 1 (global)', () => new nn.AdaptiveAvgPool2d(1), [2, 3, 5, 4]],
  ['AdaptiveAvgPool2d (2, 3), divisible', () => new nn.AdaptiveAvgPool2d([2, 3]), [2, 3, 6, 6]],
  ['AdaptiveAvgPool2d 3, non-divisible', () => new nn.AdaptiveAvgPool2d(3), [2, 3, 7, 8]],
  ['AdaptiveAvgPool2d (4, null)', () => new nn.AdaptiveAvgPool2d([4, null]), [2, 3, 7, 5]],
  ['AdaptiveAvgPool2d (1, 3)', () => new nn.AdaptiveAvgPool2d([1, 3]), [2, 3, 5, 4]],
  ['GELU', () => new nn.GELU(), [2, 3, 4], { opsets: [17, 20] }],
  ["GELU approximate 'tanh'", () => new nn.GELU({ approximate: 'tanh' }), [2, 3, 4], { opsets: [13, 20] }],
  ['SiLU', () => new nn.SiLU(), [2, 3, 4]],
  ['LeakyReLU 0.2', () => new nn.LeakyReLU(0.2), [2, 3, 4]],
  ['ELU 0.7', () => new nn.ELU(0.7), [2, 3, 4]],
  ['Softplus', () => new nn.Softplus(), [2, 3, 4]],
  ['Softplus beta 2, threshold 1', () => new nn.Softplus(2, 1), [2, 3, 4]],
  ['Softplus beta -1', () => new nn.Softplus(-1, 0.5), [2, 3, 4]],
  ['Tanh', () => new nn.Tanh(), [2, 3, 4]],
  ['Sigmoid', () => new nn.Sigmoid(), [2, 3, 4]],
  ['Softmax(1)', () => new nn.Softmax(1), [2, 3, 4]],
  ['Softmax(-1)', () => new nn.Softmax(-1), [2, 3, 4], { opsets: [13, 17] }],
  ['Identity', () => new nn.Identity(), [2, 3, 4]],
  ['Dropout2d (eval)', () => new nn.Dropout2d(0.5), [2, 3, 4, 4]],
  ['BatchNorm3d', (dtype) => new nn.BatchNorm3d(3, { dtype }), [2, 3, 3, 4, 4]],
  ['InstanceNorm3d affine', (dtype) => new nn.InstanceNorm3d(3, { affine: true, dtype }), [2, 3, 3, 4, 4]],
  ['InstanceNorm3d with running statistics', (dtype) => new nn.InstanceNorm3d(3, { trackRunningStats: true, dtype }), [2, 3, 3, 4, 4]],
  ['Embedding', (dtype) => new nn.Embedding(10, 4, { dtype }), [3, 5], { indicesBelow: 10 }],
  ['Embedding paddingIdx 0', (dtype) => new nn.Embedding(6, 3, { paddingIdx: 0, dtype }), [4], { indicesBelow: 6 }],
];

const errors: string[] = [];
afterAll(() => {
  if (process.env.ONNX_ERRORS) console.log(errors.join('\n'));
});

function inputFor(shape: number[], seed: number, options: CaseOptions): Tensor {
  if (options.indicesBelow === undefined) return randn(shape, { seed });
  return rand(shape, { seed }).mul(options.indicesBelow).to('int32');
}

describe('exportOnnx: each layer alone in onnxruntime (float32)', () => {
  it.each(layerCases)('%s', async (name, make, inputShape, options = {}) => {
    const { opsets = [17], fixedBatch = false } = options;
    for (const opset of opsets) {
      const model = randomizeState(make('float32'), 11);
      const bytes = exportOnnx(model, [inputFor(inputShape, 3, options)], { opset, dynamicBatch: !fixedBatch });
      for (const batch of fixedBatch ? [inputShape[0]!] : [inputShape[0]!, inputShape[0]! + 3]) {
        const x = inputFor([batch, ...inputShape.slice(1)], batch, options);
        const error = maxAbsError(await runOnnx(bytes, x), evalOutput(model, x));
        errors.push(`${name} (opset ${opset}, batch ${batch}): ${error.toExponential(2)}`);
        expect(error, `opset ${opset}, batch ${batch}`).toBeLessThanOrEqual(1e-5);
      }
    }
  });

  it('has a case for every exportable layer class', () => {
    const covered = new Set(layerCases.map(([, make]) => make('float32').constructor.name));
    expect(exportableLayerNames().filter((name) => !covered.has(name))).toEqual([]);
  });
});

describe('exportOnnx: float64', () => {
  // onnxruntime's CPU provider has double kernels for these ops (not for Conv, AveragePool and
  // InstanceNormalization, see docs/onnx.md).
  it.each<[string, () => nn.Module, number[]]>([
    [
      'Linear, BatchNorm1d, ReLU, LayerNorm, RMSNorm',
      () => new nn.Sequential(new nn.Linear(6, 8, { dtype: 'float64' }), new nn.BatchNorm1d(8, { dtype: 'float64' }), new nn.ReLU(), new nn.LayerNorm(8, { dtype: 'float64' }), new nn.RMSNorm(8, { dtype: 'float64' }), new nn.Linear(8, 4, { dtype: 'float64' })),
      [5, 6],
    ],
    [
      'MaxPool2d, GroupNorm, SwitchableNorm2d, BatchNorm2d, LayerNorm, Flatten, Linear',
      () =>
        new nn.Sequential(
          new nn.MaxPool2d(2),
          new nn.GroupNorm(2, 4, { dtype: 'float64' }),
          new nn.SwitchableNorm2d(4, { dtype: 'float64' }),
          new nn.BatchNorm2d(4, { dtype: 'float64' }),
          new nn.LayerNorm([4, 3, 3], { dtype: 'float64' }),
          new nn.Flatten(),
          new nn.Linear(36, 3, { dtype: 'float64' }),
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
  const opTypes = (model: nn.Module, shape: number[], opset: number): string[] =>
    decodeModel(exportOnnx(model, [randn(shape, { seed: 1 })], { opset })).graph.node.map((n) => n.op_type);

  it('uses LayerNormalization from opset 17 and RMSNormalization from opset 23, primitive ops before', () => {
    expect(opTypes(new nn.LayerNorm(5), [2, 5], 17)).toEqual(['LayerNormalization']);
    expect(opTypes(new nn.LayerNorm(5), [2, 5], 13)).not.toContain('LayerNormalization');
    expect(opTypes(new nn.RMSNorm(5), [2, 5], 23)).toEqual(['RMSNormalization']);
    expect(opTypes(new nn.RMSNorm(5), [2, 5], 22)).not.toContain('RMSNormalization');
  });

  it('uses Gelu from opset 20 (primitive ops before), GlobalAveragePool for a 1×1 AdaptiveAvgPool2d, Gather for Embedding', () => {
    expect(opTypes(new nn.GELU({ approximate: 'tanh' }), [2, 5], 20)).toEqual(['Gelu']);
    expect(opTypes(new nn.GELU(), [2, 5], 19)).toEqual(['Mul', 'Erf', 'Add', 'Mul', 'Mul']);
    expect(opTypes(new nn.AdaptiveAvgPool2d(1), [2, 3, 4, 4], 17)).toEqual(['GlobalAveragePool']);
    expect(opTypes(new nn.AdaptiveAvgPool2d([2, 2]), [2, 3, 4, 4], 17)).toEqual(['AveragePool', 'AveragePool']);
    const indices = rand([2, 3], { seed: 1 }).mul(5).to('int32');
    const embedding = decodeModel(exportOnnx(new nn.Embedding(5, 2), [indices])).graph;
    expect(embedding.node.map((n) => n.op_type)).toEqual(['Gather']);
    expect(embedding.input[0]!.type.tensor_type.elem_type).toBe(6); // INT32
  });

  it('maps BatchNorm, BatchRenorm and InstanceNorm with running statistics to BatchNormalization, InstanceNorm to InstanceNormalization', () => {
    expect(opTypes(new nn.BatchNorm2d(3), [2, 3, 4, 4], 17)).toEqual(['BatchNormalization']);
    expect(opTypes(new nn.BatchRenorm2d(3), [2, 3, 4, 4], 17)).toEqual(['BatchNormalization']);
    expect(opTypes(new nn.InstanceNorm2d(3, { trackRunningStats: true }), [2, 3, 4, 4], 17)).toEqual(['BatchNormalization']);
    expect(opTypes(new nn.InstanceNorm2d(3), [2, 3, 4, 4], 17)).toEqual(['InstanceNormalization']);
  });

  it('decomposes GroupNorm at every opset, so float32 stays accurate at large means', async () => {
    expect(opTypes(new nn.GroupNorm(2, 4), [2, 4, 3, 3], 21)).not.toContain('GroupNormalization');
    // Inputs around 1e4 carry float32 rounding of about 1e-3; a variance taken as E[x²] - E[x]²
    // would lose every digit here (onnxruntime's GroupNormalization gives NaN).
    const model = randomizeState(new nn.Sequential(new nn.GroupNorm(2, 4), new nn.LayerNorm([4, 3, 3]), new nn.SwitchableNorm2d(4), new nn.InstanceNorm2d(4)), 7);
    const x = randn([2, 4, 3, 3], { seed: 9 }).mul(3).add(1e4);
    const error = maxAbsError(await runOnnx(exportOnnx(model, [x], { opset: 21 }), x), evalOutput(model, x));
    errors.push(`GroupNorm, LayerNorm, SwitchableNorm2d, InstanceNorm2d at mean 1e4 (opset 21): ${error.toExponential(2)}`);
    expect(error).toBeLessThanOrEqual(1e-2);
  });
});
