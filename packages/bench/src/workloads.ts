/**
 * The workloads of ../shared/BENCHMARKS.md (W1–W6), W7/W7b (the demo's convnet), W8 (a
 * Hessian-vector product), W10 (1,000 tiny ops) and W11 (per-sample gradients), their sizes,
 * and the seeded float32 data every system shares.
 */

// core's seeded generator (mulberry32, Box–Muller normals) makes the data every system gets
import { RandomGenerator as SeededRandom } from '@normgrad/core';

export type WorkloadId = 'W1' | 'W2' | 'W3' | 'W4' | 'W5' | 'W6' | 'W7' | 'W7b' | 'W8' | 'W10' | 'W11';
export const allWorkloadIds: readonly WorkloadId[] = ['W1', 'W2', 'W3', 'W4', 'W5', 'W6', 'W7', 'W7b', 'W8', 'W10', 'W11'];

export interface Sizes {
  /** W1 BatchNorm2d input (N, C, H, W). */
  batchNorm: [number, number, number, number];
  /** W2 LayerNorm input (rows, features), normalized over the last dim. */
  layerNorm: [number, number];
  /** W3 GroupNorm input (N, C, H, W) and group count. */
  groupNorm: [number, number, number, number];
  groups: number;
  /** W4 MLP widths: input, hidden, hidden, classes; and the batch size. */
  mlp: [number, number, number, number];
  batch: number;
  /** W5 square matmul n × n × n. */
  matmul: number;
  /** W6 element count. */
  elementwise: number;
  /** W7/W7b: the demo's convnet on square single-channel images; channels of its two conv blocks; batch sizes of W7 and W7b. */
  convnet: { imageSize: number; channels: [number, number]; classes: number; batch: number; smallBatch: number };
  /** W10: the length of every tensor and the number of 4-op blocks (4 · blocks ops, then sum and backward). */
  tinyOps: { length: number; blocks: number };
  /** W11: per-sample gradients of the W4 widths with LayerNorm, over a batch of this size. */
  perSampleBatch: number;
}

export const fullSizes: Sizes = {
  batchNorm: [32, 64, 32, 32],
  layerNorm: [8192, 768],
  groupNorm: [32, 64, 32, 32],
  groups: 8,
  mlp: [784, 256, 256, 10],
  batch: 128,
  matmul: 1024,
  elementwise: 4 * 1024 * 1024,
  convnet: { imageSize: 14, channels: [8, 16], classes: 10, batch: 32, smallBatch: 2 },
  tinyOps: { length: 4, blocks: 250 },
  perSampleBatch: 64,
};

/** Tiny sizes for a smoke test (`--quick`): the same code paths in milliseconds. */
export const quickSizes: Sizes = {
  batchNorm: [4, 8, 6, 6],
  layerNorm: [64, 48],
  groupNorm: [4, 16, 6, 6],
  groups: 8,
  mlp: [64, 32, 32, 10],
  batch: 16,
  matmul: 64,
  elementwise: 4096,
  convnet: { imageSize: 6, channels: [4, 8], classes: 10, batch: 4, smallBatch: 2 },
  tinyOps: { length: 4, blocks: 25 },
  perSampleBatch: 4,
};

/** A float32 input shared by all systems (systems copy it; nobody mutates it). */
export interface Input {
  shape: number[];
  data: Float32Array;
}

/** How a workload's median converts to a rate, given the bytes per element of the dtype. */
export interface Throughput {
  unit: 'GFLOP/s' | 'GB/s';
  /** FLOPs or bytes of one iteration. */
  perIteration: (bytesPerElement: number) => number;
  explanation: string;
}

export interface Workload {
  id: WorkloadId;
  title: string;
  size: string;
  /** The exact computation, where the title does not say it all (printed under the report's header). */
  definition?: string;
  sizes: Sizes;
  inputs: Record<string, Input>;
  /** W4, W7, W8 and W11: class indices of the batch. */
  labels?: Int32Array;
  throughput?: Throughput;
}

const sizeOf = (shape: readonly number[]): number => shape.reduce((product, extent) => product * extent, 1);

function normalInput(random: SeededRandom, shape: number[], scale = 1, offset = 0): Input {
  const data = new Float32Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = offset + scale * random.normal();
  return { shape, data };
}

function uniformInput(random: SeededRandom, shape: number[], bound: number): Input {
  const data = new Float32Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = (2 * random.uniform() - 1) * bound;
  return { shape, data };
}

