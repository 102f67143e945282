import { backwardPass } from './autodiff.js';
import { grad } from './autodiff.js';
import { enableGrad, noGrad } from './grad-mode.js';
import { createNd } from './kernels/layout.js';
import { randn, tensor } from './creation.js';
import { concat } from './composite/shape.js';
import { checkOptions, formatShape } from './composite/validate.js';
import { jvpOfOutputs } from './transforms/jvp.js';
import { basisTensor } from './transforms/jacobian.js';
import { Tensor } from './tensor.js';

export interface GradcheckOptions {
  /** Central-difference step (default 1e-6). */
  eps?: number;
  /** Absolute tolerance (default 1e-5). */
  atol?: number;
  /** Relative tolerance (default 1e-3): an element passes when |analytic − numeric| ≤ atol + rtol·|numeric|. */
  rtol?: number;
  /** Seed of the random output gradient used by gradgradcheck (default 0). */
  seed?: number;
  /**
   * Also compare forward mode: the Jacobian's columns from jvp (one per checked input element)
   * against the same central differences. Default false.
   */
  checkForwardAd?: boolean;
}

/** The keys GradcheckOptions has: any other option key is an Error. */
const GRADCHECK_OPTION_KEYS = ['eps', 'atol', 'rtol', 'seed', 'checkForwardAd'];

export interface GradcheckWorst {
  /** Which input (position in `inputs`). */
  inputIndex: number;
  /** Flat (row-major) index of the input element. */
  elementIndex: number;
  /** Flat index of the output element. */
  outputIndex: number;
  analytic: number;
  numeric: number;
  /** Which derivative disagreed most: reverse mode (backward) or forward mode (jvp). */
  mode: 'reverse' | 'forward';
}

export interface GradcheckResult {
  ok: boolean;
  maxAbsError: number;
  maxRelError: number;
  /** The element with the largest error relative to its tolerance; null when nothing was compared. */
  worst: GradcheckWorst | null;
  /** E.g. a float32 input, for which central differences are unreliable. */
  warnings: string[];
}

function flatOutput(operation: string, value: unknown): Float64Array {
  if (!(value instanceof Tensor)) throw new Error(`${operation}: the function must return a Tensor, got ${typeof value}`);
  return value.toFloat64Array();
}

/**
 * Compares the Jacobian from the backward pass (and with checkForwardAd, from jvp) with central
 * differences, element by element. Checks the inputs that have requiresGrad set, or all inputs
 * when none has.
 */
