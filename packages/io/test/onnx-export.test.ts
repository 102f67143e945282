import { rand, randn, tensor, type Tensor } from '@normgrad/core';
import {
  AdaptiveAvgPool2d,
  AvgPool2d,
  BatchNorm1d,
  BatchNorm2d,
  BatchNorm3d,
  BatchRenorm2d,
  ConditionalBatchNorm2d,
  Conv1d,
  Conv2d,
  ConvTranspose2d,
  Dropout,
  Dropout2d,
  ELU,
  Embedding,
  EvoNorm2dB0,
  EvoNorm2dS0,
  FilterResponseNorm2d,
  Flatten,
  GELU,
  GhostBatchNorm2d,
  GlobalResponseNorm,
  GroupNorm,
  Identity,
  InstanceNorm2d,
  InstanceNorm3d,
  LayerNorm,
  LeakyReLU,
  Linear,
  MaxPool2d,
  Module,
  ReLU,
  RMSNorm,
  Sequential,
  Sigmoid,
  SiLU,
  Softmax,
  Softplus,
  SwitchableNorm2d,
  Tanh,
  WSConv2d,
} from '@normgrad/nn';
import { afterAll, describe, expect, it } from 'vitest';
import { exportOnnx } from '../src/index.js';
import { decodeModel, evalOutput, maxAbsError, randomizeState, runOnnx } from './onnx-helpers.js';

// A convnet conv → norm → relu → pool → conv → norm → relu → pool → flatten → dropout → linear
// with each norm, exported with a dynamic batch axis at opsets 13 (every norm in primitive ops)
// and 23 (LayerNormalization, RMSNormalization), run in onnxruntime at two batch sizes.
// Set ONNX_ERRORS=1 to print the errors.

type NormFactory = (channels: number, plane: number) => Module;

const norms: [string, NormFactory][] = [
  ['BatchNorm2d', (c) => new BatchNorm2d(c)],
  ['BatchNorm2d without running statistics', (c) => new BatchNorm2d(c, { trackRunningStats: false })],
  ['BatchRenorm2d', (c) => new BatchRenorm2d(c)],
  ['InstanceNorm2d', (c) => new InstanceNorm2d(c, { affine: true })],
  ['InstanceNorm2d with running statistics', (c) => new InstanceNorm2d(c, { affine: true, trackRunningStats: true })],
  ['GroupNorm', (c) => new GroupNorm(4, c)],
  ['LayerNorm', (c, plane) => new LayerNorm([c, plane, plane])],
  ['RMSNorm', (c, plane) => new RMSNorm([c, plane, plane])],
  ['SwitchableNorm2d', (c) => new SwitchableNorm2d(c)],
  ['GhostBatchNorm2d', (c) => new GhostBatchNorm2d(c, { virtualBatchSize: 2 })],
  ['FilterResponseNorm2d', (c) => new FilterResponseNorm2d(c)],
  ['EvoNorm2dB0', (c) => new EvoNorm2dB0(c)],
  ['EvoNorm2dS0', (c) => new EvoNorm2dS0(c, { groups: 4 })],
  ['GlobalResponseNorm', (c) => new GlobalResponseNorm(c)],
];

function convnet(norm: NormFactory, ConvClass: typeof Conv2d = Conv2d): Sequential {
  return new Sequential(
    new ConvClass(3, 8, 3, { padding: 1 }),
    norm(8, 8),
    new ReLU(),
    new MaxPool2d(2),
    new ConvClass(8, 8, 3, { padding: 1 }),
    norm(8, 4),
    new ReLU(),
    new AvgPool2d(2),
    new Flatten(),
    new Dropout(0.2),
    new Linear(32, 5),
  );
}

const errors: string[] = [];
afterAll(() => {
  if (process.env.ONNX_ERRORS) console.log(errors.join('\n'));
});

describe('exportOnnx: a convnet with each norm, dynamic batch, in onnxruntime (float32)', () => {
  const cases: [string, () => Sequential][] = [
    ...norms.map(([name, norm]): [string, () => Sequential] => [name, () => convnet(norm)]),
    ['WSConv2d with GroupNorm', () => convnet((c) => new GroupNorm(2, c), WSConv2d)],
  ];
  it.each(cases)('%s', async (name, make) => {
    for (const opset of [13, 23]) {
      const model = randomizeState(make(), 21);
      const bytes = exportOnnx(model, [randn([4, 3, 8, 8], { seed: 1 })], { opset, dynamicBatch: true });
      for (const batch of [4, 7]) {
        const x = randn([batch, 3, 8, 8], { seed: batch });
        const error = maxAbsError(await runOnnx(bytes, x), evalOutput(model, x));
        errors.push(`convnet with ${name} (opset ${opset}, batch ${batch}): ${error.toExponential(2)}`);
        expect(error, `opset ${opset}, batch ${batch}`).toBeLessThanOrEqual(1e-5);
      }
    }
  });
});

