export {
  Optimizer,
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
export {
  LRScheduler,
  StepLR,
  ExponentialLR,
  CosineAnnealingLR,
  LinearLR,
  type LRSchedulerStateDict,
} from './lr-scheduler.js';
export { readElements, writeElements, storagePositions, type FloatArray, type StridedView } from './strided.js';
