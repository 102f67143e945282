import { checkOptions, type DType, type Tensor } from '@normgrad/core';
import { conv1d, conv2d, convTranspose2d } from '../functional/conv.js';
import { Module } from '../module.js';
import { pythonBool, pythonTuple } from '../repr.js';
import { pair, renameOp } from '../util.js';
import { uniformParameter } from './init.js';

export interface Conv2dLayerOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  /** Spacing between kernel elements. Default 1. */
  dilation?: number | [number, number];
  /** Channel groups, each convolved separately (groups = inChannels: depthwise). Default 1. */
  groups?: number;
  bias?: boolean;
  dtype?: DType;
}

export interface Conv1dLayerOptions {
  stride?: number;
  padding?: number;
  dilation?: number;
  groups?: number;
  bias?: boolean;
  dtype?: DType;
}

export interface ConvTranspose2dLayerOptions extends Conv2dLayerOptions {
  /** Extra rows/columns on one side of the output, smaller than stride or dilation. Default 0. */
  outputPadding?: number | [number, number];
}

const convOptionKeys = ['stride', 'padding', 'dilation', 'groups', 'bias', 'dtype'];

function checkChannels(layer: string, inChannels: number, outChannels: number, groups: number): void {
  for (const [name, value] of [['inChannels', inChannels], ['outChannels', outChannels]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`${layer}: ${name} must be a positive integer, got ${value}`);
  }
  if (!Number.isInteger(groups) || groups < 1) throw new Error(`${layer}: groups must be a positive integer, got ${groups}`);
  if (inChannels % groups !== 0) throw new Error(`${layer}: inChannels (${inChannels}) must be divisible by groups (${groups})`);
  if (outChannels % groups !== 0) throw new Error(`${layer}: outChannels (${outChannels}) must be divisible by groups (${groups})`);
}

/** PyTorch's _ConvNd.extra_repr: options that differ from their defaults are listed. */
function convRepr(
  inChannels: number,
  outChannels: number,
  kernel: number[],
  stride: number[],
  padding: number[],
  dilation: number[],
  groups: number,
  bias: boolean,
  outputPadding: number[] | null = null,
): string {
  let text = `${inChannels}, ${outChannels}, kernel_size=${pythonTuple(kernel)}, stride=${pythonTuple(stride)}`;
  if (padding.some((p) => p !== 0)) text += `, padding=${pythonTuple(padding)}`;
  if (dilation.some((d) => d !== 1)) text += `, dilation=${pythonTuple(dilation)}`;
  if (outputPadding && outputPadding.some((p) => p !== 0)) text += `, output_padding=${pythonTuple(outputPadding)}`;
  if (groups !== 1) text += `, groups=${groups}`;
  if (!bias) text += `, bias=${pythonBool(false)}`;
  return text;
}

/**
 * 2-D convolution over (N, Cin, H, W), weight (Cout, Cin / groups, kh, kw). PyTorch's default
 * initialization: weight and bias uniform in [-1/sqrt(fanIn), 1/sqrt(fanIn)) with
 * fanIn = Cin / groups * kh * kw (kaiming_uniform with a = sqrt(5)).
 */
export class Conv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  weight: Tensor;
  bias: Tensor | null;

  constructor(inChannels: number, outChannels: number, kernelSize: number | [number, number], options: Conv2dLayerOptions = {}) {
    super();
    const layer = new.target.name;
    checkOptions(layer, options, convOptionKeys);
    const groups = options.groups ?? 1;
    checkChannels(layer, inChannels, outChannels, groups);
    const dtype = options.dtype ?? 'float32';
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = pair(layer, 'kernelSize', kernelSize, 1);
    this.stride = pair(layer, 'stride', options.stride ?? 1, 1);
    this.padding = pair(layer, 'padding', options.padding ?? 0, 0);
    this.dilation = pair(layer, 'dilation', options.dilation ?? 1, 1);
    this.groups = groups;
    const bound = 1 / Math.sqrt((inChannels / groups) * this.kernelSize[0] * this.kernelSize[1]);
    this.weight = uniformParameter([outChannels, inChannels / groups, ...this.kernelSize], bound, dtype);
    this.bias = options.bias ?? true ? uniformParameter([outChannels], bound, dtype) : null;
  }

  /** The options conv2d receives. */
  protected convOptions(): { stride: [number, number]; padding: [number, number]; dilation: [number, number]; groups: number } {
    return { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups };
  }

  forward(x: Tensor): Tensor {
    try {
      return conv2d(x, this.weight, this.bias, this.convOptions());
    } catch (error) {
      throw renameOp(error, 'conv2d', 'Conv2d');
    }
  }

  override extraRepr(): string {
    return convRepr(this.inChannels, this.outChannels, this.kernelSize, this.stride, this.padding, this.dilation, this.groups, this.bias !== null);
  }
}

