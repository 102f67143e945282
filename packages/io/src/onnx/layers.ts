import { formatShape, type Tensor } from '@normgrad/core';
import {
  AdaptiveAvgPool2d,
  AvgPool2d,
  BatchNorm1d,
  BatchNorm2d,
  BatchNorm3d,
  BatchRenorm1d,
  BatchRenorm2d,
  ConditionalBatchNorm2d,
  Conv1d,
  Conv2d,
  ConvTranspose2d,
  Dropout,
  Dropout2d,
  DynamicTanh,
  ELU,
  Embedding,
  EvoNorm2dB0,
  EvoNorm2dS0,
  FilterResponseNorm2d,
  Flatten,
  GELU,
  GhostBatchNorm1d,
  GhostBatchNorm2d,
  GlobalResponseNorm,
  GroupNorm,
  Identity,
  InstanceNorm1d,
  InstanceNorm2d,
  InstanceNorm3d,
  LayerNorm,
  LeakyReLU,
  Linear,
  LocalResponseNorm,
  MaxPool2d,
  ReLU,
  RMSNorm,
  ScaleNorm,
  Sigmoid,
  SiLU,
  Softmax,
  Softplus,
  SwitchableNorm1d,
  SwitchableNorm2d,
  Tanh,
  WSConv2d,
  machineEpsilon,
  type Module,
} from '@normgrad/nn';
import type { Attribute, GraphBuilder } from './graph.js';

/** What a layer's exporter works with: the graph, the name of its input value, and normgrad's eval values for the example. */
export interface LayerContext {
  graph: GraphBuilder;
  /** Name of the layer's input in the graph. */
  input: string;
  /** The layer's input for the example, as normgrad computed it (its shape is the traced shape). */
  inputExample: Tensor;
}

/** Adds a layer's nodes to the graph and returns the name of its output value. */
type LayerExporter<M extends Module> = (layer: M, context: LayerContext) => string;

// One exporter per layer class turns the layer (in eval mode) into ONNX nodes. Parameters and
// buffers go in as initializers named by their state-dict keys; where ONNX has an operator with
// exactly the layer's eval semantics (and accurate numerics in onnxruntime) it is used, otherwise
// the layer's formula is written in primitive ONNX ops.

/** Exporters by the layer's exact class: a subclass may change forward, so it needs its own entry. */
const exporters = new Map<abstract new (...args: never[]) => Module, LayerExporter<Module>>();

/** Registers `exporter` for each of `layerClasses` (e.g. the 1d and 2d variants of a norm). */
function define<C extends new (...args: never[]) => Module>(layerClasses: readonly C[], exporter: LayerExporter<InstanceType<C>>): void {
  for (const layerClass of layerClasses) exporters.set(layerClass, (layer, context) => exporter(layer as InstanceType<C>, context));
}

/** The exporter of `layer`'s class, or undefined when the class has none. */
export function exporterFor(layer: Module): LayerExporter<Module> | undefined {
  return exporters.get(layer.constructor as abstract new (...args: never[]) => Module);
}

/** Layer classes that cannot export, with the reason. */
const unexportable = new Map<abstract new (...args: never[]) => Module, string>([
  [
    ConditionalBatchNorm2d,
    'its forward takes two inputs (x and the class indices) and a Sequential passes one, so it cannot stand in an exported model; ' +
      'export the BatchNorm2d part with the embeddings applied outside the model',
  ],
]);

/** Why `layer`'s class cannot export, or undefined. */
export function whyNotExportable(layer: Module): string | undefined {
  return unexportable.get(layer.constructor as abstract new (...args: never[]) => Module);
}

/** Names of the layer classes that export. */
export function exportableLayerNames(): string[] {
  return [...exporters.keys()].map((layerClass) => layerClass.name);
}

// ---- helpers ---------------------------------------------------------------------------------

function pairOf(value: number | readonly [number, number]): [number, number] {
  return typeof value === 'number' ? [value, value] : [value[0], value[1]];
}

