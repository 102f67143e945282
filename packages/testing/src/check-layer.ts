import fc from 'fast-check';
import {
  concat,
  formatShape,
  grad,
  gradcheck,
  noGrad,
  rand,
  randn,
  recordStopGradients,
  withFrozenStopGradients,
  type GradcheckResult,
  type Tensor,
} from '@normgrad/core';

/**
 * What checkLayer needs of a layer, structurally (so @normgrad/testing does not depend on
 * @normgrad/nn; every nn Module fits). With stateDict/loadStateDict the layer's buffers and
 * numeric state (running statistics, numBatchesTracked) are captured once and restored before
 * every forward; namedChildren resolves dotted parameter names through containers like Sequential.
 */
export interface CheckableLayer {
  forward(x: Tensor): Tensor;
  train(mode?: boolean): unknown;
  eval(): unknown;
  namedParameters(): [string, Tensor][];
  stateDict?(): Record<string, Tensor>;
  loadStateDict?(state: Record<string, Tensor>, options?: { strict?: boolean }): void;
  namedChildren?(): [string, unknown][];
}

export type LayerMode = 'train' | 'eval';

export interface CheckLayerOptions {
  /** Input shapes to draw from; shrinking moves toward the first, so list the smallest first. */
  inputShapes?: readonly (readonly number[])[];
  /** Or any fast-check arbitrary of input shapes (shrinks as that arbitrary does). */
  arbitrary?: fc.Arbitrary<number[]>;
  /** Modes to check, each on a freshly built layer. Default ['train', 'eval']. */
  modes?: readonly LayerMode[];
  /** Highest derivative order checked; every order from 1 up to it is checked. Default 1. */
  order?: 1 | 2 | 3;
  /** Only float64: central differences are not reliable in float32. Default 'float64'. */
  dtype?: 'float64';
  /** Number of drawn cases (fast-check numRuns). Default 10. */
  runs?: number;
  /** fast-check seed; also seeds input values, parameter noise and cotangents. Default 0. */
  seed?: number;
  /**
   * Training forwards on random inputs run before the check (without recording a graph), so
   * running statistics are not at their initial zeros/ones. Needs stateDict/loadStateDict. Default 2.
   */
  warmupForwards?: number;
  /** Uniform noise of this half-width added to every parameter, so weight = 1, bias = 0 is not the only point checked. Default 0.25. */
  perturbParameters?: number;
  /** Inputs are randn · inputScale + inputOffset. Defaults 1 and 0.5. */
  inputScale?: number;
  inputOffset?: number;
  /** Forwarded to core's gradcheck (central-difference step and tolerances). */
  eps?: number;
  atol?: number;
  rtol?: number;
  /**
   * Also check forward mode: at every order the Jacobian is computed by jvp too (order 1: jvp of
   * the layer; order k: forward-over-reverse of the order-(k − 1) VJP) and compared with the same
   * central differences. Default false.
   */
  forwardAd?: boolean;
}

/** Where a gradient check failed (also attached to the thrown Error as `failure`). */
export interface CheckLayerFailure {
  inputShape: number[];
  mode: LayerMode;
  order: number;
  /** Differentiated argument: 'input', a parameter name, or 'cotangent1', 'cotangent2' (orders 2, 3). */
  argument: string;
  /** Multi-index of the element within that argument. */
  element: number[];
  /** The differentiated output element: for order 1 `output[i, j]`, for order k the element of the order-(k − 1) VJP. */
  output: string;
  analytic: number;
  numeric: number;
  maxAbsError: number;
  /** Which derivative disagreed: reverse mode (backward) or forward mode (jvp, with forwardAd). */
  derivative: 'reverse' | 'forward';
}

export interface CheckLayerReport {
  /** Drawn cases (input shapes), each checked in every mode and order. */
  runs: number;
  /** gradcheck calls made. */
  checks: number;
  /** Largest |analytic − numeric| over all checks. */
  maxAbsError: number;
}

