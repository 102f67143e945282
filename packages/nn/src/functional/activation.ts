import { checkOptions, customOp, rand, tensor, vmapRandomness, where, type Tensor } from '@normgrad/core';
import { formatShape } from '../util.js';

export function relu(x: Tensor): Tensor {
  return x.relu();
}

function checkAxis(op: string, x: Tensor, axis: number): void {
  if (!Number.isInteger(axis) || axis < -x.ndim || axis >= Math.max(x.ndim, 1)) {
    throw new Error(`${op}: axis ${axis} is out of range for input of shape ${formatShape(x.shape)}`);
  }
}

/** exp(x) / sum(exp(x)) along axis (stable: core shifts by the max). */
export function softmax(x: Tensor, axis: number): Tensor {
  checkAxis('softmax', x, axis);
  return x.softmax(axis);
}

/** x - logsumexp(x) along axis. */
export function logSoftmax(x: Tensor, axis: number): Tensor {
  checkAxis('logSoftmax', x, axis);
  return x.logSoftmax(axis);
}

export interface DropoutOptions {
  /** Drop only in training; identity otherwise. Default true. */
  training?: boolean;
  /** Seed of the mask's random numbers (default: core's global generator, see manualSeed). */
  seed?: number;
}

/**
 * A dropout mask drawn inside a vmap whose randomness is 'error' (vmap's default): an Error that
 * names the dropout and the choices, rather than the random draw inside it.
 */
function checkMaskUnderVmap(op: string): void {
  if (vmapRandomness() !== 'error') return;
  throw new Error(
    `${op}: draws its random mask inside vmap, whose randomness option is 'error' (the default): ` +
      "pass { randomness: 'different' } to vmap for a different mask per example (as a loop over the examples draws), " +
      "or { randomness: 'same' } for one mask shared by all examples; or turn dropout off (eval(), or training: false)",
  );
}

/**
 * Zeroes each element with probability p and scales the rest by 1 / (1 - p)
 * (Srivastava et al. 2014, https://jmlr.org/papers/v15/srivastava14a.html).
 */