/** ONNX's convolution and pooling ops need the batch axis: an unbatched example input is an Error. */
function requireRank(layerName: string, context: LayerContext, rank: number, layout: string): void {
  const x = context.inputExample;
  if (x.ndim !== rank) {
    throw new Error(`exportOnnx: ${layerName} at '${context.graph.scope}' exports for batched ${layout} inputs only, got an input of shape ${formatShape(x.shape)}`);
  }
}

/** A per-channel weight or bias as an initializer, or ones/zeros where ONNX requires one the layer lacks. */
function channelVector(g: GraphBuilder, key: string, t: Tensor | null, channels: number, fill: number): string {
  return t ? g.addTensor(key, t) : g.constant(key, Array<number>(channels).fill(fill), [channels]);
}

/** A constant of ones of the given shape (ONNX's required scale where the layer learns none). */
function ones(g: GraphBuilder, label: string, shape: readonly number[]): string {
  return g.constant(label, Array<number>(shape.reduce((a, b) => a * b, 1)).fill(1), shape);
}

function range(start: number, end: number): number[] {
  return Array.from({ length: end - start }, (_, i) => start + i);
}

/** The fields of the per-channel norms (BatchNorm, BatchRenorm, InstanceNorm, SwitchableNorm). */
interface ChannelNormLayer {
  numFeatures: number;
  eps: number;
  weight: Tensor | null;
  bias: Tensor | null;
}

/** BatchNormalization with the layer's running statistics (eval-mode batch norm, and the norms that reduce to it). */
function batchNormalization(g: GraphBuilder, input: string, layer: ChannelNormLayer, runningMean: Tensor, runningVar: Tensor): string {
  const scale = channelVector(g, 'weight', layer.weight, layer.numFeatures, 1);
  const bias = channelVector(g, 'bias', layer.bias, layer.numFeatures, 0);
  const mean = g.addTensor('runningMean', runningMean);
  const variance = g.addTensor('runningVar', runningVar);
  return g.node('BatchNormalization', [input, scale, bias, mean, variance], { epsilon: { float: layer.eps } });
}

/** Normalization over `axes` of the input with its own statistics, then the per-channel affine. */
function standardizeWithChannelAffine(g: GraphBuilder, input: string, rank: number, axes: number[], eps: number, weight: Tensor | null, bias: Tensor | null): string {
  const { deviation, variance } = g.moments(input, axes);
  const normalized = g.normalize(deviation, variance, eps);
  return g.channelAffine(normalized, rank, weight && g.addTensor('weight', weight), bias && g.addTensor('bias', bias));
}

// ---- layers without normalization ---------------------------------------------------------------

define([Linear], (layer, { graph: g, input, inputExample }) => {
  const weight = g.addTensor('weight', layer.weight);
  const bias = layer.bias && g.addTensor('bias', layer.bias);
  if (inputExample.ndim === 2) return g.node('Gemm', bias ? [input, weight, bias] : [input, weight], { transB: { int: 1 } });
  const y = g.node('MatMul', [input, g.node('Transpose', [weight], { perm: { ints: [1, 0] } })]);
  return bias ? g.node('Add', [y, bias]) : y;
});

/** A convolution's geometry, one entry per spatial axis. */
interface ConvGeometry {
  kernelSize: readonly number[];
  stride: readonly number[];
  padding: readonly number[];
  dilation: readonly number[];
  groups: number;
}

/** Conv and ConvTranspose attributes, with normgrad's symmetric padding. */
function convAttributes(c: ConvGeometry): Record<string, Attribute> {
  return {
    kernel_shape: { ints: c.kernelSize },
    strides: { ints: c.stride },
    pads: { ints: [...c.padding, ...c.padding] },
    dilations: { ints: c.dilation },
    group: { int: c.groups },
  };
}

/** A Conv or ConvTranspose node on `input` with the value `weight` and the layer's bias. */
function conv(g: GraphBuilder, opType: 'Conv' | 'ConvTranspose', input: string, weight: string, bias: Tensor | null, attributes: Record<string, Attribute>): string {
  const biasName = bias && g.addTensor('bias', bias);
  return g.node(opType, biasName ? [input, weight, biasName] : [input, weight], attributes);
}