/** Inputs of a norm workload: x (mean 0.5, not centred, so the mean subtraction matters), the cotangent g, and affine parameters near 1 and 0. */
function normInputs(random: SeededRandom, shape: number[], paramShape: number[]): Record<string, Input> {
  return {
    x: normalInput(random, shape, 1, 0.5),
    g: normalInput(random, shape),
    gamma: normalInput(random, paramShape, 0.1, 1),
    beta: normalInput(random, paramShape, 0.1),
  };
}

/** Parameter names of the W4 MLP, in PyTorch's Linear layout (weight is (out, in)). */
export const mlpParameterNames = ['fc1.weight', 'fc1.bias', 'bn1.weight', 'bn1.bias', 'fc2.weight', 'fc2.bias', 'bn2.weight', 'bn2.bias', 'fc3.weight', 'fc3.bias'] as const;
export type MlpParameterName = (typeof mlpParameterNames)[number];
/**
 * Gradients compared on the first W4 step. The biases of fc1 and fc2 are left out: a BatchNorm
 * follows them, which removes any per-feature shift, so their exact gradient is zero and what
 * each system returns is rounding noise (~1e-9) that no relative error can judge.
 */
export const mlpCheckedGradients: readonly MlpParameterName[] = mlpParameterNames.filter((name) => name !== 'fc1.bias' && name !== 'fc2.bias');

function mlpInputs(random: SeededRandom, sizes: Sizes): { inputs: Record<string, Input>; labels: Int32Array } {
  const [inputs, hidden1, hidden2, classes] = sizes.mlp;
  const linear = (fanIn: number, fanOut: number): [Input, Input] => {
    const bound = 1 / Math.sqrt(fanIn); // PyTorch's default Linear initialization
    return [uniformInput(random, [fanOut, fanIn], bound), uniformInput(random, [fanOut], bound)];
  };
  const [fc1Weight, fc1Bias] = linear(inputs, hidden1);
  const [fc2Weight, fc2Bias] = linear(hidden1, hidden2);
  const [fc3Weight, fc3Bias] = linear(hidden2, classes);
  const labels = new Int32Array(sizes.batch);
  for (let i = 0; i < labels.length; i++) labels[i] = Math.floor(random.uniform() * classes);
  return {
    inputs: {
      x: normalInput(random, [sizes.batch, inputs]),
      'fc1.weight': fc1Weight,
      'fc1.bias': fc1Bias,
      'bn1.weight': normalInput(random, [hidden1], 0.1, 1),
      'bn1.bias': normalInput(random, [hidden1], 0.1),
      'fc2.weight': fc2Weight,
      'fc2.bias': fc2Bias,
      'bn2.weight': normalInput(random, [hidden2], 0.1, 1),
      'bn2.bias': normalInput(random, [hidden2], 0.1),
      'fc3.weight': fc3Weight,
      'fc3.bias': fc3Bias,
    },
    labels,
  };
}

/** Parameter names of the W7 convnet, in PyTorch's layout (conv weight (out, in, 3, 3), linear weight (out, in)). */
export const convnetParameterNames = ['conv1.weight', 'conv1.bias', 'bn1.weight', 'bn1.bias', 'conv2.weight', 'conv2.bias', 'bn2.weight', 'bn2.bias', 'fc.weight', 'fc.bias'] as const;
export type ConvnetParameterName = (typeof convnetParameterNames)[number];
/** Gradients compared on the first W7 step: not the conv biases, which a BatchNorm follows (exact gradient zero, as in W4). */
export const convnetCheckedGradients: readonly ConvnetParameterName[] = convnetParameterNames.filter((name) => name !== 'conv1.bias' && name !== 'conv2.bias');

/** Side of the images after each of the convnet's two conv (pad 1) + maxpool 2 blocks: 14 → 7 → 3. */
export const convnetFeatures = (sizes: Sizes): number => sizes.convnet.channels[1] * Math.floor(Math.floor(sizes.convnet.imageSize / 2) / 2) ** 2;