class GradientMismatch extends Error {
  constructor(readonly failure: CheckLayerFailure) {
    super(describeFailure(failure));
  }
}

/**
 * Gradient-checks a layer in one call: draws input shapes with fast-check, builds the layer with
 * `makeLayer(shape)`, and compares autodiff with float64 central differences (core's gradcheck)
 * for the output w.r.t. the input and every parameter (namedParameters), in each mode, for each
 * derivative order up to `order`:
 *   order 1: f(x, θ) = layer(x) with parameters θ;
 *   order k: f_k(x, θ, v1..v_{k−1}) = ∂⟨f_{k−1}, v_{k−1}⟩/∂(every argument), built with core's grad,
 *   so order 2 is gradgradcheck and order 3 checks third derivatives.
 *
 * Every evaluation (each one of the numerical differentiation too) runs on a fresh layer from the
 * factory with the captured state loaded and θ substituted for its parameter fields, so a training
 * forward that updates running statistics does not leak into the next. Values passed through
 * core's `stopGradient` (BatchRenorm's r and d) are recorded at the unperturbed point and held
 * fixed in the perturbed evaluations, so the check estimates the derivative autodiff defines;
 * a `.detach()` is re-computed, so a statistic detached by mistake fails the check.
 *
 * Returns a report when every check passes. Otherwise throws an Error whose message gives the
 * smallest failing input shape fast-check's shrinking found, the mode, the order, the argument
 * (parameter name) and element, the output element, analytic vs numeric; the Error's `failure`
 * field holds the same as a CheckLayerFailure.
 */
export function checkLayer(makeLayer: (inputShape: number[]) => CheckableLayer, options: CheckLayerOptions = {}): CheckLayerReport {
  const { modes = ['train', 'eval'], order = 1, dtype = 'float64', runs = 10, seed = 0 } = options;
  if (dtype !== 'float64') throw new Error(`checkLayer: dtype must be 'float64' (central differences need it), got ${String(dtype)}`);
  if (![1, 2, 3].includes(order)) throw new Error(`checkLayer: order must be 1, 2 or 3, got ${order}`);
  if (modes.length === 0 || modes.some((mode) => mode !== 'train' && mode !== 'eval')) {
    throw new Error(`checkLayer: modes must be a non-empty list of 'train' and 'eval', got ${JSON.stringify(modes)}`);
  }
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`checkLayer: runs must be a positive integer, got ${runs}`);
  const shapes = shapeArbitrary(options);
  const report: CheckLayerReport = { runs: 0, checks: 0, maxAbsError: 0 };

  const property = fc.property(shapes, fc.integer({ min: 0, max: 1_000_000 }), (shape, caseSeed) => {
    for (const mode of modes) {
      for (let k = 1; k <= order; k++) {
        const result = checkCase(makeLayer, shape, mode, k, caseSeed, options);
        report.checks += 1;
        report.maxAbsError = Math.max(report.maxAbsError, result.maxAbsError);
      }
    }
    report.runs += 1;
  });
  const details = fc.check(property, { numRuns: runs, seed });
  if (!details.failed) return report;

  const [shape] = details.counterexample ?? [[]];
  const shrinkNote = `smallest failing case after ${details.numShrinks} shrink(s); reproduce with { seed: ${details.seed}, path: "${details.counterexamplePath}" }`;
  const cause = details.errorInstance;
  if (cause instanceof GradientMismatch) {
    const error = new Error(`${cause.message}\n  (${shrinkNote})`) as Error & { failure: CheckLayerFailure };
    error.failure = cause.failure;
    throw error;
  }
  const message = cause instanceof Error ? cause.message : String(cause);
  throw new Error(`checkLayer: the layer threw for input shape ${formatShape(shape ?? [])}: ${message}\n  (${shrinkNote})`, { cause });
}