define([Conv2d], (layer, context) => {
  requireRank('Conv2d', context, 4, '(N, C, H, W)');
  const g = context.graph;
  return conv(g, 'Conv', context.input, g.addTensor('weight', layer.weight), layer.bias, convAttributes(layer));
});

define([Conv1d], (layer, context) => {
  requireRank('Conv1d', context, 3, '(N, C, L)');
  const g = context.graph;
  const { kernelSize, stride, padding, dilation, groups } = layer;
  const attributes = convAttributes({ kernelSize: [kernelSize], stride: [stride], padding: [padding], dilation: [dilation], groups });
  return conv(g, 'Conv', context.input, g.addTensor('weight', layer.weight), layer.bias, attributes);
});

// ONNX's ConvTranspose has PyTorch's weight layout (Cin, Cout / groups, kh, kw) and output size
// stride · (in − 1) + outputPadding + dilation · (k − 1) + 1 − 2 · padding.
define([ConvTranspose2d], (layer, context) => {
  requireRank('ConvTranspose2d', context, 4, '(N, C, H, W)');
  const g = context.graph;
  const attributes = { ...convAttributes(layer), output_padding: { ints: layer.outputPadding } };
  return conv(g, 'ConvTranspose', context.input, g.addTensor('weight', layer.weight), layer.bias, attributes);
});

// Weight standardization stays in the graph, on the raw weight: Ŵ = (W - E[W]) / sqrt(Var[W] + eps)
// per output filter, so the file holds the same parameters as the state dict.
define([WSConv2d], (layer, context) => {
  requireRank('WSConv2d', context, 4, '(N, C, H, W)');
  const g = context.graph;
  const { deviation, variance } = g.moments(g.addTensor('weight', layer.weight), [1, 2, 3]);
  return conv(g, 'Conv', context.input, g.normalize(deviation, variance, layer.eps), layer.bias, convAttributes(layer));
});

/** Kernel, stride (default: the kernel) and padding of a pooling layer, as pairs. */
function poolGeometry(layer: MaxPool2d | AvgPool2d): { kernel: [number, number]; stride: [number, number]; padding: [number, number] } {
  return { kernel: pairOf(layer.kernelSize), stride: pairOf(layer.options.stride ?? layer.kernelSize), padding: pairOf(layer.options.padding ?? 0) };
}

/**
 * PyTorch's pooled extent along one axis (as nn's pooling): floor (or ceil) of
 * (size + 2p − span) / stride, plus one; in ceil mode a last window starting in the right padding is dropped.
 */
function pooledSize(size: number, span: number, stride: number, padding: number, ceilMode: boolean): number {
  const room = size + 2 * padding - span;
  const out = (ceilMode ? Math.ceil(room / stride) : Math.floor(room / stride)) + 1;
  return ceilMode && (out - 1) * stride >= size + padding ? out - 1 : out;
}

// ceilMode's rounded-up last window becomes extra padding at the end of the axis (MaxPool's
// padding is never the maximum), so ONNX's floor rule gives PyTorch's output size and ONNX's
// own ceil_mode is not needed. onnxruntime takes only pads smaller than the kernel; larger ones
// are a Pad node with -Infinity before the MaxPool.
define([MaxPool2d], (layer, context) => {
  requireRank('MaxPool2d', context, 4, '(N, C, H, W)');
  const { kernel, stride, padding } = poolGeometry(layer);
  const dilation = pairOf(layer.options.dilation ?? 1);
  const ceilMode = layer.options.ceilMode ?? false;
  const padEnd = [0, 1].map((axis) => {
    const size = context.inputExample.shape[axis + 2]!;
    const span = dilation[axis]! * (kernel[axis]! - 1) + 1;
    const out = pooledSize(size, span, stride[axis]!, padding[axis]!, ceilMode);
    return padding[axis]! + Math.max(0, (out - 1) * stride[axis]! + span - size - 2 * padding[axis]!);
  });
  const attributes = { kernel_shape: { ints: kernel }, strides: { ints: stride }, dilations: { ints: dilation } };
  const g = context.graph;
  if (padEnd.every((end, axis) => end < kernel[axis]!)) return g.node('MaxPool', [context.input], { ...attributes, pads: { ints: [...padding, ...padEnd] } });
  const padded = g.node('Pad', [context.input, g.int64s('pads', [0, 0, ...padding, 0, 0, ...padEnd]), g.constant('minus_infinity', [-Infinity], [])]);
  return g.node('MaxPool', [padded], attributes);
});