describe('exportOnnx: models of the Round 2 layers, dynamic batch, in onnxruntime (float32)', () => {
  // Residual blocks and attention need a forward of their own, which the walk over Sequentials
  // does not export; these are the Sequential models the new layers make.
  const cases: [string, () => Sequential, number[], (batch: number) => Tensor][] = [
    [
      'depthwise-separable convnet: Conv2d, depthwise Conv2d, BatchNorm2d, SiLU, MaxPool2d ceilMode, GELU, AdaptiveAvgPool2d, Linear, Softmax',
      () =>
        new Sequential(
          new Conv2d(3, 8, 3, { padding: 1 }),
          new BatchNorm2d(8),
          new SiLU(),
          new Conv2d(8, 8, 3, { padding: 2, dilation: 2, groups: 8 }),
          new Conv2d(8, 12, 1),
          new BatchNorm2d(12),
          new GELU({ approximate: 'tanh' }),
          new MaxPool2d(3, { stride: 2, ceilMode: true }),
          new Dropout2d(0.1),
          new AdaptiveAvgPool2d([2, 3]),
          new Flatten(),
          new Linear(72, 5),
          new Softmax(-1),
        ),
      [3, 3, 9, 11],
      (batch) => randn([batch, 3, 9, 11], { seed: batch }),
    ],
    [
      'decoder: ConvTranspose2d, InstanceNorm2d, LeakyReLU, ConvTranspose2d groups, GroupNorm, ELU, AdaptiveAvgPool2d 1',
      () =>
        new Sequential(
          new ConvTranspose2d(4, 8, 3, { stride: 2, padding: 1, outputPadding: 1 }),
          new InstanceNorm2d(8, { affine: true }),
          new LeakyReLU(0.1),
          new ConvTranspose2d(8, 6, [3, 2], { stride: 2, groups: 2 }),
          new GroupNorm(3, 6),
          new ELU(),
          new AdaptiveAvgPool2d(1),
          new Flatten(),
        ),
      [3, 4, 3, 3],
      (batch) => randn([batch, 4, 3, 3], { seed: batch }),
    ],
    [
      'sequence model: Conv1d, BatchNorm1d, Softplus, Conv1d dilated, Tanh, Flatten, Linear, Sigmoid',
      () => new Sequential(new Conv1d(4, 6, 3, { padding: 1 }), new BatchNorm1d(6), new Softplus(), new Conv1d(6, 6, 3, { dilation: 2, groups: 3 }), new Tanh(), new Flatten(), new Linear(36, 2), new Sigmoid()),
      [3, 4, 10],
      (batch) => randn([batch, 4, 10], { seed: batch }),
    ],
    [
      "token MLP: Embedding, LayerNorm, Linear, GELU, Linear, Softmax",
      () => new Sequential(new Embedding(20, 8), new LayerNorm(8), new Linear(8, 16), new GELU(), new Identity(), new Linear(16, 8), new Softmax(-1)),
      [3, 5],
      (batch) => rand([batch, 5], { seed: batch }).mul(20).to('int32'),
    ],
    [
      'volumes: BatchNorm3d, InstanceNorm3d, ReLU, Flatten, Linear',
      () => new Sequential(new BatchNorm3d(2), new InstanceNorm3d(2, { affine: true, trackRunningStats: true }), new ReLU(), new Flatten(), new Linear(2 * 3 * 4 * 4, 3)),
      [3, 2, 3, 4, 4],
      (batch) => randn([batch, 2, 3, 4, 4], { seed: batch }),
    ],
  ];
  it.each(cases)('%s', async (name, make, exampleShape, input) => {
    for (const opset of [17, 20]) {
      const model = randomizeState(make(), 31);
      const bytes = exportOnnx(model, [input(exampleShape[0]!)], { opset, dynamicBatch: true });
      for (const batch of [3, 6]) {
        const x = input(batch);
        const error = maxAbsError(await runOnnx(bytes, x), evalOutput(model, x));
        errors.push(`${name} (opset ${opset}, batch ${batch}): ${error.toExponential(2)}`);
        expect(error, `opset ${opset}, batch ${batch}`).toBeLessThanOrEqual(1e-5);
      }
    }
  });
});

