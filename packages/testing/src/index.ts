// @normgrad/testing: property-test helpers for normgrad layers (vitest-free; the matcher is @normgrad/testing/vitest).
export {
  shapeArbitrary,
  broadcastShapesArbitrary,
  axesArbitrary,
  axisArbitrary,
  tensorArbitrary,
  shapedTensorArbitrary,
} from './arbitraries.js';
export type { ShapeOptions, TensorOptions } from './arbitraries.js';
export { checkVjp } from './check-vjp.js';
export type { CheckVjpOptions, CheckVjpResult } from './check-vjp.js';
export { allclose } from './allclose.js';
export type { AllcloseOptions, AllcloseReport, Comparable } from './allclose.js';
export { checkLayer } from './check-layer.js';
export type { CheckableLayer, CheckLayerOptions, CheckLayerReport, CheckLayerFailure, LayerMode } from './check-layer.js';
export { BAD_INPUT_KINDS, runBadInputTable, formatBadInputCounts } from './bad-input.js';
export type { BadInputKind, BadInputRow, BadInputReport } from './bad-input.js';