// AvgPool2d with its defaults (padding counted as zeros: count_include_pad = 1); its ceilMode,
// countIncludePad false and divisorOverride options are not exported.
define([AvgPool2d], (layer, context) => {
  requireRank('AvgPool2d', context, 4, '(N, C, H, W)');
  const { ceilMode = false, countIncludePad = true, divisorOverride = null } = layer.options;
  if (ceilMode || !countIncludePad || divisorOverride !== null) {
    throw new Error(
      `exportOnnx: AvgPool2d at '${context.graph.scope}' with ceilMode ${ceilMode}, countIncludePad ${countIncludePad} or divisorOverride ` +
        `${divisorOverride} is not exported (only the defaults: ceilMode false, countIncludePad true, no divisorOverride)`,
    );
  }
  const { kernel, stride, padding } = poolGeometry(layer);
  return context.graph.node('AveragePool', [context.input], {
    kernel_shape: { ints: kernel },
    strides: { ints: stride },
    pads: { ints: [...padding, ...padding] },
    count_include_pad: { int: 1 },
  });
});

/** Means over the adaptive bins [floor(i·n/out), ceil((i+1)·n/out)) of one axis, as nn's adaptiveAvgPool2d. */
function adaptiveMean(g: GraphBuilder, x: string, axis: 2 | 3, size: number, out: number): string {
  if (out === size) return x;
  if (size % out === 0) {
    const kernel = axis === 2 ? [size / out, 1] : [1, size / out];
    return g.node('AveragePool', [x], { kernel_shape: { ints: kernel }, strides: { ints: kernel } });
  }
  const bins = range(0, out).map((i) => {
    const [start, end] = [Math.floor((i * size) / out), Math.ceil(((i + 1) * size) / out)];
    return g.reduceMean(g.node('Slice', [x, g.int64s('start', [start]), g.int64s('end', [end]), g.int64s('axis', [axis])]), [axis]);
  });
  return g.node('Concat', bins, { axis: { int: axis } });
}

// A 1×1 output is GlobalAveragePool. Otherwise the rows, then the columns, are averaged over
// their bins (a cell's mean is the mean of its rows' means: the bins of one axis are of one
// size within a cell): an AveragePool where the output size divides the input's, else a Slice
// and ReduceMean per bin, concatenated.
define([AdaptiveAvgPool2d], (layer, context) => {
  requireRank('AdaptiveAvgPool2d', context, 4, '(N, C, H, W)');
  const { graph: g, input, inputExample } = context;
  const [height, width] = [inputExample.shape[2]!, inputExample.shape[3]!];
  const requested = typeof layer.outputSize === 'number' ? [layer.outputSize, layer.outputSize] : layer.outputSize;
  const [outHeight, outWidth] = [requested[0] ?? height, requested[1] ?? width];
  if (outHeight === 1 && outWidth === 1) return g.node('GlobalAveragePool', [input]);
  return adaptiveMean(g, adaptiveMean(g, input, 2, height, outHeight), 3, width, outWidth);
});

define([ReLU], (_layer, { graph, input }) => graph.node('Relu', [input]));

// Identity, and eval-mode dropout: no node.
define([Identity, Dropout, Dropout2d], (_layer, { input }) => input);

// Gelu from opset 20; before it 0.5 · x · (1 + erf(x / √2)), or with the tanh approximation
// 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³))), in primitive ops.
define([GELU], (layer, { graph: g, input }) => {
  if (g.opset >= 20) return g.node('Gelu', [input], { approximate: { string: layer.approximate } });
  const scalar = (label: string, value: number): string => g.constant(label, [value], []);
  const inner =
    layer.approximate === 'none'
      ? g.node('Erf', [g.node('Mul', [input, scalar('sqrt_half', Math.SQRT1_2)])])
      : g.node('Tanh', [
          g.node('Mul', [
            g.node('Add', [input, g.node('Mul', [g.node('Mul', [input, g.node('Mul', [input, input])]), scalar('cubic', 0.044715)])]),
            scalar('sqrt_two_over_pi', Math.sqrt(2 / Math.PI)),
          ]),
        ]);
  return g.node('Mul', [g.node('Mul', [input, g.node('Add', [inner, scalar('one', 1)])]), scalar('half', 0.5)]);
});

