import { formatShape, type Tensor } from '@normgrad/core';
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
  SwitchableNorm1d,
  SwitchableNorm2d,
  WSConv2d,
  machineEpsilon,
  type Module,
} from '@normgrad/nn';
import type { GraphBuilder } from './graph.js';

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

/** Conv2d's fields, with dilation and groups where the layer has them. */
type ConvFields = Conv2d & { dilation?: [number, number]; groups?: number };

function conv(g: GraphBuilder, layer: ConvFields, input: string, weight: string): string {
  const [ph, pw] = layer.padding;
  const bias = layer.bias && g.addTensor('bias', layer.bias);
  return g.node('Conv', bias ? [input, weight, bias] : [input, weight], {
    kernel_shape: { ints: layer.kernelSize },
    strides: { ints: layer.stride },
    pads: { ints: [ph, pw, ph, pw] },
    dilations: { ints: layer.dilation ?? [1, 1] },
    group: { int: layer.groups ?? 1 },
  });
}

define([Conv2d], (layer, context) => {
  requireRank('Conv2d', context, 4, '(N, C, H, W)');
  return conv(context.graph, layer, context.input, context.graph.addTensor('weight', layer.weight));
});

// Weight standardization stays in the graph, on the raw weight: Ŵ = (W - E[W]) / sqrt(Var[W] + eps)
// per output filter, so the file holds the same parameters as the state dict.
define([WSConv2d], (layer, context) => {
  requireRank('WSConv2d', context, 4, '(N, C, H, W)');
  const g = context.graph;
  const { deviation, variance } = g.moments(g.addTensor('weight', layer.weight), [1, 2, 3]);
  return conv(g, layer, context.input, g.normalize(deviation, variance, layer.eps));
});

function poolAttributes(layer: MaxPool2d | AvgPool2d) {
  const [ph, pw] = pairOf(layer.options.padding ?? 0);
  return {
    kernel_shape: { ints: pairOf(layer.kernelSize) },
    strides: { ints: pairOf(layer.options.stride ?? layer.kernelSize) },
    pads: { ints: [ph, pw, ph, pw] },
  };
}

// MaxPool2d's dilation and ceilMode options, where the layer has them, are not exported.
define([MaxPool2d], (layer, context) => {
  requireRank('MaxPool2d', context, 4, '(N, C, H, W)');
  const { dilation = 1, ceilMode = false } = layer.options as { dilation?: number | [number, number]; ceilMode?: boolean };
  if (ceilMode || pairOf(dilation).some((d) => d !== 1)) {
    throw new Error(`exportOnnx: MaxPool2d at '${context.graph.scope}' with dilation ${JSON.stringify(dilation)} or ceilMode ${ceilMode} is not exported (only dilation 1 without ceilMode)`);
  }
  return context.graph.node('MaxPool', [context.input], poolAttributes(layer));
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
  return context.graph.node('AveragePool', [context.input], { ...poolAttributes(layer), count_include_pad: { int: 1 } });
});

define([ReLU], (_layer, { graph, input }) => graph.node('Relu', [input]));

// Eval-mode dropout is the identity: no node.
define([Dropout], (_layer, { input }) => input);

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
define([BatchNorm1d, BatchNorm2d, GhostBatchNorm1d, GhostBatchNorm2d], (layer, { graph: g, input, inputExample }) => {
  if (layer.runningMean && layer.runningVar) return batchNormalization(g, input, layer, layer.runningMean, layer.runningVar);
  const rank = inputExample.ndim;
  return standardizeWithChannelAffine(g, input, rank, [0, ...range(2, rank)], layer.eps, layer.weight, layer.bias);
});

// Eval-mode batch renormalization is batch normalization with the running statistics.
define([BatchRenorm1d, BatchRenorm2d], (layer, { graph: g, input }) => batchNormalization(g, input, layer, layer.runningMean, layer.runningVar));

// InstanceNormalization uses each instance's statistics; with tracked running statistics eval
// normalizes with those instead, which is BatchNormalization's eval formula.
define([InstanceNorm1d, InstanceNorm2d], (layer, context) => {
  const [rank, layout] = layer instanceof InstanceNorm1d ? [3, '(N, C, L)'] : [4, '(N, C, H, W)'];
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
