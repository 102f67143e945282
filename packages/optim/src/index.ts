export {
  Optimizer,
  checkOptimOptions,
  type BaseOptions,
  type OptimizerStateDict,
  type ParamGroup,
  type ParamGroupSpec,
  type ParamsInput,
  type ParamSlot,
  type ParamStorage,
  type ParamState,
  type PlainValue,
} from './optimizer.js';
export { SGD, type SGDOptions, type SGDState } from './sgd.js';
export { Adam, AdamW, type AdamOptions, type AdamState } from './adam.js';
export { RMSprop, type RMSpropOptions, type RMSpropState } from './rmsprop.js';
export { Adagrad, type AdagradOptions, type AdagradState } from './adagrad.js';
export {
  LRScheduler,
  StepLR,
  ExponentialLR,
  CosineAnnealingLR,
  LinearLR,
  LambdaLR,
  MultiStepLR,
  SequentialLR,
  CosineAnnealingWarmRestarts,
  type LrLambda,
  type LRSchedulerStateDict,
  type SequentialLRStateDict,
  type CosineAnnealingWarmRestartsStateDict,
} from './lr-scheduler.js';
export { OneCycleLR, type OneCycleLROptions } from './one-cycle-lr.js';
export { ReduceLROnPlateau, type ReduceLROnPlateauOptions, type ReduceLROnPlateauStateDict } from './reduce-lr-on-plateau.js';
export { readElements, writeElements, storagePositions, type FloatArray, type StridedView } from './strided.js';