define([SiLU], (_layer, { graph: g, input }) => g.node('Mul', [input, g.node('Sigmoid', [input])]));
define([LeakyReLU], (layer, { graph, input }) => graph.node('LeakyRelu', [input], { alpha: { float: layer.negativeSlope } }));
define([ELU], (layer, { graph, input }) => graph.node('Elu', [input], { alpha: { float: layer.alpha } }));
define([Tanh], (_layer, { graph, input }) => graph.node('Tanh', [input]));
define([Sigmoid], (_layer, { graph, input }) => graph.node('Sigmoid', [input]));
define([Softmax], (layer, { graph, input }) => graph.node('Softmax', [input], { axis: { int: layer.dim } }));

// ONNX's Softplus is log(1 + eˣ): here Softplus(βx) / β, and x itself where βx > threshold.
define([Softplus], (layer, { graph: g, input }) => {
  const scaled = g.node('Mul', [input, g.constant('beta', [layer.beta], [])]);
  const linear = g.node('Greater', [scaled, g.constant('threshold', [layer.threshold], [])]);
  const soft = g.node('Div', [g.node('Softplus', [scaled]), g.constant('beta', [layer.beta], [])]);
  return g.node('Where', [linear, input, soft]);
});

// Embedding: the weight's rows at the int32 indices (the model's input), by Gather.
define([Embedding], (layer, { graph: g, input }) => g.node('Gather', [g.addTensor('weight', layer.weight), input], { axis: { int: 0 } }));

// Axes before startDim stay (Reshape's 0 copies them, so a dynamic batch axis passes through);
// startDim..endDim merge into one (-1 when the batch axis is among them); later axes stay as traced.
define([Flatten], (layer, { graph: g, input, inputExample }) => {
  const rank = inputExample.ndim;
  const start = layer.startDim < 0 ? layer.startDim + rank : layer.startDim;
  const end = layer.endDim < 0 ? layer.endDim + rank : layer.endDim;
  if (start === 1 && end === rank - 1) return g.node('Flatten', [input], { axis: { int: 1 } });
  if (start === 0 && end > 0 && g.dynamicBatch) {
    throw new Error(`exportOnnx: Flatten at '${g.scope}' merges the batch axis (startDim ${layer.startDim}), which dynamicBatch keeps symbolic; export without dynamicBatch`);
  }
  const shape = inputExample.shape;
  const merged = start === 0 ? -1 : shape.slice(start, end + 1).reduce((a, b) => a * b, 1);
  const target = [...shape.slice(0, start).map(() => 0), merged, ...shape.slice(end + 1)];
  return g.node('Reshape', [input, g.int64s('shape', target)]);
});

// ---- norms (eval mode) -------------------------------------------------------------------------

// BatchNorm without running statistics normalizes with the batch's statistics in eval too.
// GhostBatchNorm in eval is BatchNorm (virtual batches only split training batches).
define([BatchNorm1d, BatchNorm2d, BatchNorm3d, GhostBatchNorm1d, GhostBatchNorm2d], (layer, { graph: g, input, inputExample }) => {
  if (layer.runningMean && layer.runningVar) return batchNormalization(g, input, layer, layer.runningMean, layer.runningVar);
  const rank = inputExample.ndim;
  return standardizeWithChannelAffine(g, input, rank, [0, ...range(2, rank)], layer.eps, layer.weight, layer.bias);
});

// Eval-mode batch renormalization is batch normalization with the running statistics.
define([BatchRenorm1d, BatchRenorm2d], (layer, { graph: g, input }) => batchNormalization(g, input, layer, layer.runningMean, layer.runningVar));