function shapeArbitrary(options: CheckLayerOptions): fc.Arbitrary<number[]> {
  if (options.arbitrary && options.inputShapes) throw new Error('checkLayer: give inputShapes or arbitrary, not both');
  if (options.arbitrary) return options.arbitrary;
  const listed = options.inputShapes;
  if (!listed || listed.length === 0) throw new Error('checkLayer: give inputShapes (a non-empty list of shapes) or an arbitrary of shapes');
  return fc.constantFrom(...listed.map((shape) => [...shape]));
}

/** One gradient check: one input shape, one mode, one derivative order. */
function checkCase(
  makeLayer: (inputShape: number[]) => CheckableLayer,
  shape: number[],
  mode: LayerMode,
  order: number,
  caseSeed: number,
  options: CheckLayerOptions,
): GradcheckResult {
  const { warmupForwards = 2, perturbParameters = 0.25, inputScale = 1, inputOffset = 0.5 } = options;
  const reference = makeLayer(shape);
  const named = reference.namedParameters();
  for (const [name, parameter] of named) {
    if (parameter.dtype !== 'float64') throw new Error(`checkLayer: parameter '${name}' is ${parameter.dtype}; build the layer with dtype 'float64'`);
  }
  const parameters = named.map(([, parameter], index) =>
    noGrad(() => parameter.detach().add(rand(parameter.shape, { dtype: 'float64', seed: caseSeed * 31 + index + 1 }).mul(2 * perturbParameters).sub(perturbParameters))),
  );
  const makeInput = (inputSeed: number): Tensor => noGrad(() => randn(shape, { dtype: 'float64', seed: inputSeed }).mul(inputScale).add(inputOffset));

  // Running statistics after a few training forwards, captured once and loaded into every fresh layer.
  let state: Record<string, Tensor> | null = null;
  if (reference.stateDict && reference.loadStateDict) {
    substituteParameters(reference, named, parameters);
    reference.train(true);
    for (let step = 0; step < warmupForwards; step++) noGrad(() => reference.forward(makeInput(caseSeed * 31 + 1000 + step)));
    const parameterNames = new Set(named.map(([name]) => name));
    state = Object.fromEntries(Object.entries(reference.stateDict()).filter(([key]) => !parameterNames.has(key)));
  }
  const forward = (x: Tensor, ...params: Tensor[]): Tensor => {
    const layer = makeLayer(shape);
    if (state && layer.loadStateDict) layer.loadStateDict(state, { strict: false });
    substituteParameters(layer, named, params);
    if (mode === 'train') layer.train(true);
    else layer.eval();
    return layer.forward(x);
  };

  // f_1 = forward; f_k(args, v) = ∂⟨f_{k−1}(args), v⟩ / ∂args, flattened and concatenated.
  const argumentNames = ['input', ...named.map(([name]) => name)];
  const argumentShapes = [shape, ...parameters.map((p) => p.shape)];
  const inputs = [makeInput(caseSeed * 31), ...parameters];
  let fn: (...args: Tensor[]) => Tensor = forward;
  let outputShape = noGrad(() => fn(...inputs)).shape;
  const levels = [{ names: ['output'], shapes: [outputShape] }];
  for (let level = 2; level <= order; level++) {
    const previous = fn;
    const count = inputs.length;
    fn = (...args: Tensor[]): Tensor => {
      const cotangent = args[count]!;
      const grads = grad((...xs: Tensor[]) => previous(...xs).mul(cotangent).sum(), { argnums: range(count), allowUnused: true })(...args.slice(0, count));
      return concat(grads.map((g) => g.reshape([-1])), 0);
    };
    levels.push({ names: [...argumentNames], shapes: argumentShapes.map((s) => [...s]) });
    const cotangentShape = outputShape;
    outputShape = [argumentShapes.reduce((total, s) => total + s.reduce((a, b) => a * b, 1), 0)];
    argumentNames.push(`cotangent${level - 1}`);
    argumentShapes.push(cotangentShape);
    inputs.push(randn(cotangentShape, { dtype: 'float64', seed: caseSeed * 31 + 500 + level }));
  }

  const [, frozen] = recordStopGradients(() => fn(...inputs));
  const result = gradcheck((...args: Tensor[]) => withFrozenStopGradients(frozen, () => fn(...args)), inputs, {
    eps: options.eps,
    atol: options.atol,
    rtol: options.rtol,
    checkForwardAd: options.forwardAd ?? false,
  });
  if (!result.ok && result.worst) {
    const { inputIndex, elementIndex, outputIndex, analytic, numeric, mode: derivative } = result.worst;
    const output = levels[levels.length - 1]!;
    throw new GradientMismatch({
      inputShape: shape,
      mode,
      order,
      argument: argumentNames[inputIndex]!,
      element: unravel(elementIndex, argumentShapes[inputIndex]!),
      output: describeOutput(order, outputIndex, output.names, output.shapes),
      analytic,
      numeric,
      maxAbsError: result.maxAbsError,
      derivative,
    });
  }
  return result;
}

