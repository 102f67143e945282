/** The workloads of ../shared/BENCHMARKS.md (W1–W6) and W8 (a Hessian-vector product), their sizes, and the seeded float32 data every system shares. */

// core's seeded generator (mulberry32, Box–Muller normals) makes the data every system gets
import { RandomGenerator as SeededRandom } from '@normgrad/core';

export type WorkloadId = 'W1' | 'W2' | 'W3' | 'W4' | 'W5' | 'W6' | 'W8';
export const allWorkloadIds: readonly WorkloadId[] = ['W1', 'W2', 'W3', 'W4', 'W5', 'W6', 'W8'];

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
  sizes: Sizes;
  inputs: Record<string, Input>;
  /** W4 and W8: class indices of the batch. */
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

/** One-hot encoding of labels as float32 (batch, classes). */
export function oneHot(labels: Int32Array, classes: number): Float32Array {
  const encoded = new Float32Array(labels.length * classes);
  labels.forEach((label, row) => (encoded[row * classes + label] = 1));
  return encoded;
}

const shapeText = (shape: readonly number[]): string => `(${shape.join(', ')})`;

/** Builds a workload with its data; the same id and seed give the same numbers in every run. */
export function makeWorkload(id: WorkloadId, sizes: Sizes, seed = 20240607): Workload {
  const random = new SeededRandom(seed + allWorkloadIds.indexOf(id));
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