// InstanceNormalization uses each instance's statistics; with tracked running statistics eval
// normalizes with those instead, which is BatchNormalization's eval formula.
const instanceNormLayouts = new Map<abstract new (...args: never[]) => Module, [rank: number, layout: string]>([
  [InstanceNorm1d, [3, '(N, C, L)']],
  [InstanceNorm2d, [4, '(N, C, H, W)']],
  [InstanceNorm3d, [5, '(N, C, D, H, W)']],
]);

define([InstanceNorm1d, InstanceNorm2d, InstanceNorm3d], (layer, context) => {
  const [rank, layout] = instanceNormLayouts.get(layer.constructor as typeof InstanceNorm1d)!;
  requireRank(layer.constructor.name, context, rank, layout);
  const g = context.graph;
  if (layer.runningMean && layer.runningVar) return batchNormalization(g, context.input, layer, layer.runningMean, layer.runningVar);
  const scale = channelVector(g, 'weight', layer.weight, layer.numFeatures, 1);
  const bias = channelVector(g, 'bias', layer.bias, layer.numFeatures, 0);
  return g.node('InstanceNormalization', [context.input, scale, bias], { epsilon: { float: layer.eps } });
});

// LayerNormalization from opset 17; before it, the same formula in primitive ops.
define([LayerNorm], (layer, { graph: g, input, inputExample }) => {
  const k = layer.normalizedShape.length;
  const weight = layer.weight && g.addTensor('weight', layer.weight);
  const bias = layer.bias && g.addTensor('bias', layer.bias);
  if (g.opset >= 17) {
    const scale = weight ?? ones(g, 'weight', layer.normalizedShape);
    return g.node('LayerNormalization', bias ? [input, scale, bias] : [input, scale], { axis: { int: -k }, epsilon: { float: layer.eps }, stash_type: { int: g.elementType } });
  }
  const { deviation, variance } = g.moments(input, range(inputExample.ndim - k, inputExample.ndim));
  const normalized = g.normalize(deviation, variance, layer.eps);
  const scaled = weight ? g.node('Mul', [normalized, weight]) : normalized;
  return bias ? g.node('Add', [scaled, bias]) : scaled;
});

// GroupNorm is exported as its formula in primitive ops at every opset, on the input viewed as
// (N, G, C / G · spatial), with the variance as the mean of squared deviations. ONNX's
// GroupNormalization (opset 21; opset 18's version had per-group scale and bias) is not used:
// onnxruntime computes its variance as E[x²] - E[x]², which in float32 loses every digit at
// large means (it returns NaN for inputs around 1e4), and normgrad's norms must not.
define([GroupNorm], (layer, { graph: g, input, inputExample }) => {
  const grouped = g.node('Reshape', [input, g.int64s('group_shape', [0, layer.numGroups, -1])]);
  const { deviation, variance } = g.moments(grouped, [2]);
  const normalized = g.normalize(deviation, variance, layer.eps);
  const restored = g.node('Reshape', [normalized, g.int64s('shape', [0, ...inputExample.shape.slice(1)])]);
  return g.channelAffine(restored, inputExample.ndim, layer.weight && g.addTensor('weight', layer.weight), layer.bias && g.addTensor('bias', layer.bias));
});

// RMSNormalization from opset 23; before it, x / sqrt(mean(x²) + eps) · weight in primitive ops.
define([RMSNorm], (layer, { graph: g, input, inputExample }) => {
  const k = layer.normalizedShape.length;
  const eps = layer.eps ?? machineEpsilon(inputExample.dtype);
  const weight = layer.weight && g.addTensor('weight', layer.weight);
  if (g.opset >= 23) {
    const scale = weight ?? ones(g, 'weight', layer.normalizedShape);
    return g.node('RMSNormalization', [input, scale], { axis: { int: -k }, epsilon: { float: eps }, stash_type: { int: g.elementType } });
  }
  const meanSquare = g.reduceMean(g.node('Mul', [input, input]), range(inputExample.ndim - k, inputExample.ndim));
  const normalized = g.normalize(input, meanSquare, eps);
  return weight ? g.node('Mul', [normalized, weight]) : normalized;
});

