export { batchNorm, type BatchNormOptions } from './batch-norm.js';
export { instanceNorm, type InstanceNormOptions } from './instance-norm.js';
export { layerNorm, type LayerNormOptions } from './layer-norm.js';
export { groupNorm, type GroupNormOptions } from './group-norm.js';
export { linear } from './linear.js';
export { conv2d, type Conv2dOptions } from './conv.js';
export { maxPool2d, avgPool2d, type Pool2dOptions } from './pooling.js';
export { relu, softmax, logSoftmax, dropout, type DropoutOptions } from './activation.js';
export { mseLoss, crossEntropy, type Reduction } from './loss.js';
