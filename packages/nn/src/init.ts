import { assignInPlace, checkOptions, full, noGrad, rand, randn, Tensor } from '@normgrad/core';
import { formatShape } from './util.js';

/**
 * In-place initializers (PyTorch's torch.nn.init): each overwrites t's values through core's
 * assignInPlace (under no-grad, so parameters stay leaves) and returns t. Random draws use core's
 * global generator, so `manualSeed(s)` makes them reproducible.
 */

export type Nonlinearity = 'linear' | 'conv1d' | 'conv2d' | 'conv3d' | 'conv_transpose2d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';
export type FanMode = 'fan_in' | 'fan_out';

function checkTensor(op: string, t: unknown): asserts t is Tensor {
  if (!(t instanceof Tensor)) throw new Error(`${op}: expected a Tensor, got ${t === null ? 'null' : typeof t}`);
}

function write(t: Tensor, values: Tensor): Tensor {
  noGrad(() => assignInPlace(t, values));
  return t;
}

/** PyTorch's calculate_gain: the recommended scale of the weights for a nonlinearity. */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv1d':
    case 'conv2d':
    case 'conv3d':
    case 'conv_transpose2d':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      if (!Number.isFinite(slope)) throw new Error(`calculateGain: negative slope ${slope} is not a finite number`);
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu':
      return 3 / 4;
    default:
      throw new Error(`calculateGain: unsupported nonlinearity ${JSON.stringify(nonlinearity)}`);
  }
}

/** fanIn = shape[1] · receptive field, fanOut = shape[0] · receptive field (receptive field: product of shape[2:]). */
export function calculateFanInAndFanOut(t: Tensor): { fanIn: number; fanOut: number } {
  checkTensor('calculateFanInAndFanOut', t);
  if (t.ndim < 2) throw new Error(`calculateFanInAndFanOut: fan in and fan out need a tensor of at least 2 dimensions, got shape ${formatShape(t.shape)}`);
  const receptive = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: t.shape[1]! * receptive, fanOut: t.shape[0]! * receptive };
}

function fanOf(op: string, t: Tensor, mode: FanMode): number {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  if (mode === 'fan_in') return fanIn;
  if (mode === 'fan_out') return fanOut;
  throw new Error(`${op}: mode must be 'fan_in' or 'fan_out', got ${JSON.stringify(mode)}`);
}

/** Values uniform in [a, b). */
export function uniform(t: Tensor, options: { a?: number; b?: number } = {}): Tensor {
  checkTensor('uniform', t);
  checkOptions('uniform', options, ['a', 'b']);
  const { a = 0, b = 1 } = options;
  if (!(Number.isFinite(a) && Number.isFinite(b) && a <= b)) throw new Error(`uniform: need finite a <= b, got a = ${a}, b = ${b}`);
  return write(t, rand(t.shape, { dtype: t.dtype }).mul(b - a).add(a));
}

/** Values normal with the given mean and std. */
export function normal(t: Tensor, options: { mean?: number; std?: number } = {}): Tensor {
  checkTensor('normal', t);
  checkOptions('normal', options, ['mean', 'std']);
  const { mean = 0, std = 1 } = options;
  if (!(Number.isFinite(mean) && Number.isFinite(std) && std >= 0)) throw new Error(`normal: need a finite mean and std >= 0, got mean = ${mean}, std = ${std}`);
  return write(t, randn(t.shape, { dtype: t.dtype }).mul(std).add(mean));
}

export function constant(t: Tensor, value: number): Tensor {
  checkTensor('constant', t);
  if (typeof value !== 'number') throw new Error(`constant: value must be a number, got ${typeof value}`);
  return write(t, full(t.shape, value, { dtype: t.dtype }));
}

export function zeros(t: Tensor): Tensor {
  checkTensor('zeros', t);
  return constant(t, 0);
}

export function ones(t: Tensor): Tensor {
  checkTensor('ones', t);
  return constant(t, 1);
}

export interface XavierOptions {
  gain?: number;
}

/** Glorot & Bengio 2010: uniform in ±gain · sqrt(6 / (fanIn + fanOut)). */
export function xavierUniform(t: Tensor, options: XavierOptions = {}): Tensor {
  checkTensor('xavierUniform', t);
  checkOptions('xavierUniform', options, ['gain']);
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  const bound = Math.sqrt(3) * (options.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut));
  return uniform(t, { a: -bound, b: bound });
}

/** Glorot & Bengio 2010: normal with std gain · sqrt(2 / (fanIn + fanOut)). */
export function xavierNormal(t: Tensor, options: XavierOptions = {}): Tensor {
  checkTensor('xavierNormal', t);
  checkOptions('xavierNormal', options, ['gain']);
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  return normal(t, { std: (options.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut)) });
}

export interface KaimingOptions {
  /** Negative slope of the leaky ReLU that follows (only used with 'leaky_relu'). Default 0. */
  a?: number;
  /** Default 'fan_in'. */
  mode?: FanMode;
  /** Default 'leaky_relu' (PyTorch's default). */
  nonlinearity?: Nonlinearity;
}

function kaimingStd(op: string, t: Tensor, options: KaimingOptions): number {
  checkOptions(op, options, ['a', 'mode', 'nonlinearity']);
  const { a = 0, mode = 'fan_in', nonlinearity = 'leaky_relu' } = options;
  const fan = fanOf(op, t, mode);
  if (fan === 0) throw new Error(`${op}: cannot initialize a tensor with zero elements (shape ${formatShape(t.shape)})`);
  return calculateGain(nonlinearity, a) / Math.sqrt(fan);
}

/** He et al. 2015: uniform in ±sqrt(3) · gain / sqrt(fan). */
export function kaimingUniform(t: Tensor, options: KaimingOptions = {}): Tensor {
  checkTensor('kaimingUniform', t);
  const bound = Math.sqrt(3) * kaimingStd('kaimingUniform', t, options);
  return uniform(t, { a: -bound, b: bound });
}

/** He et al. 2015: normal with std gain / sqrt(fan). */
export function kaimingNormal(t: Tensor, options: KaimingOptions = {}): Tensor {
  checkTensor('kaimingNormal', t);
  return normal(t, { std: kaimingStd('kaimingNormal', t, options) });
}