// Switchable normalization in primitive ops: the IN, LN (and BN: running statistics when tracked,
// else the batch's) means and variances mixed by the softmaxes of the learned logits.
define([SwitchableNorm1d, SwitchableNorm2d], (layer, { graph: g, input, inputExample }) => {
  const rank = inputExample.ndim;
  const spatial = range(2, rank);
  const statistics: { mean: string; variance: string }[] = [g.moments(input, spatial), g.moments(input, range(1, rank))];
  if (layer.usingBatchStats && layer.runningMean && layer.runningVar) {
    const channelShape = g.int64s('channel_shape', [-1, ...spatial.map(() => 1)]);
    const mean = g.node('Reshape', [g.addTensor('runningMean', layer.runningMean), channelShape]);
    const variance = g.node('Reshape', [g.addTensor('runningVar', layer.runningVar), channelShape]);
    statistics.push({ mean, variance });
  } else if (layer.usingBatchStats) {
    statistics.push(g.moments(input, [0, ...spatial]));
  }
  const mix = (logits: Tensor, key: string, statistic: 'mean' | 'variance'): string => {
    const weights = g.node('Softmax', [g.addTensor(key, logits)], { axis: { int: 0 } });
    const terms = statistics.map((s, k) => g.node('Mul', [s[statistic], g.node('Gather', [weights, g.int64s('branch', [k], [])], { axis: { int: 0 } })]));
    return terms.reduce((total, term) => g.node('Add', [total, term]));
  };
  const mean = mix(layer.meanWeight, 'meanWeight', 'mean');
  const variance = mix(layer.varWeight, 'varWeight', 'variance');
  const normalized = g.normalize(g.node('Sub', [input, mean]), variance, layer.eps);
  return g.channelAffine(normalized, rank, layer.weight && g.addTensor('weight', layer.weight), layer.bias && g.addTensor('bias', layer.bias));
});

// ---- research kit II (eval mode), in primitive ops unless ONNX has the exact op ----------------

// DyT: weight · tanh(alpha · x) + bias.
define([DynamicTanh], (layer, { graph: g, input }) => {
  const y = g.node('Tanh', [g.node('Mul', [input, g.addTensor('alpha', layer.alpha)])]);
  return g.node('Add', [g.node('Mul', [y, g.addTensor('weight', layer.weight)]), g.addTensor('bias', layer.bias)]);
});

// ScaleNorm: x · scale / sqrt(max(Σ x² over the last axis, eps²)).
define([ScaleNorm], (layer, { graph: g, input, inputExample }) => {
  const sumSquares = g.reduceSum(g.node('Mul', [input, input]), [inputExample.ndim - 1]);
  const norm = g.node('Sqrt', [g.node('Max', [sumSquares, g.constant('eps_squared', [layer.eps * layer.eps], [])])]);
  return g.node('Mul', [input, g.node('Div', [g.addTensor('scale', layer.scale), norm])]);
});

// ONNX's LRN sums the same window as PyTorch's when size is odd; for an even size PyTorch puts
// the extra channel before c (ONNX after it), so the window sum is built from padded slices.
define([LocalResponseNorm], (layer, context) => {
  const { graph: g, input, inputExample } = context;
  if (inputExample.ndim < 3) requireRank('LocalResponseNorm', context, 3, '(N, C, *)');
  if (layer.size % 2 === 1) return g.node('LRN', [input], { size: { int: layer.size }, alpha: { float: layer.alpha }, beta: { float: layer.beta }, bias: { float: layer.k } });
  const rank = inputExample.ndim;
  const channels = inputExample.shape[1]!;
  const pads = Array<number>(2 * rank).fill(0);
  [pads[1], pads[rank + 1]] = [layer.size >> 1, (layer.size - 1) >> 1];
  const padded = g.node('Pad', [g.node('Mul', [input, input]), g.int64s('pads', pads)]);
  const axis = g.int64s('channel_axis', [1]);
  const windows = range(0, layer.size).map((offset) => g.node('Slice', [padded, g.int64s('start', [offset]), g.int64s('end', [offset + channels]), axis]));
  const windowSum = windows.reduce((total, w) => g.node('Add', [total, w]));
  const base = g.node('Add', [g.node('Mul', [windowSum, g.constant('alpha_over_size', [layer.alpha / layer.size], [])]), g.constant('k', [layer.k], [])]);
  return g.node('Div', [input, g.node('Pow', [base, g.constant('beta', [layer.beta], [])])]);
});