export function dropout(x: Tensor, p = 0.5, options: DropoutOptions = {}): Tensor {
  checkOptions('dropout', options, ['training', 'seed']);
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout: probability p must be in [0, 1], got ${p}`);
  const training = options.training ?? true;
  if (!training || p === 0) return x;
  if (p === 1) return x.mul(0);
  checkMaskUnderVmap('dropout');
  const uniform = rand(x.shape, { dtype: x.dtype, ...(options.seed === undefined ? {} : { seed: options.seed }) });
  const keep = uniform.ge(p); // 1 with probability 1 - p
  return x.mul(keep).mul(1 / (1 - p));
}

/** erf(x) in float64: e^{-x²}·Σ 2ⁿx^{2n+1}/(1·3···(2n+1)) (positive terms) below 3, 1 − erfc by continued fraction above. */
function erfScalar(x: number): number {
  if (Number.isNaN(x)) return x;
  const a = Math.abs(x);
  if (a >= 6) return Math.sign(x);
  let result: number;
  if (a < 3) {
    let term = a;
    let sum = a;
    for (let n = 1; n < 200 && term > sum * 1e-17; n++) {
      term *= (2 * a * a) / (2 * n + 1);
      sum += term;
    }
    result = (2 / Math.sqrt(Math.PI)) * Math.exp(-a * a) * sum;
  } else {
    // erfc(a) = e^{-a²}/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + ...)))), evaluated from the tail
    let fraction = a;
    for (let k = 60; k >= 1; k--) fraction = a + k / 2 / fraction;
    result = 1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / fraction;
  }
  return x < 0 ? -result : result;
}

/** The error function elementwise; d erf(x) = 2/√π · e^{-x²} dx (VJP and JVP), in tensor ops (differentiable to any order). */
const erfOp = customOp({
  name: 'erf',
  forward: (x) => {
    const input = tensor(x);
    const values = input.toFloat64Array().map(erfScalar);
    return tensor(values, { shape: input.shape, dtype: input.dtype }).data as ReturnType<Parameters<typeof customOp>[0]['forward']>;
  },
  vjp: (g, [x]) => [g.mul(erfDerivative(x!))],
  jvp: ([t], [x]) => t!.mul(erfDerivative(x!)),
});

function erfDerivative(x: Tensor): Tensor {
  return x.square().neg().exp().mul(2 / Math.sqrt(Math.PI));
}

export function erf(x: Tensor): Tensor {
  return erfOp(x);
}

export interface GeluOptions {
  /** 'none': x·Φ(x) with the exact normal CDF; 'tanh': PyTorch's tanh approximation. Default 'none'. */
  approximate?: 'none' | 'tanh';
}

/**
 * GELU (Hendrycks & Gimpel 2016, https://arxiv.org/abs/1606.08415):
 *   'none': 0.5 · x · (1 + erf(x / √2))
 *   'tanh': 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))
 */
export function gelu(x: Tensor, options: GeluOptions = {}): Tensor {
  checkOptions('gelu', options, ['approximate']);
  const approximate = options.approximate ?? 'none';
  if (approximate === 'none') return x.mul(erf(x.mul(Math.SQRT1_2)).add(1)).mul(0.5);
  if (approximate === 'tanh') return x.mul(x.add(x.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI)).tanh().add(1)).mul(0.5);
  throw new Error(`gelu: approximate must be 'none' or 'tanh', got ${JSON.stringify(approximate)}`);
}

/** SiLU / swish: x · sigmoid(x) (https://arxiv.org/abs/1702.03118). */
export function silu(x: Tensor): Tensor {
  return x.mul(x.sigmoid());
}

function checkFinite(op: string, name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`${op}: ${name} must be a finite number, got ${JSON.stringify(value)}`);
}

/** x for x > 0, negativeSlope · x otherwise (the gradient at 0 is negativeSlope, as PyTorch). */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  checkFinite('leakyRelu', 'negativeSlope', negativeSlope);
  return where(x.gt(0), x, x.mul(negativeSlope));
}

/** ELU (https://arxiv.org/abs/1511.07289): x for x > 0, alpha · (eˣ − 1) otherwise. */
export function elu(x: Tensor, alpha = 1): Tensor {
  checkFinite('elu', 'alpha', alpha);
  const negative = x.minimum(0);
  return where(x.gt(0), x, negative.exp().sub(1).mul(alpha));
}

/** log(1 + e^{βx}) / β, and x itself where βx > threshold (PyTorch's Softplus). */
export function softplus(x: Tensor, beta = 1, threshold = 20): Tensor {
  checkFinite('softplus', 'beta', beta);
  checkFinite('softplus', 'threshold', threshold);
  if (beta === 0) throw new Error('softplus: beta must be non-zero');
  const scaled = x.mul(beta);
  const linear = scaled.gt(threshold);
  // the log branch sees a clamped input, so it never overflows where the linear branch is taken
  const safe = where(linear, 0, scaled);
  return where(linear, x, safe.exp().add(1).log().div(beta));
}

/**
 * Zeroes whole channels of x (N, C, H, W) or (C, H, W) with probability p and scales the rest by
 * 1 / (1 − p) (Tompson et al. 2015, https://arxiv.org/abs/1411.4280; PyTorch's dropout2d).
 */
export function dropout2d(x: Tensor, p = 0.5, options: DropoutOptions = {}): Tensor {
  checkOptions('dropout2d', options, ['training', 'seed']);
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout2d: probability p must be in [0, 1], got ${p}`);
  if (x.ndim !== 3 && x.ndim !== 4) throw new Error(`dropout2d: expected input of shape (N, C, H, W) or (C, H, W), got ${formatShape(x.shape)}`);
  const training = options.training ?? true;
  if (!training || p === 0) return x;
  if (p === 1) return x.mul(0);
  checkMaskUnderVmap('dropout2d');
  const maskShape = x.shape.map((extent, axis) => (axis < x.ndim - 2 ? extent : 1));
  const uniform = rand(maskShape, { dtype: x.dtype, ...(options.seed === undefined ? {} : { seed: options.seed }) });
  return x.mul(uniform.ge(p)).mul(1 / (1 - p));
}