function convnetInputs(random: SeededRandom, sizes: Sizes, batch: number): { inputs: Record<string, Input>; labels: Int32Array } {
  const { imageSize, channels: [channels1, channels2], classes } = sizes.convnet;
  // PyTorch's default Conv2d and Linear initialization: uniform in ±1/sqrt(fan in), weight and bias
  const layer = (weightShape: number[]): [Input, Input] => {
    const bound = 1 / Math.sqrt(sizeOf(weightShape.slice(1)));
    return [uniformInput(random, weightShape, bound), uniformInput(random, [weightShape[0]!], bound)];
  };
  const [conv1Weight, conv1Bias] = layer([channels1, 1, 3, 3]);
  const [conv2Weight, conv2Bias] = layer([channels2, channels1, 3, 3]);
  const [fcWeight, fcBias] = layer([classes, convnetFeatures(sizes)]);
  const labels = new Int32Array(batch);
  for (let i = 0; i < labels.length; i++) labels[i] = Math.floor(random.uniform() * classes);
  return {
    inputs: {
      x: normalInput(random, [batch, 1, imageSize, imageSize]),
      'conv1.weight': conv1Weight,
      'conv1.bias': conv1Bias,
      'bn1.weight': normalInput(random, [channels1], 0.1, 1),
      'bn1.bias': normalInput(random, [channels1], 0.1),
      'conv2.weight': conv2Weight,
      'conv2.bias': conv2Bias,
      'bn2.weight': normalInput(random, [channels2], 0.1, 1),
      'bn2.bias': normalInput(random, [channels2], 0.1),
      'fc.weight': fcWeight,
      'fc.bias': fcBias,
    },
    labels,
  };
}

/** W10's inputs: x, a, b, c of one small length; a and c near 1, b near 0, so that the chain neither explodes nor vanishes. */
export const tinyOpsInputNames = ['x', 'a', 'b', 'c'] as const;

/** Parameter names of the W11 MLP: W4's with LayerNorm (ln1, ln2) where W4 has BatchNorm1d. */
export const perSampleParameterNames = ['fc1.weight', 'fc1.bias', 'ln1.weight', 'ln1.bias', 'fc2.weight', 'fc2.bias', 'ln2.weight', 'ln2.bias', 'fc3.weight', 'fc3.bias'] as const;
export type PerSampleParameterName = (typeof perSampleParameterNames)[number];
/**
 * W11's results: for every parameter the stacked per-sample gradients 'ps.<name>' (batch, ...shape),
 * except fc1.weight (the largest), for which only the per-sample L2 norms 'ps.fc1.weight.norm' (batch) are compared.
 */
export const perSampleLargeParameter: PerSampleParameterName = 'fc1.weight';

/** One-hot encoding of labels as float32 (batch, classes). */
export function oneHot(labels: Int32Array, classes: number): Float32Array {
  const encoded = new Float32Array(labels.length * classes);
  labels.forEach((label, row) => (encoded[row * classes + label] = 1));
  return encoded;
}

const shapeText = (shape: readonly number[]): string => `(${shape.join(', ')})`;

/** Each workload's offset to the seed (fixed, so that adding a workload leaves the others' data unchanged). */
const seedOffsets: Record<WorkloadId, number> = { W1: 0, W2: 1, W3: 2, W4: 3, W5: 4, W6: 5, W8: 6, W7: 7, W7b: 8, W10: 9, W11: 10 };