export function gradcheck(fn: (...inputs: Tensor[]) => Tensor, inputs: readonly Tensor[], options: GradcheckOptions = {}): GradcheckResult {
  checkOptions('gradcheck', options, GRADCHECK_OPTION_KEYS);
  const eps = options.eps ?? 1e-6;
  const atol = options.atol ?? 1e-5;
  const rtol = options.rtol ?? 1e-3;
  if (!Array.isArray(inputs) || !inputs.every((input) => input instanceof Tensor)) throw new Error('gradcheck: inputs must be an array of Tensors');
  if (!(eps > 0) || !(atol >= 0) || !(rtol >= 0)) throw new Error(`gradcheck: eps must be > 0 and atol, rtol ≥ 0, got ${eps}, ${atol}, ${rtol}`);
  const warnings = inputs.flatMap((input, index) =>
    input.dtype === 'float32' ? [`input ${index} is float32: central differences need float64 to be reliable`] : [],
  );
  const anyMarked = inputs.some((input) => input.requiresGrad);
  const checked = inputs.map((input) => !anyMarked || input.requiresGrad);
  const values = inputs.map((input) => input.toFloat64Array());
  const rebuild = (index: number, data: Float64Array): Tensor => tensor(data, { dtype: inputs[index]!.dtype, shape: inputs[index]!.shape });

  // analytic Jacobian rows: one backward pass per output element, on fresh leaves
  const leaves = inputs.map((_, index) => {
    const leaf = rebuild(index, values[index]!);
    leaf.requiresGrad = checked[index]!;
    return leaf;
  });
  const output = enableGrad(() => fn(...leaves));
  const outputValues = flatOutput('gradcheck', output);
  const outputSize = outputValues.length;
  const targets = leaves.filter((_, index) => checked[index]);
  const analytic = inputs.map((input) => new Float64Array(input.size * outputSize));
  for (let outputIndex = 0; outputIndex < outputSize && output.requiresGrad; outputIndex++) {
    const seedData = createNd(output.dtype, output.shape);
    seedData.data[outputIndex] = 1;
    const grads = backwardPass([output], [Tensor.fromNd(seedData)], { targets, createGraph: false, retainGraph: true });
    leaves.forEach((leaf, inputIndex) => {
      const gradient = grads.get(leaf);
      if (!gradient) return;
      const row = gradient.toFloat64Array();
      for (let element = 0; element < row.length; element++) analytic[inputIndex]![element * outputSize + outputIndex] = row[element]!;
    });
  }

  // numeric Jacobian columns by central differences, and the comparison
  let maxAbsError = 0;
  let maxRelError = 0;
  let worstScore = -1;
  let worst: GradcheckWorst | null = null;
  let ok = true;
  const compare = (mode: 'reverse' | 'forward', inputIndex: number, element: number, outputIndex: number, exact: number, numeric: number): void => {
    const absError = Math.abs(exact - numeric);
    const relError = absError / Math.max(Math.abs(numeric), Number.MIN_VALUE);
    const tolerance = atol + rtol * Math.abs(numeric);
    const passes = absError <= tolerance; // NaN never passes (as PyTorch: allclose without equalNan)
    if (!passes) ok = false;
    maxAbsError = Math.max(maxAbsError, Number.isNaN(absError) ? Infinity : absError);
    if (absError > atol) maxRelError = Math.max(maxRelError, relError);
    const score = Number.isNaN(absError) ? Infinity : absError / Math.max(tolerance, Number.MIN_VALUE);
    if (score > worstScore) {
      worstScore = score;
      worst = { inputIndex, elementIndex: element, outputIndex, analytic: exact, numeric, mode };
    }
  };
  // forward mode: the Jacobian column of one input element, by jvp along its basis direction
  const forwardColumn = (inputIndex: number, element: number): Float64Array => {
    const primals = inputs.map((_, index) => rebuild(index, values[index]!));
    const tangents = inputs.map((input, index) => (index === inputIndex ? basisTensor(input, element) : null));
    const [[out], [tangent]] = jvpOfOutputs('gradcheck', (...args) => [fn(...args)], primals, tangents);
    flatOutput('gradcheck', out);
    return tangent!.toFloat64Array();
  };
  inputs.forEach((input, inputIndex) => {
    if (!checked[inputIndex]) return;
    const base = values[inputIndex]!;
    for (let element = 0; element < input.size; element++) {
      const evaluate = (delta: number): Float64Array => {
        const perturbed = base.slice();
        perturbed[element]! += delta;
        const args = inputs.map((_, index) => (index === inputIndex ? rebuild(index, perturbed) : rebuild(index, values[index]!)));
        return flatOutput('gradcheck', noGrad(() => fn(...args)));
      };
      const plus = evaluate(eps);
      const minus = evaluate(-eps);
      const column = options.checkForwardAd ? forwardColumn(inputIndex, element) : null;
      for (let outputIndex = 0; outputIndex < outputSize; outputIndex++) {
        const numeric = (plus[outputIndex]! - minus[outputIndex]!) / (2 * eps);
        compare('reverse', inputIndex, element, outputIndex, analytic[inputIndex]![element * outputSize + outputIndex]!, numeric);
        if (column) compare('forward', inputIndex, element, outputIndex, column[outputIndex]!, numeric);
      }
    }
  });
  return { ok, maxAbsError, maxRelError, worst, warnings };
}

/**
 * Second-order check: gradchecks the vector–Jacobian product x, v ↦ vᵀ·∂f/∂x (built with the
 * differentiable backward pass) with respect to x and v, for a random seeded v.
 */
export function gradgradcheck(fn: (...inputs: Tensor[]) => Tensor, inputs: readonly Tensor[], options: GradcheckOptions = {}): GradcheckResult {
  checkOptions('gradgradcheck', options, GRADCHECK_OPTION_KEYS);
  if (!Array.isArray(inputs) || inputs.length === 0 || !inputs.every((input) => input instanceof Tensor)) {
    throw new Error('gradgradcheck: inputs must be a non-empty array of Tensors');
  }
  const anyMarked = inputs.some((input) => input.requiresGrad);
  const differentiated = inputs.flatMap((input, index) => (!anyMarked || input.requiresGrad ? [index] : []));
  const sample = noGrad(() => fn(...inputs.map((input) => input.detach())));
  if (!(sample instanceof Tensor)) throw new Error(`gradgradcheck: the function must return a Tensor, got ${typeof sample}`);
  const direction = randn(sample.shape, { dtype: sample.dtype, seed: options.seed ?? 0 });
  const count = inputs.length;
  const vectorJacobianProduct = (...args: Tensor[]): Tensor => {
    const xs = args.slice(0, count);
    const v = args[count]!;
    const weighted = (...ys: Tensor[]) => {
      const out = fn(...ys);
      if (formatShape(out.shape) !== formatShape(v.shape)) throw new Error(`gradgradcheck: the function's output shape changed to ${formatShape(out.shape)}`);
      return out.mul(v).sum();
    };
    const grads = grad(weighted, { argnums: differentiated, allowUnused: true })(...xs);
    return concat(grads.map((gradient) => gradient.reshape([-1])), 0);
  };
  const marked = [...inputs.map((input, index) => withRequiresGrad(input, differentiated.includes(index))), withRequiresGrad(direction, true)];
  return gradcheck(vectorJacobianProduct, marked, options);
}

function withRequiresGrad(input: Tensor, requiresGrad: boolean): Tensor {
  const copy = input.detach();
  copy.requiresGrad = requiresGrad;
  return copy;
}
