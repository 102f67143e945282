import { broadcastConstant, full } from '../creation.js';
import { primitives } from '../ops/index.js';
import type { Comparison } from '../ops/compare.js';
import type { Primitive } from '../primitive.js';
import { Tensor, type Operand } from '../tensor.js';
import { broadcastShapes, checkFloat, formatShape, sameShape } from './validate.js';
import { broadcastTo } from './shape.js';
import { stopGradientValue } from '../stop-gradient.js';

/** `value` as a Tensor, or an Error naming the operation and the position (`input`, `argument 1`, …). */
export function checkTensor(operation: string, value: unknown, position: string): Tensor {
  if (!(value instanceof Tensor)) throw new Error(`${operation}: ${position} must be a Tensor, got ${value === null ? 'null' : typeof value}`);
  return value;
}

/**
 * Turns a plain number into a 0-d tensor of the other operand's dtype; tensors must share a dtype.
 * With an int32 tensor the number must be an integer (it is not silently truncated).
 */
function toTensors(operation: string, operands: readonly Operand[]): Tensor[] {
  const like = operands.find((operand): operand is Tensor => operand instanceof Tensor);
  if (like === undefined) throw new Error(`${operation}: at least one operand must be a Tensor`);
  return operands.map((operand, index) => {
    if (typeof operand === 'number') {
      if (like.dtype === 'int32' && !Number.isInteger(operand)) {
        throw new Error(`${operation}: the number ${operand} is not an integer, but the other operand is an int32 tensor of shape ${formatShape(like.shape)} (convert it with .to('float32'))`);
      }
      return full([], operand, { dtype: like.dtype });
    }
    const tensor = checkTensor(operation, operand, `operand ${index}`);
    if (tensor.dtype !== like.dtype) {
      throw new Error(`${operation}: dtype mismatch: ${like.dtype} ${formatShape(like.shape)} and ${tensor.dtype} ${formatShape(tensor.shape)}`);
    }
    return tensor;
  });
}

/**
 * The tensors broadcast to their common shape. A tensor made from a number operand (`operands`
 * holds the op's operands as given, in the same order) becomes a constant of that shape directly.
 */
function broadcastAll(operation: string, tensors: readonly Tensor[], operands: readonly Operand[] = tensors): Tensor[] {
  const shape = tensors.reduce<number[]>((current, tensor) => broadcastShapes(operation, current, tensor.shape), []);
  return tensors.map((tensor, index) => {
    if (sameShape(tensor.shape, shape)) return tensor;
    const operand = operands[index];
    return typeof operand === 'number' ? broadcastConstant(operand, shape, tensor.dtype) : broadcastTo(tensor, shape);
  });
}

/** `integers`: the op is also defined on int32 tensors (add, mul, maximum, …); otherwise they are an Error. */
function binary(operation: string, op: Primitive<undefined>, a: Operand, b: Operand, integers = true): Tensor {
  return op(binaryOperands(operation, a, b, integers), undefined);
}

/**
 * A binary op's operands, checked and broadcast to their common shape. The common cases (two
 * tensors of one dtype and shape; a float tensor and a number) skip the general walk, whose
 * result would be the same.
 */
function binaryOperands(operation: string, a: Operand, b: Operand, integers: boolean): Tensor[] {
  if (a instanceof Tensor && b instanceof Tensor && a.dtype === b.dtype && sameShape(a.shape, b.shape)) {
    if (!integers) checkFloat(operation, a, 'the operand');
    return [a, b];
  }
  if (a instanceof Tensor && typeof b === 'number' && a.dtype !== 'int32' && a.ndim > 0) return [a, broadcastConstant(b, a.shape, a.dtype)];
  if (typeof a === 'number' && b instanceof Tensor && b.dtype !== 'int32' && b.ndim > 0) return [broadcastConstant(a, b.shape, b.dtype), b];
  const operands = toTensors(operation, [a, b]);
  if (!integers) checkFloat(operation, operands[0]!, 'the operand');
  return broadcastAll(operation, operands, [a, b]);
}

function unary(operation: string, op: Primitive<undefined>, x: Tensor, integers = false): Tensor {
  checkTensor(operation, x, 'input');
  if (!integers) checkFloat(operation, x);
  return op([x], undefined);
}

