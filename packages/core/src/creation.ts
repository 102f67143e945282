import { activeRecorder } from './compile/recorder.js';
import type { NdArray } from 'ndarray';
import { allocate, dtypeOfArray, isDType, type DataArray, type DType } from './dtype.js';
import { copyNd } from './kernels/elementwise.js';
import { createNd, dtypeOfNd, sizeOf, type FloatNdArray } from './kernels/layout.js';
import { generatorFor } from './kernels/random.js';
import { checkOptions, formatShape } from './composite/validate.js';
import { Tensor, type NestedArray } from './tensor.js';
import { batchedRandom } from './transforms/vmap.js';

export interface CreationOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}

export interface TensorOptions extends CreationOptions {
  /** The shape for flat typed-array or array data (default: inferred). */
  shape?: readonly number[];
}

export interface RandomOptions extends CreationOptions {
  /** Same seed, same numbers. Without a seed the global generator (see manualSeed) is used. */
  seed?: number;
}

const CREATION_KEYS = ['dtype', 'requiresGrad'] as const;
const TENSOR_KEYS = [...CREATION_KEYS, 'shape'] as const;
const RANDOM_KEYS = [...CREATION_KEYS, 'seed'] as const;

/**
 * The most elements one tensor can hold: the longest typed array JavaScript engines allocate
 * (V8's limit on 64-bit machines is 2^32).
 */
export const MAX_ELEMENTS = 2 ** 32;

/** The most levels of nesting `tensor` reads from an array (deeper is a bad input, not a tensor). */
export const MAX_NESTING = 64;

function checkCreationOptions(operation: string, options: unknown, keys: readonly string[]): void {
  checkOptions(operation, options, keys);
  const { requiresGrad } = (options ?? {}) as { requiresGrad?: unknown };
  if (requiresGrad !== undefined && typeof requiresGrad !== 'boolean') {
    throw new Error(`${operation}: requiresGrad must be a boolean, got ${JSON.stringify(requiresGrad)}`);
  }
}

/** Storage for a shape, with an Error naming the operation where the engine cannot allocate it. */
function storageFor(operation: string, dtype: DType, shape: readonly number[]): FloatNdArray {
  try {
    return createNd(dtype, shape);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new Error(`${operation}: cannot allocate a ${dtype} tensor of shape ${formatShape(shape)} (${error.message})`);
  }
}

function checkDType(operation: string, dtype: unknown): DType {
  if (dtype === undefined) return 'float32';
  if (!isDType(dtype)) throw new Error(`${operation}: dtype must be 'float32', 'float64' or 'int32', got ${JSON.stringify(dtype)}`);
  return dtype;
}

/** int32 tensors hold exact integers: a fractional, non-finite or out-of-range value is an Error, not truncated. */
function checkInt32Values(operation: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    if (!Number.isInteger(value) || value < -2147483648 || value > 2147483647) {
      throw new Error(`${operation}: element ${i} is ${value}, which is not an int32 integer (dtype 'int32' holds integers in [-2^31, 2^31))`);
    }
  }
}