// GRN: x + weight · (x · N) + bias, N = ‖x_c‖ / (mean over channels of ‖x_c‖ + eps), norms over the spatial axes.
define([GlobalResponseNorm], (layer, { graph: g, input, inputExample }) => {
  const rank = inputExample.ndim;
  const norm = g.node('Sqrt', [g.reduceSum(g.node('Mul', [input, input]), range(2, rank))]);
  const relative = g.node('Div', [norm, g.node('Add', [g.reduceMean(norm, [1]), g.constant('eps', [layer.eps], [])])]);
  const response = g.channelAffine(g.node('Mul', [input, relative]), rank, g.addTensor('weight', layer.weight), null);
  return g.channelAffine(g.node('Add', [response, input]), rank, null, g.addTensor('bias', layer.bias));
});

// FRN + TLU: max(weight · x / sqrt(mean_{H,W}(x²) + eps) + bias, tau), eps + |epsLearned| when learned.
define([FilterResponseNorm2d], (layer, context) => {
  requireRank('FilterResponseNorm2d', context, 4, '(N, C, H, W)');
  const { graph: g, input } = context;
  const meanSquare = g.reduceMean(g.node('Mul', [input, input]), [2, 3]);
  const eps = layer.epsLearned ? g.node('Add', [g.node('Abs', [g.addTensor('epsLearned', layer.epsLearned)]), g.constant('eps', [layer.eps], [])]) : g.constant('eps', [layer.eps], []);
  const normalized = g.node('Div', [input, g.node('Sqrt', [g.node('Add', [meanSquare, eps])])]);
  const y = g.channelAffine(normalized, 4, g.addTensor('weight', layer.weight), g.addTensor('bias', layer.bias));
  return g.node('Max', [y, g.channelView(g.addTensor('tau', layer.tau), 4)]);
});

// EvoNorm-B0 (eval): x / max(sqrt(runningVar + eps), v · x + sqrt(s²_instance + eps)) · weight + bias.
define([EvoNorm2dB0], (layer, context) => {
  requireRank('EvoNorm2dB0', context, 4, '(N, C, H, W)');
  const { graph: g, input } = context;
  const eps = g.constant('eps', [layer.eps], []);
  const batchStd = g.node('Sqrt', [g.node('Add', [g.channelView(g.addTensor('runningVar', layer.runningVar), 4), eps])]);
  const instanceStd = g.node('Sqrt', [g.node('Add', [g.moments(input, [2, 3]).variance, eps])]);
  const instanceSide = g.node('Add', [g.node('Mul', [input, g.channelView(g.addTensor('v', layer.v), 4)]), instanceStd]);
  const normalized = g.node('Div', [input, g.node('Max', [batchStd, instanceSide])]);
  return g.channelAffine(normalized, 4, g.addTensor('weight', layer.weight), g.addTensor('bias', layer.bias));
});

// EvoNorm-S0: x · sigmoid(v · x) / sqrt(s²_group + eps) · weight + bias, groups of channels as GroupNorm's.
define([EvoNorm2dS0], (layer, context) => {
  requireRank('EvoNorm2dS0', context, 4, '(N, C, H, W)');
  const { graph: g, input, inputExample } = context;
  const groupShape = g.int64s('group_shape', [0, layer.groups, -1]);
  const { variance } = g.moments(g.node('Reshape', [input, groupShape]), [2]);
  const groupStd = g.node('Sqrt', [g.node('Add', [variance, g.constant('eps', [layer.eps], [])])]);
  const numerator = g.node('Mul', [input, g.node('Sigmoid', [g.node('Mul', [input, g.channelView(g.addTensor('v', layer.v), 4)])])]);
  const grouped = g.node('Div', [g.node('Reshape', [numerator, groupShape]), groupStd]);
  const restored = g.node('Reshape', [grouped, g.int64s('shape', [0, ...inputExample.shape.slice(1)])]);
  return g.channelAffine(restored, 4, g.addTensor('weight', layer.weight), g.addTensor('bias', layer.bias));
});