describe('exportOnnx: the model file', () => {
  const model = (): Sequential => randomizeState(new Sequential(new Conv2d(3, 4, 3), new BatchNorm2d(4), new ReLU(), new Flatten(), new Linear(16, 2)), 3) as Sequential;
  const x = randn([2, 3, 4, 4], { seed: 4 });

  it('declares a symbolic batch axis only with dynamicBatch, and a fixed one runs only at the traced size', async () => {
    const m = model();
    const dynamic = decodeModel(exportOnnx(m, [x], { dynamicBatch: true })).graph;
    expect(dynamic.input[0]!.type.tensor_type.shape.dim).toEqual([{ dim_param: 'batch' }, { dim_value: 3 }, { dim_value: 4 }, { dim_value: 4 }]);
    expect(dynamic.output[0]!.type.tensor_type.shape.dim).toEqual([{ dim_param: 'batch' }, { dim_value: 2 }]);
    const fixedBytes = exportOnnx(m, [x]);
    expect(decodeModel(fixedBytes).graph.input[0]!.type.tensor_type.shape.dim[0]).toEqual({ dim_value: 2 });
    await expect(runOnnx(fixedBytes, randn([3, 3, 4, 4], { seed: 5 }))).rejects.toThrow(/dimension|Got: 3/i);
  });

  it('holds parameters and buffers as initializers named by their state-dict keys, with their values', () => {
    const m = model();
    const decoded = decodeModel(exportOnnx(m, [x]));
    const initializers = new Map(decoded.graph.initializer.map((t) => [t.name, t]));
    for (const [key, value] of Object.entries(m.stateDict())) {
      if (key.endsWith('numBatchesTracked')) continue;
      const stored = initializers.get(key);
      expect(stored, key).toBeDefined();
      expect(stored!.dims ?? [], key).toEqual(value.shape);
      expect(Array.from(new Float32Array(Uint8Array.from(stored!.raw_data).buffer)), key).toEqual(Array.from(value.toTypedArray()));
    }
    expect(decoded.opset_import).toEqual([{ version: 17 }]);
    expect(decoded.ir_version).toBe(8);
  });

  it('uses the given input and output names', async () => {
    const m = model();
    const bytes = exportOnnx(m, [x], { inputNames: ['image'], outputNames: ['logits'] });
    const error = maxAbsError(await runOnnx(bytes, x, { input: 'image', output: 'logits' }), evalOutput(m, x));
    expect(error).toBeLessThanOrEqual(1e-5);
  });

  it('exports a model that is the identity in eval (only Dropout) as Identity', async () => {
    const bytes = exportOnnx(new Sequential(new Dropout(0.3)), [x]);
    expect(decodeModel(bytes).graph.node.map((n) => n.op_type)).toEqual(['Identity']);
    expect(maxAbsError(await runOnnx(bytes, x), x)).toBe(0);
  });

  it('exports nested Sequentials, naming initializers by the nested path', async () => {
    const m = randomizeState(new Sequential(new Sequential(new Linear(4, 3), new ReLU()), new Sequential(new LayerNorm(3))), 8);
    const input = randn([5, 4], { seed: 6 });
    const bytes = exportOnnx(m, [input]);
    expect(decodeModel(bytes).graph.initializer.map((t) => t.name).sort()).toEqual(['0.0.bias', '0.0.weight', '1.0.bias', '1.0.weight']);
    expect(maxAbsError(await runOnnx(bytes, input), evalOutput(m, input))).toBeLessThanOrEqual(1e-5);
  });

  it('exports eval behaviour from a model in training mode and leaves its modes as they were', async () => {
    const m = model().train();
    (m.at(1) as Module).eval(); // a mixed state, to see it restored exactly
    const bytes = exportOnnx(m, [x]);
    expect(m.modules().map((child) => child.training)).toEqual([true, true, false, true, true, true]);
    const expected = evalOutput(m, x);
    expect(maxAbsError(await runOnnx(bytes, x), expected)).toBeLessThanOrEqual(1e-5);
  });
});

