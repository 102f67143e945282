export {
  Module,
  parameter,
  buffer,
  isParameter,
  isBuffer,
  type LoadStateDictOptions,
  type ForwardHook,
  type ForwardPreHook,
  type RemovableHandle,
} from './module.js';
/** The one way to write into a buffer's (or any tensor's) storage, re-exported from core for stateful layers. */
export { assignInPlace } from '@normgrad/core';
export { functionalCall, functionalCallWithBuffers, stackModuleState } from './functional-call.js';
export { Linear, type LinearOptions } from './layers/linear.js';
export { Embedding, type EmbeddingLayerOptions } from './layers/embedding.js';
export { MultiheadAttention, type MultiheadAttentionOptions, type MultiheadAttentionCallOptions } from './layers/multihead-attention.js';
export { Conv2d, Conv1d, ConvTranspose2d, type Conv2dLayerOptions, type Conv1dLayerOptions, type ConvTranspose2dLayerOptions } from './layers/conv.js';
export { MaxPool2d, AvgPool2d, AdaptiveAvgPool2d } from './layers/pooling.js';
export { ReLU, Dropout, Flatten, Dropout2d, Identity, GELU, SiLU, LeakyReLU, ELU, Softplus, Tanh, Sigmoid, Softmax } from './layers/activation.js';
export { ModuleList, ModuleDict } from './layers/containers.js';
export { Sequential } from './layers/sequential.js';
export { BatchNorm1d, BatchNorm2d, BatchNorm3d, type BatchNormLayerOptions } from './layers/batch-norm.js';
export { InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, type InstanceNormLayerOptions } from './layers/instance-norm.js';
export { LayerNorm, type LayerNormLayerOptions } from './layers/layer-norm.js';
export { GroupNorm, type GroupNormLayerOptions } from './layers/group-norm.js';
export * as functional from './functional/index.js';
export * from './functional/index.js';
export { BatchRenorm1d, BatchRenorm2d, type BatchRenormLayerOptions } from './layers/batch-renorm.js';
export { RMSNorm, type RMSNormLayerOptions } from './layers/rms-norm.js';
export { SwitchableNorm1d, SwitchableNorm2d, type SwitchableNormLayerOptions } from './layers/switchable-norm.js';
export { WSConv2d, type WSConv2dLayerOptions } from './layers/weight-standardization.js';
export { GhostBatchNorm1d, GhostBatchNorm2d, type GhostBatchNormLayerOptions } from './layers/ghost-batch-norm.js';
export { DynamicTanh, type DynamicTanhLayerOptions } from './layers/dynamic-tanh.js';
export { ScaleNorm, type ScaleNormLayerOptions } from './layers/scale-norm.js';
export { LocalResponseNorm, type LocalResponseNormLayerOptions } from './layers/local-response-norm.js';
export { GlobalResponseNorm, type GlobalResponseNormLayerOptions } from './layers/global-response-norm.js';
export { FilterResponseNorm2d, type FilterResponseNormLayerOptions } from './layers/filter-response-norm.js';
export { weightNorm, type WeightNormOptions, type WeightNormed } from './layers/weight-norm.js';
export { spectralNorm, type SpectralNormOptions, type SpectralNormed } from './layers/spectral-norm.js';
export { EvoNorm2dB0, EvoNorm2dS0, type EvoNorm2dB0Options, type EvoNorm2dS0Options } from './layers/evo-norm.js';
export { ConditionalBatchNorm2d, type ConditionalBatchNorm2dOptions } from './layers/conditional-batch-norm.js';
export { clipGradNorm, clipGradValue, type ClipGradNormOptions } from './clip-grad.js';
export { IterNorm, type IterNormLayerOptions } from './layers/iter-norm.js';
export * as init from './init.js';
export { summary } from './summary.js';
export { CrossIterationBatchNorm2d, type CrossIterationBatchNorm2dOptions, type CrossIterationRecord } from './layers/cross-iteration-batch-norm.js';