export function checkShape(operation: string, shape: unknown): number[] {
  if (!Array.isArray(shape) || !shape.every((extent) => Number.isInteger(extent) && extent >= 0)) {
    throw new Error(`${operation}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  const count = sizeOf(shape as number[]);
  if (count > MAX_ELEMENTS) {
    throw new Error(`${operation}: shape ${formatShape(shape as number[])} has ${count} elements, more than the ${MAX_ELEMENTS} a tensor can hold`);
  }
  return [...shape] as number[];
}

function leaf(operation: string, data: FloatNdArray, options: CreationOptions): Tensor {
  if (options.requiresGrad && data.data instanceof Int32Array) {
    throw new Error(`${operation}: an int32 tensor cannot require grad (indices are not differentiated); use a float dtype`);
  }
  return Tensor.fromNd(data, { requiresGrad: options.requiresGrad ?? false });
}

function inferShape(value: NestedArray, path: string, depth = 0): number[] {
  if (typeof value === 'number') return [];
  if (!Array.isArray(value)) throw new Error(`tensor: element ${path} is ${typeof value}, expected a number or an array`);
  if (depth >= MAX_NESTING) throw new Error(`tensor: nested array is more than ${MAX_NESTING} levels deep at ${path}`);
  if (value.length === 0) return [0];
  const inner = inferShape(value[0]!, `${path}[0]`, depth + 1);
  value.forEach((item, index) => {
    if (index === 0) return;
    const shape = inferShape(item, `${path}[${index}]`, depth + 1);
    if (formatShape(shape) !== formatShape(inner)) {
      throw new Error(`tensor: ragged nested array: ${path}[${index}] has shape ${formatShape(shape)} but ${path}[0] has ${formatShape(inner)}`);
    }
  });
  return [value.length, ...inner];
}

function isNdArray(value: unknown): value is NdArray<DataArray> {
  return typeof value === 'object' && value !== null && 'shape' in value && 'stride' in value && 'data' in value && 'offset' in value;
}

const isTypedArray = (value: unknown): value is DataArray =>
  value instanceof Float32Array || value instanceof Float64Array || value instanceof Int32Array;

/**
 * Makes a leaf tensor from a number, a nested array, a Float32Array/Float64Array/Int32Array (1-D
 * unless a shape is given) or a scijs ndarray. Data is copied. The dtype defaults to the typed
 * array's or ndarray's own (an Int32Array gives int32), else float32. For dtype 'int32' every value
 * must be an integer in int32's range.
 */
export function tensor(data: number | NestedArray | DataArray | NdArray<DataArray> | Tensor, options: TensorOptions = {}): Tensor {
  checkCreationOptions('tensor', options, TENSOR_KEYS);
  if (data instanceof Tensor) return tensor(data.data, { dtype: data.dtype, ...options });
  if (isNdArray(data)) {
    if (!isTypedArray(data.data)) {
      throw new Error('tensor: an ndarray must be backed by a Float32Array, Float64Array or Int32Array');
    }
    const dtype = checkDType('tensor', options.dtype ?? dtypeOfNd(data as FloatNdArray));
    if (dtype === 'int32' && !(data.data instanceof Int32Array)) checkInt32Values('tensor', copyNd(data as FloatNdArray).data);
    const copied = copyNd(data as FloatNdArray, dtype);
    return leaf('tensor', options.shape ? reshapeFlat('tensor', copied.data, options.shape, dtype) : copied, options);
  }
  if (isTypedArray(data)) {
    const dtype = checkDType('tensor', options.dtype ?? dtypeOfArray(data));
    if (dtype === 'int32' && !(data instanceof Int32Array)) checkInt32Values('tensor', data);
    const storage = allocate(dtype, data.length);
    storage.set(data);
    return leaf('tensor', reshapeFlat('tensor', storage, options.shape ?? [data.length], dtype), options);
  }
  const dtype = checkDType('tensor', options.dtype);
  const shape = inferShape(data as NestedArray, 'data');
  const flat = typeof data === 'number' ? [data] : (data as NestedArray[]).flat(Infinity as 1) as number[];
  if (dtype === 'int32') checkInt32Values('tensor', flat);
  const storage = allocate(dtype, flat.length);
  storage.set(flat);
  return leaf('tensor', reshapeFlat('tensor', storage, options.shape ?? shape, dtype), options);
}

function reshapeFlat(operation: string, storage: DataArray, shape: readonly number[], dtype: DType): FloatNdArray {
  const checked = checkShape(operation, shape);
  if (sizeOf(checked) !== storage.length) {
    throw new Error(`${operation}: ${storage.length} values cannot take shape ${formatShape(checked)}`);
  }
  return createNd(dtype, checked, storage);
}

function filled(operation: string, shape: readonly number[], value: number, options: CreationOptions): Tensor {
  checkCreationOptions(operation, options, CREATION_KEYS);
  if (typeof value !== 'number') throw new Error(`${operation}: value must be a number, got ${describeValue(value)}`);
  const checked = checkShape(operation, shape);
  const dtype = checkDType(operation, options.dtype);
  if (dtype === 'int32') checkInt32Values(operation, [value]);
  const data = storageFor(operation, dtype, checked);
  data.data.fill(value);
  return leaf(operation, data, options);
}

export function full(shape: readonly number[], value: number, options: CreationOptions = {}): Tensor {
  return filled('full', shape, value, options);
}

export function zeros(shape: readonly number[], options: CreationOptions = {}): Tensor {
  return filled('zeros', shape, 0, options);
}

export function ones(shape: readonly number[], options: CreationOptions = {}): Tensor {
  return filled('ones', shape, 1, options);
}

function checkLike(operation: string, like: unknown, options: unknown): Tensor {
  if (!(like instanceof Tensor)) throw new Error(`${operation}: expected a Tensor to take the shape of, got ${describeValue(like)}`);
  checkCreationOptions(operation, options, CREATION_KEYS);
  return like;
}

export function zerosLike(like: Tensor, options: CreationOptions = {}): Tensor {
  return filled('zerosLike', checkLike('zerosLike', like, options).shape, 0, { dtype: like.dtype, ...options });
}

export function onesLike(like: Tensor, options: CreationOptions = {}): Tensor {
  return filled('onesLike', checkLike('onesLike', like, options).shape, 1, { dtype: like.dtype, ...options });
}

export function fullLike(like: Tensor, value: number, options: CreationOptions = {}): Tensor {
  return filled('fullLike', checkLike('fullLike', like, options).shape, value, { dtype: like.dtype, ...options });
}

/** A short description of a bad argument for an error message. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return value.constructor?.name && value.constructor !== Object ? `a ${value.constructor.name}` : 'a plain object';
  return typeof value === 'number' ? `the number ${value}` : `${typeof value} ${String(JSON.stringify(value) ?? value)}`;
}

/**
 * arange(stop), arange(start, stop), arange(start, stop, step): values start, start+step, … below
 * stop; options may come last in any form (arange(5, { dtype: 'float64' })).
 */
export function arange(start: number, ...rest: (number | CreationOptions | undefined)[]): Tensor {
  const opts = (typeof rest[rest.length - 1] === 'object' ? rest.pop() : {}) as CreationOptions;
  checkCreationOptions('arange', opts, CREATION_KEYS);
  if (rest.length > 2 || [start, ...rest].some((value) => typeof value !== 'number' && value !== undefined)) {
    throw new Error(`arange: expected arange(stop), arange(start, stop) or arange(start, stop, step) with numbers, got ${JSON.stringify([start, ...rest])}`);
  }
  const [stop, step = 1] = rest as (number | undefined)[];
  const [from, to] = stop === undefined ? [0, start] : [start, stop];
  const stepValue = step;
  if (!Number.isFinite(from) || !Number.isFinite(to) || !Number.isFinite(stepValue) || stepValue === 0) {
    throw new Error(`arange: start, stop and step must be finite and step non-zero, got ${from}, ${to}, ${stepValue}`);
  }
  const length = Math.max(0, Math.ceil((to - from) / stepValue));
  const dtype = checkDType('arange', opts.dtype);
  if (dtype === 'int32') checkInt32Values('arange', [from, to, stepValue]);
  const data = storageFor('arange', dtype, checkShape('arange', [length]));
  for (let i = 0; i < length; i++) data.data[i] = from + i * stepValue;
  return leaf('arange', data, opts);
}

export function eye(size: number, options: CreationOptions = {}): Tensor {
  checkCreationOptions('eye', options, CREATION_KEYS);
  if (!Number.isInteger(size) || size < 0) throw new Error(`eye: size must be a non-negative integer, got ${size}`);
  const dtype = checkDType('eye', options.dtype);
  const data = storageFor('eye', dtype, checkShape('eye', [size, size]));
  for (let i = 0; i < size; i++) data.data[i * size + i] = 1;
  return leaf('eye', data, options);
}

function random(operation: string, shape: readonly number[], options: RandomOptions, draw: 'uniform' | 'normal'): Tensor {
  activeRecorder?.untraceable(`${operation} draws random numbers`, 'a replay would repeat the same draws; pass random tensors as arguments of the compiled function');
  checkCreationOptions(operation, options, RANDOM_KEYS);
  const checked = checkShape(operation, shape);
  const dtype = checkDType(operation, options.dtype);
  if (options.seed !== undefined && !Number.isSafeInteger(options.seed)) {
    throw new Error(`${operation}: seed must be an integer, got ${typeof options.seed === 'number' ? options.seed : JSON.stringify(options.seed)}`);
  }
  if (dtype === 'int32') throw new Error(`${operation}: draws floats; dtype must be 'float32' or 'float64', got 'int32'`);
  // inside vmap with randomness 'different': one draw per example, the batch axis first
  const perExample = batchedRandom(operation, checked, (batchedShape) => random(operation, batchedShape, options, draw));
  if (perExample !== null) return perExample;
  const generator = generatorFor(options.seed);
  const data = storageFor(operation, dtype, checked);
  for (let i = 0; i < data.data.length; i++) data.data[i] = draw === 'uniform' ? generator.uniform() : generator.normal();
  return leaf(operation, data, options);
}

/** Standard normal samples; the same seed gives the same numbers. */
export function randn(shape: readonly number[], options: RandomOptions = {}): Tensor {
  return random('randn', shape, options, 'normal');
}

/** Uniform samples in [0, 1); the same seed gives the same numbers. */
export function rand(shape: readonly number[], options: RandomOptions = {}): Tensor {
  return random('rand', shape, options, 'uniform');
}