describe('exportOnnx: errors', () => {
  class Doubling extends Module {
    forward(x: Tensor): Tensor {
      return x.mul(2);
    }
  }
  class ResidualSequential extends Sequential {
    override forward(x: Tensor): Tensor {
      return super.forward(x).add(x);
    }
  }
  const x = randn([2, 4], { seed: 1 });

  it('rejects a module whose instance computes other than its class (a replaced forward), naming it', () => {
    const patched = new Linear(4, 4);
    patched.forward = (input: Tensor): Tensor => input;
    expect(() => exportOnnx(new Sequential(new ReLU(), patched), [x])).toThrow(/^exportOnnx: Linear at '1' computes something other than its class's forward/);
    const patchedSequential = new Sequential(new ReLU());
    patchedSequential.forward = (input: Tensor): Tensor => input.mul(2);
    expect(() => exportOnnx(new Sequential(patchedSequential), [x])).toThrow(/^exportOnnx: Sequential at '0' computes something other/);
  });

  it('names an unsupported layer and where it is', () => {
    expect(() => exportOnnx(new Sequential(new Linear(4, 4), new Doubling()), [x])).toThrow(/^exportOnnx: unsupported layer Doubling at '1'.*Linear, /);
    expect(() => exportOnnx(new Doubling(), [x])).toThrow(/^exportOnnx: unsupported layer Doubling at the model itself/);
    expect(() => exportOnnx(new Sequential(new Sequential(new ReLU(), new ResidualSequential(new ReLU()))), [x])).toThrow(
      /^exportOnnx: unsupported layer ResidualSequential at '0.1'/,
    );
  });

  it('rejects bad arguments and options', () => {
    const m = new Sequential(new Linear(4, 2));
    expect(() => exportOnnx(m, [x], { opSet: 17 } as never)).toThrow(/^exportOnnx: unknown option 'opSet' \(did you mean 'opset'\?\)/);
    expect(() => exportOnnx(m, [x], { opset: 12 })).toThrow(/^exportOnnx: opset must be an integer from 13 to 23, got 12/);
    expect(() => exportOnnx(m, [x], { opset: 24 })).toThrow(/got 24/);
    expect(() => exportOnnx(m, [])).toThrow(/^exportOnnx: exampleInputs must be an array of one Tensor.*got an array of 0/);
    expect(() => exportOnnx(m, [x, x])).toThrow(/got an array of 2/);
    expect(() => exportOnnx(m, [x], { inputNames: ['a', 'b'] })).toThrow(/^exportOnnx: inputNames must be an array of one non-empty name/);
    expect(() => exportOnnx(m, [x], { inputNames: ['same'], outputNames: ['same'] })).toThrow(/different names, got 'same'/);
    expect(() => exportOnnx({} as never, [x])).toThrow(/^exportOnnx: expected a Module to export, got an object \(Object\)/);
  });

  it('says why ConditionalBatchNorm2d does not export', () => {
    expect(() => exportOnnx(new Sequential(new ConditionalBatchNorm2d(3, 4)), [randn([2, 3, 4, 4], { seed: 1 })])).toThrow(
      /^exportOnnx: ConditionalBatchNorm2d at '0' does not export: its forward takes two inputs \(x and the class indices\)/,
    );
  });

  it('takes int32 indices only into Embedding', () => {
    const indices = tensor([[0, 2], [1, 1]], { dtype: 'int32' });
    expect(() => exportOnnx(new Sequential(new Linear(2, 2)), [indices])).toThrow(/^exportOnnx: Linear at '0' gets an int32 input; only Embedding takes int32 indices/);
    expect(() => exportOnnx(new Sequential(), [indices])).toThrow(/^exportOnnx: the model's output has dtype int32/);
    expect(() => exportOnnx(new Sequential(new Embedding(3, 2)), [randn([2, 2], { seed: 1 })])).toThrow(/^exportOnnx: Embedding at '0' failed on the example input of shape \[2, 2\]: Embedding: indices must be an int32 tensor/);
    const float64 = decodeModel(exportOnnx(new Sequential(new Embedding(3, 2, { dtype: 'float64' }), new LayerNorm(2, { dtype: 'float64' })), [indices])).graph;
    expect([float64.input[0]!.type.tensor_type.elem_type, float64.output[0]!.type.tensor_type.elem_type]).toEqual([6, 11]); // INT32, DOUBLE
  });

  it('reports a layer that fails on the example input, and inputs an ONNX op cannot take', () => {
    expect(() => exportOnnx(new Sequential(new Linear(4, 2), new Linear(3, 2)), [x])).toThrow(/^exportOnnx: Linear at '1' failed on the example input of shape \[2, 2\]: Linear: /);
    expect(() => exportOnnx(new Sequential(new Conv2d(3, 2, 3)), [randn([3, 5, 5], { seed: 2 })])).toThrow(
      /^exportOnnx: Conv2d at '0' exports for batched \(N, C, H, W\) inputs only, got an input of shape \[3, 5, 5\]/,
    );
    expect(() => exportOnnx(new Sequential(new Flatten(0)), [x], { dynamicBatch: true })).toThrow(/^exportOnnx: Flatten at '0' merges the batch axis/);
  });
});