function single(layer: string, name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) throw new Error(`${layer}: ${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return value;
}

/**
 * 1-D convolution over (N, Cin, L) or (Cin, L), weight (Cout, Cin / groups, k); PyTorch's
 * default initialization with fanIn = Cin / groups * k.
 */
export class Conv1d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: number;
  readonly dilation: number;
  readonly groups: number;
  weight: Tensor;
  bias: Tensor | null;

  constructor(inChannels: number, outChannels: number, kernelSize: number, options: Conv1dLayerOptions = {}) {
    super();
    checkOptions('Conv1d', options, convOptionKeys);
    const groups = options.groups ?? 1;
    checkChannels('Conv1d', inChannels, outChannels, groups);
    const dtype = options.dtype ?? 'float32';
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = single('Conv1d', 'kernelSize', kernelSize, 1);
    this.stride = single('Conv1d', 'stride', options.stride ?? 1, 1);
    this.padding = single('Conv1d', 'padding', options.padding ?? 0, 0);
    this.dilation = single('Conv1d', 'dilation', options.dilation ?? 1, 1);
    this.groups = groups;
    const bound = 1 / Math.sqrt((inChannels / groups) * this.kernelSize);
    this.weight = uniformParameter([outChannels, inChannels / groups, this.kernelSize], bound, dtype);
    this.bias = options.bias ?? true ? uniformParameter([outChannels], bound, dtype) : null;
  }

  forward(x: Tensor): Tensor {
    try {
      return conv1d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
    } catch (error) {
      throw renameOp(error, 'conv1d', 'Conv1d');
    }
  }

  override extraRepr(): string {
    return convRepr(this.inChannels, this.outChannels, [this.kernelSize], [this.stride], [this.padding], [this.dilation], this.groups, this.bias !== null);
  }
}

/**
 * 2-D transposed convolution over (N, Cin, H, W), weight (Cin, Cout / groups, kh, kw) (see
 * convTranspose2d). PyTorch's default initialization with fanIn = weight.shape[1] * kh * kw
 * = Cout / groups * kh * kw.
 */
export class ConvTranspose2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly outputPadding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  weight: Tensor;
  bias: Tensor | null;

  constructor(inChannels: number, outChannels: number, kernelSize: number | [number, number], options: ConvTranspose2dLayerOptions = {}) {
    super();
    const layer = 'ConvTranspose2d';
    checkOptions(layer, options, [...convOptionKeys, 'outputPadding']);
    const groups = options.groups ?? 1;
    checkChannels(layer, inChannels, outChannels, groups);
    const dtype = options.dtype ?? 'float32';
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = pair(layer, 'kernelSize', kernelSize, 1);
    this.stride = pair(layer, 'stride', options.stride ?? 1, 1);
    this.padding = pair(layer, 'padding', options.padding ?? 0, 0);
    this.outputPadding = pair(layer, 'outputPadding', options.outputPadding ?? 0, 0);
    this.dilation = pair(layer, 'dilation', options.dilation ?? 1, 1);
    for (const axis of [0, 1] as const) {
      if (this.outputPadding[axis] >= Math.max(this.stride[axis], this.dilation[axis])) {
        throw new Error(`${layer}: outputPadding ${pythonTuple(this.outputPadding)} must be smaller than either stride ${pythonTuple(this.stride)} or dilation ${pythonTuple(this.dilation)}`);
      }
    }
    this.groups = groups;
    const bound = 1 / Math.sqrt((outChannels / groups) * this.kernelSize[0] * this.kernelSize[1]);
    this.weight = uniformParameter([inChannels, outChannels / groups, ...this.kernelSize], bound, dtype);
    this.bias = options.bias ?? true ? uniformParameter([outChannels], bound, dtype) : null;
  }

  forward(x: Tensor): Tensor {
    try {
      return convTranspose2d(x, this.weight, this.bias, {
        stride: this.stride,
        padding: this.padding,
        outputPadding: this.outputPadding,
        dilation: this.dilation,
        groups: this.groups,
      });
    } catch (error) {
      throw renameOp(error, 'convTranspose2d', 'ConvTranspose2d');
    }
  }

  override extraRepr(): string {
    return convRepr(this.inChannels, this.outChannels, this.kernelSize, this.stride, this.padding, this.dilation, this.groups, this.bias !== null, this.outputPadding);
  }
}