export const add = (a: Operand, b: Operand): Tensor => binary('add', primitives.add, a, b);
export const sub = (a: Operand, b: Operand): Tensor => binary('sub', primitives.sub, a, b);
export const mul = (a: Operand, b: Operand): Tensor => binary('mul', primitives.mul, a, b);
export const div = (a: Operand, b: Operand): Tensor => binary('div', primitives.div, a, b, false);
export const pow = (base: Operand, exponent: Operand): Tensor => binary('pow', primitives.pow, base, exponent, false);
export const maximum = (a: Operand, b: Operand): Tensor => binary('maximum', primitives.maximum, a, b);
/** Elementwise minimum; ties split the gradient evenly (as PyTorch). */
export function minimum(a: Operand, b: Operand): Tensor {
  broadcastAll('minimum', toTensors('minimum', [a, b])); // its own errors, before the maximum it is made of
  return neg(maximum(negOperand(a), negOperand(b)));
}

function negOperand(value: Operand): Operand {
  return typeof value === 'number' ? -value : neg(value);
}

function comparison(kind: Comparison, a: Operand, b: Operand): Tensor {
  return primitives.compare(broadcastAll(kind, toTensors(kind, [a, b]), [a, b]), { comparison: kind });
}

/** Elementwise comparisons give 1 where true and 0 where false, in the operands' dtype. */
export const lt = (a: Operand, b: Operand): Tensor => comparison('lt', a, b);
export const le = (a: Operand, b: Operand): Tensor => comparison('le', a, b);
export const gt = (a: Operand, b: Operand): Tensor => comparison('gt', a, b);
export const ge = (a: Operand, b: Operand): Tensor => comparison('ge', a, b);
export const eq = (a: Operand, b: Operand): Tensor => comparison('eq', a, b);
export const ne = (a: Operand, b: Operand): Tensor => comparison('ne', a, b);

/** Elements of a where condition is non-zero, else of b; all three broadcast together. */
export function where(condition: Tensor, a: Operand, b: Operand): Tensor {
  checkTensor('where', condition, 'condition');
  const [x, y] = toTensors('where', [a, b]);
  return primitives.where(broadcastAll('where', [condition, x!, y!], [condition, a, b]), undefined);
}

export const neg = (x: Tensor): Tensor => unary('neg', primitives.neg, x, true);
export const exp = (x: Tensor): Tensor => unary('exp', primitives.exp, x);
export const log = (x: Tensor): Tensor => unary('log', primitives.log, x);
export const sqrt = (x: Tensor): Tensor => unary('sqrt', primitives.sqrt, x);
export const reciprocal = (x: Tensor): Tensor => unary('reciprocal', primitives.reciprocal, x);
export const abs = (x: Tensor): Tensor => unary('abs', primitives.abs, x, true);
export const sign = (x: Tensor): Tensor => unary('sign', primitives.sign, x, true);
export const sin = (x: Tensor): Tensor => unary('sin', primitives.sin, x);
export const cos = (x: Tensor): Tensor => unary('cos', primitives.cos, x);
export const tanh = (x: Tensor): Tensor => unary('tanh', primitives.tanh, x);
export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', primitives.sigmoid, x);

export function rsqrt(x: Tensor): Tensor {
  checkFloat('rsqrt', checkTensor('rsqrt', x, 'input'));
  return reciprocal(sqrt(x));
}
export const square = (x: Tensor): Tensor => mul(x, x);
/** max(x, 0) with gradient 0 at x = 0 (as PyTorch). */
export const relu = (x: Tensor): Tensor => where(gt(checkTensor('relu', x, 'input'), 0), x, 0);

/** Limits x to [min, max]; the gradient passes where min ≤ x ≤ max (as PyTorch). */
export function clamp(x: Tensor, min?: number | null, max?: number | null): Tensor {
  checkTensor('clamp', x, 'input');
  const hasMin = min !== null && min !== undefined;
  const hasMax = max !== null && max !== undefined;
  if (!hasMin && !hasMax) throw new Error('clamp: at least one of min and max must be given');
  if ((hasMin && typeof min !== 'number') || (hasMax && typeof max !== 'number')) throw new Error(`clamp: min and max must be numbers, got ${JSON.stringify(min)}, ${JSON.stringify(max)}`);
  if ((hasMin && Number.isNaN(min)) || (hasMax && Number.isNaN(max))) throw new Error(`clamp: min and max must not be NaN, got ${min}, ${max}`);
  let result = x;
  if (hasMin) result = where(lt(result, min), min, result);
  if (hasMax) result = where(gt(result, max), max, result);
  return result;
}

/** A copy with its own storage; the gradient passes through unchanged. */
export const clone = (x: Tensor): Tensor => mul(x, 1);

/**
 * The same values with no history: gradients do not flow back through it. Unlike `.detach()`,
 * it declares intent, so numerical checks hold its value fixed (see stop-gradient.ts).
 */
export const stopGradient = (x: Tensor): Tensor => stopGradientValue(checkTensor('stopGradient', x, 'input').detach());
