import { assignInPlace, noGrad, rand, randn, tensor, type Tensor } from '@normgrad/core';
import { Conv1d, Conv2d, ConvTranspose2d, Embedding, Linear, type Module } from '@normgrad/nn';
import ort from 'onnxruntime-node';
import { ModelProto } from '../src/onnx/onnx-proto.js';

/** Runs an exported model in onnxruntime on x and returns its one output as a float32 or float64 Tensor. */
export async function runOnnx(bytes: Uint8Array, x: Tensor, names = { input: 'input', output: 'output' }): Promise<Tensor> {
  const session = await ort.InferenceSession.create(bytes);
  const results = await session.run({ [names.input]: new ort.Tensor(x.dtype, x.toTypedArray(), x.shape) });
  const y = results[names.output];
  if (!y) throw new Error(`runOnnx: the model has no output '${names.output}'`);
  const data = y.data;
  if (!(data instanceof Float32Array || data instanceof Float64Array)) throw new Error(`runOnnx: output of type ${y.type}`);
  return tensor(data, { shape: [...y.dims], dtype: data instanceof Float64Array ? 'float64' : 'float32' });
}

/** normgrad's eval output for x (the model is left in eval mode). */
export function evalOutput(model: Module, x: Tensor): Tensor {
  model.eval();
  return noGrad(() => model.forward(x));
}

/** max |a - b|, after checking the shapes agree. */
export function maxAbsError(a: Tensor, b: Tensor): number {
  if (a.shape.join() !== b.shape.join()) throw new Error(`maxAbsError: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ`);
  const [u, v] = [a.toFloat64Array(), b.toFloat64Array()];
  let worst = 0;
  for (let i = 0; i < u.length; i++) worst = Math.max(worst, Number.isNaN(u[i]! - v[i]!) ? Infinity : Math.abs(u[i]! - v[i]!));
  return worst;
}

/**
 * Gives every parameter and buffer of `model` seeded random values of the scale training would
 * leave, so a comparison does not pass on the ones and zeros a fresh layer starts with and
 * activations stay of order one: Linear and convolution weights N(0, 1 / fanIn); norm weights
 * 1 + N(0, 0.04), biases and running means N(0, 0.04 / 0.09), running variances in [0.5, 1.5);
 * any other parameter (SwitchableNorm's mixing logits, Embedding's rows) N(0, 1).
 */
export function randomizeState(model: Module, seed: number): Module {
  let k = seed;
  const normal = (t: Tensor, std: number, mean = 0): Tensor => randn(t.shape, { seed: k++, dtype: t.dtype }).mul(std).add(mean);
  noGrad(() => {
    for (const layer of model.modules().filter((m) => m.children().length === 0)) {
      const isAffineMap = layer instanceof Linear || layer instanceof Conv2d || layer instanceof Conv1d || layer instanceof ConvTranspose2d;
      for (const [name, t] of [...layer.namedParameters(), ...layer.namedBuffers()]) {
        let values: Tensor;
        if (isAffineMap && name === 'weight') values = normal(t, 1 / Math.sqrt(t.size / t.shape[0]!));
        else if (isAffineMap || name === 'bias') values = normal(t, 0.2);
        else if (name === 'weight' && !(layer instanceof Embedding)) values = normal(t, 0.2, 1);
        else if (name === 'runningMean') values = normal(t, 0.3);
        else if (name === 'runningVar') values = rand(t.shape, { seed: k++, dtype: t.dtype }).add(0.5);
        else values = normal(t, 1);
        assignInPlace(t, values);
      }
    }
  });
  return model;
}

/** The decoded model, to look at its nodes, initializers and declared shapes. */
export function decodeModel(bytes: Uint8Array): DecodedModel {
  return ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, bytes: Array, defaults: false }) as DecodedModel;
}

interface DecodedDimension {
  dim_value?: number;
  dim_param?: string;
}

interface DecodedValueInfo {
  name: string;
  type: { tensor_type: { elem_type: number; shape: { dim: DecodedDimension[] } } };
}

export interface DecodedModel {
  ir_version: number;
  opset_import: { domain?: string; version: number }[];
  graph: {
    node: { name: string; op_type: string; input: string[]; output: string[] }[];
    initializer: { name: string; dims?: number[]; data_type: number; raw_data: number[] }[];
    input: DecodedValueInfo[];
    output: DecodedValueInfo[];
  };
}