/**
 * Replaces each named parameter field (dotted path, resolved through namedChildren when the
 * layer has it) with the given tensor, so the check's inputs are the layer's parameters.
 */
function substituteParameters(layer: CheckableLayer, named: [string, Tensor][], values: Tensor[]): void {
  named.forEach(([name], index) => {
    let node: unknown = layer;
    let rest = name;
    for (;;) {
      const owner = node as Record<string, unknown> & Partial<CheckableLayer>;
      if (!rest.includes('.')) {
        const current = owner[rest];
        const value = values[index]!;
        if (!current || typeof current !== 'object' || formatShape((current as Tensor).shape ?? []) !== formatShape(value.shape)) {
          throw new Error(`checkLayer: cannot substitute parameter '${name}': no tensor field of shape ${formatShape(value.shape)} at that path`);
        }
        owner[rest] = value;
        return;
      }
      const child = owner.namedChildren?.().find(([childName]) => rest.startsWith(`${childName}.`));
      if (child) {
        node = child[1];
        rest = rest.slice(child[0].length + 1);
        continue;
      }
      const dot = rest.indexOf('.');
      node = owner[rest.slice(0, dot)];
      rest = rest.slice(dot + 1);
      if (node === null || typeof node !== 'object') throw new Error(`checkLayer: cannot resolve parameter '${name}' to a field of the layer`);
    }
  });
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

/** Row-major multi-index of a flat index. */
function unravel(flat: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length).fill(0);
  let rest = flat;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    index[axis] = rest % shape[axis]!;
    rest = Math.floor(rest / shape[axis]!);
  }
  return index;
}

/** `output[1, 2]`, or for order k the VJP element, e.g. `∂⟨f, cotangent1⟩/∂weight[2]`. */
function describeOutput(order: number, flat: number, names: string[], shapes: number[][]): string {
  if (order === 1) return `output[${unravel(flat, shapes[0]!).join(', ')}]`;
  let offset = flat;
  for (const [i, shape] of shapes.entries()) {
    const size = shape.reduce((a, b) => a * b, 1);
    if (offset < size) return `∂⟨order-${order - 1} output, cotangent${order - 1}⟩/∂${names[i]}[${unravel(offset, shape).join(', ')}]`;
    offset -= size;
  }
  return `element ${flat}`;
}

function describeFailure(f: CheckLayerFailure): string {
  return (
    `checkLayer: order-${f.order} ${f.derivative === 'forward' ? 'forward-mode (jvp) ' : ''}gradient check failed in '${f.mode}' mode for input shape ${formatShape(f.inputShape)}:\n` +
    `  d ${f.output} / d ${f.argument}[${f.element.join(', ')}]: analytic ${f.analytic}, numeric ${f.numeric} ` +
    `(|difference| ${Math.abs(f.analytic - f.numeric)}; largest in this check ${f.maxAbsError})`
  );
}