/** Builds a workload with its data; the same id and seed give the same numbers in every run. */
export function makeWorkload(id: WorkloadId, sizes: Sizes, seed = 20240607): Workload {
  const random = new SeededRandom(seed + seedOffsets[id]);
  const normTraffic = (shape: readonly number[]): Throughput => ({
    unit: 'GB/s',
    perIteration: (bytes) => 3 * sizeOf(shape) * bytes,
    explanation: 'minimal traffic: read x and g, write dx',
  });
  switch (id) {
    case 'W1':
      return {
        id, title: 'BatchNorm2d fwd+bwd', size: `x ${shapeText(sizes.batchNorm)}`, sizes,
        inputs: normInputs(random, [...sizes.batchNorm], [sizes.batchNorm[1]]),
        throughput: normTraffic(sizes.batchNorm),
      };
    case 'W2':
      return {
        id, title: 'LayerNorm fwd+bwd', size: `x ${shapeText(sizes.layerNorm)}`, sizes,
        inputs: normInputs(random, [...sizes.layerNorm], [sizes.layerNorm[1]]),
        throughput: normTraffic(sizes.layerNorm),
      };
    case 'W3':
      return {
        id, title: `GroupNorm(${sizes.groups}) fwd+bwd`, size: `x ${shapeText(sizes.groupNorm)}`, sizes,
        inputs: normInputs(random, [...sizes.groupNorm], [sizes.groupNorm[1]]),
        throughput: normTraffic(sizes.groupNorm),
      };
    case 'W4': {
      const { inputs, labels } = mlpInputs(random, sizes);
      return { id, title: 'MLP+BN train step (Adam)', size: `${sizes.mlp.join('-')}, batch ${sizes.batch}`, sizes, inputs, labels };
    }
    case 'W8': {
      // the W4 network, data and parameters, and a direction v (one tensor per parameter, named 'v.<parameter>')
      const { inputs, labels } = mlpInputs(random, sizes);
      for (const name of mlpParameterNames) inputs[`v.${name}`] = normalInput(random, inputs[name]!.shape);
      return { id, title: 'Hessian-vector product through MLP+BN', size: `${sizes.mlp.join('-')}, batch ${sizes.batch}`, sizes, inputs, labels };
    }
    case 'W7':
    case 'W7b': {
      const batch = id === 'W7' ? sizes.convnet.batch : sizes.convnet.smallBatch;
      const { inputs, labels } = convnetInputs(random, sizes, batch);
      const { imageSize, channels } = sizes.convnet;
      return {
        id, title: `demo convnet train step (Adam)${id === 'W7b' ? ', small batch' : ''}`,
        size: `${imageSize}×${imageSize}, channels ${channels.join('-')}, batch ${batch}`, sizes, inputs, labels,
        definition: `the study's network (packages/examples/src/study/model.ts) with BatchNorm: [conv 3×3 pad 1 → BatchNorm2d → ReLU → maxpool 2] × 2 → `
          + `flatten → linear to ${sizes.convnet.classes}; cross-entropy, backward, Adam (lr 2e-3) step. Compared: the loss and the gradients except the conv biases.`,
      };
    }
    case 'W10': {
      const { length, blocks } = sizes.tinyOps;
      return {
        id, title: `${4 * blocks} tiny ops + backward`, size: `[${length}], ${blocks} × (mul, add, tanh, mul)`, sizes,
        definition: `x, a, b, c of shape [${length}]; h₀ = x; h_{k+1} = tanh(h_k·a + b)·c for k = 0…${blocks - 1} (${4 * blocks} elementwise ops); `
          + `loss = sum(h_${blocks}); its value and its gradients with respect to x, a, b and c (normgrad: valueAndGrad; jax-js: jit(valueAndGrad); `
          + `tfjs: tf.grads; PyTorch: backward). Results compared: the loss and the four gradients.`,
        inputs: {
          x: normalInput(random, [length]),
          a: normalInput(random, [length], 0.05, 1),
          b: normalInput(random, [length], 0.05),
          c: normalInput(random, [length], 0.05, 1),
        },
      };
    }
    case 'W11': {
      const { inputs, labels } = mlpInputs(random, { ...sizes, batch: sizes.perSampleBatch });
      for (const [from, to] of [['bn1', 'ln1'], ['bn2', 'ln2']] as const) {
        for (const suffix of ['weight', 'bias'] as const) {
          inputs[`${to}.${suffix}`] = inputs[`${from}.${suffix}`]!;
          delete inputs[`${from}.${suffix}`];
        }
      }
      return {
        id, title: 'per-sample gradients, MLP+LN', size: `${sizes.mlp.join('-')}, batch ${sizes.perSampleBatch}`, sizes, inputs, labels,
        definition: `W4's MLP with LayerNorm in place of BatchNorm1d; for each of the ${sizes.perSampleBatch} examples, the gradient of `
          + `−Σ onehot·logSoftmax(model(x_i)) with respect to every parameter (normgrad: a loop of ${sizes.perSampleBatch} gradients, `
          + `its compiled form, and vmap(grad); PyTorch 1.13, which has no torch.func: its loop). Compared: every stacked per-sample gradient, fc1.weight's as per-sample norms.`,
      };
    }
    case 'W5': {
      const n = sizes.matmul;
      return {
        id, title: 'matmul', size: `${n}×${n}×${n}`, sizes,
        inputs: { a: normalInput(random, [n, n]), b: normalInput(random, [n, n]) },
        throughput: { unit: 'GFLOP/s', perIteration: () => 2 * n ** 3, explanation: '2·n³ flops' },
      };
    }
    case 'W6': {
      const n = sizes.elementwise;
      return {
        id, title: 'a·b + c, then sum', size: `${n >= 1 << 20 ? `${n / (1 << 20)}M` : n} elements`, sizes,
        // c has mean 1 so that sum(y) ≈ n is well conditioned (Σ|y| / |Σy| ≈ 1.3): a disagreement in
        // the sum then measures a summation algorithm, not cancellation in the data.
        inputs: { a: normalInput(random, [n]), b: normalInput(random, [n]), c: normalInput(random, [n], 1, 1) },
        throughput: { unit: 'GB/s', perIteration: (bytes) => 5 * n * bytes, explanation: 'read a, b, c, write y, read y for the sum' },
      };
    }
  }
}
