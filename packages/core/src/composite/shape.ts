import { noGrad } from '../grad-mode.js';
import { full } from '../creation.js';
import { sizeOf } from '../kernels/layout.js';
import { primitives } from '../ops/index.js';
import { Tensor, type Axes, type SliceRange } from '../tensor.js';
import type { DType } from '../dtype.js';
import { isDType } from '../dtype.js';
import { where } from './elementwise.js';
import { broadcastShapes, checkFloat, formatShape, normalizeAxes, normalizeAxis, sameShape } from './validate.js';

/** A new shape for the same elements; one extent may be -1 (inferred). */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  if (!Array.isArray(shape) || !shape.every((extent) => Number.isInteger(extent) && extent >= -1)) {
    throw new Error(`reshape: shape must be an array of integers ≥ -1, got ${JSON.stringify(shape)}`);
  }
  const inferred = shape.filter((extent) => extent === -1).length;
  if (inferred > 1) throw new Error(`reshape: only one extent may be -1, got ${formatShape(shape)}`);
  const known = shape.reduce((product, extent) => (extent === -1 ? product : product * extent), 1);
  const target = shape.map((extent) => (extent === -1 ? (known === 0 ? 0 : x.size / known) : extent));
  if (sizeOf(target) !== x.size || !target.every(Number.isInteger)) {
    throw new Error(`reshape: cannot reshape a tensor of shape ${formatShape(x.shape)} (${x.size} elements) into ${formatShape(shape)}`);
  }
  return sameShape(target, x.shape) ? x : primitives.reshape([x], { shape: target });
}

export function permute(x: Tensor, permutation: readonly number[]): Tensor {
  const normalized = (permutation ?? []).map((axis) => normalizeAxis('permute', axis, x.ndim, x.shape));
  if (normalized.length !== x.ndim || new Set(normalized).size !== x.ndim) {
    throw new Error(`permute: ${JSON.stringify(permutation)} is not a permutation of the ${x.ndim} axes of a tensor of shape ${formatShape(x.shape)}`);
  }
  return normalized.every((axis, index) => axis === index) ? x : primitives.permute([x], { permutation: normalized });
}

/** transpose() reverses the axes; transpose(a, b) swaps axes a and b (as PyTorch); a full permutation is also accepted. */
export function transpose(x: Tensor, ...axes: number[]): Tensor {
  if (axes.length === 0) return permute(x, x.shape.map((_, axis) => x.ndim - 1 - axis));
  if (axes.length === 2) {
    const first = normalizeAxis('transpose', axes[0]!, x.ndim, x.shape);
    const second = normalizeAxis('transpose', axes[1]!, x.ndim, x.shape);
    const permutation = x.shape.map((_, axis) => axis);
    permutation[first] = second;
    permutation[second] = first;
    return permute(x, permutation);
  }
  if (axes.length === x.ndim) return permute(x, axes);
  throw new Error(`transpose: expected no axes, two axes to swap or a full permutation for shape ${formatShape(x.shape)}, got ${JSON.stringify(axes)}`);
}

/** A stride-0 view with NumPy broadcasting; its gradient sums back over the broadcast axes. */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  const target = [...shape];
  const ok = target.length >= x.ndim && sameShape(broadcastShapesOrNull(x.shape, target) ?? [], target);
  if (!ok) throw new Error(`broadcastTo: cannot broadcast a tensor of shape ${formatShape(x.shape)} to ${formatShape(target)}`);
  return sameShape(x.shape, target) ? x : primitives.broadcastTo([x], { shape: target });
}

function broadcastShapesOrNull(left: readonly number[], right: readonly number[]): number[] | null {
  try {
    return broadcastShapes('broadcastTo', left, right);
  } catch {
    return null;
  }
}

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const position = normalizeAxis('unsqueeze', axis, x.ndim + 1, x.shape);
  const shape = [...x.shape];
  shape.splice(position, 0, 1);
  return reshape(x, shape);
}

/** Removes extent-1 axes: all of them, or the given ones (an axis whose extent is not 1 is left, as PyTorch). */
export function squeeze(x: Tensor, axis?: Axes): Tensor {
  const axes = axis === undefined || axis === null ? null : normalizeAxes('squeeze', axis, x.ndim, x.shape);
  return reshape(x, x.shape.filter((extent, index) => extent !== 1 || (axes !== null && !axes.includes(index))));
}

/** Merges axes startAxis..endAxis (inclusive) into one. */
export function flatten(x: Tensor, startAxis = 0, endAxis = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const start = normalizeAxis('flatten', startAxis, x.ndim, x.shape);
  const end = normalizeAxis('flatten', endAxis, x.ndim, x.shape);
  if (start > end) throw new Error(`flatten: startAxis ${startAxis} comes after endAxis ${endAxis} for shape ${formatShape(x.shape)}`);
  const merged = x.shape.slice(start, end + 1).reduce((product, extent) => product * extent, 1);
  return reshape(x, [...x.shape.slice(0, start), merged, ...x.shape.slice(end + 1)]);
}

/**
 * Python-style slicing of the leading axes: each range is null (the whole axis), an index
 * (which drops the axis) or [start?, end?, step?] with negative indices counting from the end.
 * x.slice(null, [1, 3]) is x[:, 1:3]; x.slice(0, [null, null, 2]) is x[0, ::2].
 */
export function slice(x: Tensor, ...ranges: SliceRange[]): Tensor {
  if (ranges.length > x.ndim) {
    throw new Error(`slice: ${ranges.length} ranges given for a tensor of shape ${formatShape(x.shape)}`);
  }
  const starts = x.shape.map(() => 0);
  const lengths = [...x.shape];
  const steps = x.shape.map(() => 1);
  const dropped: number[] = [];
  ranges.forEach((range, axis) => {
    const extent = x.shape[axis]!;
    if (range === null || range === undefined) return;
    if (typeof range === 'number') {
      if (!Number.isInteger(range) || range < -extent || range >= extent) {
        throw new Error(`slice: index ${range} is out of range for axis ${axis} of extent ${extent} (shape ${formatShape(x.shape)})`);
      }
      starts[axis] = range < 0 ? range + extent : range;
      lengths[axis] = 1;
      dropped.push(axis);
      return;
    }
    const [start, end] = range;
    const step = range[2] ?? 1;
    if (!Number.isInteger(step) || step <= 0) throw new Error(`slice: step must be a positive integer, got ${step} for axis ${axis} of shape ${formatShape(x.shape)}`);
    for (const bound of [start, end]) {
      if (bound !== undefined && bound !== null && !Number.isInteger(bound)) throw new Error(`slice: bounds must be integers, got ${bound} for axis ${axis}`);
    }
    const clampIndex = (index: number | undefined | null, fallback: number): number => {
      if (index === undefined || index === null) return fallback;
      const shifted = index < 0 ? index + extent : index;
      return Math.min(Math.max(shifted, 0), extent);
    };
    const first = clampIndex(start, 0);
    const stop = clampIndex(end, extent);
    starts[axis] = first;
    lengths[axis] = stop > first ? Math.ceil((stop - first) / step) : 0;
    steps[axis] = step;
  });
  const unchanged = starts.every((start) => start === 0) && sameShape(lengths, x.shape) && steps.every((step) => step === 1);
  const view = unchanged ? x : primitives.slice([x], { starts, lengths, steps });
  return dropped.length === 0 ? view : reshape(view, view.shape.filter((_, axis) => !dropped.includes(axis)));
}

/** length elements of one axis starting at start (as PyTorch's narrow). */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  const normalized = normalizeAxis('narrow', axis, x.ndim, x.shape);
  const extent = x.shape[normalized]!;
  const first = start < 0 ? start + extent : start;
  if (!Number.isInteger(first) || !Number.isInteger(length) || first < 0 || length < 0 || first + length > extent) {
    throw new Error(`narrow: start ${start} and length ${length} do not fit axis ${axis} of extent ${extent} (shape ${formatShape(x.shape)})`);
  }
  const ranges: SliceRange[] = x.shape.map(() => null);
  ranges[normalized] = [first, first + length];
  return slice(x, ...ranges);
}

/**
 * Pads the trailing widths.length axes with `value`: widths[i] = [before, after] for axis
 * ndim − widths.length + i. pad(x, [[1, 1], [1, 1]]) pads H and W of an NCHW tensor by one.
 */
export function pad(x: Tensor, widths: readonly (readonly [number, number])[], value = 0): Tensor {
  if (!Array.isArray(widths) || widths.length > x.ndim) {
    throw new Error(`pad: widths must be at most ${x.ndim} [before, after] pairs for shape ${formatShape(x.shape)}, got ${JSON.stringify(widths)}`);
  }
  const leading = x.ndim - widths.length;
  const starts = x.shape.map(() => 0);
  const shape = [...x.shape];
  widths.forEach((pair, index) => {
    const [before, after] = pair ?? [];
    if (!Number.isInteger(before) || !Number.isInteger(after) || before! < 0 || after! < 0) {
      throw new Error(`pad: widths must be non-negative integers, got ${JSON.stringify(pair)}`);
    }
    starts[leading + index] = before!;
    shape[leading + index] = x.shape[leading + index]! + before! + after!;
  });
  const steps = x.shape.map(() => 1);
  const placed = primitives.unslice([x], { shape, starts, steps });
  if (value === 0) return placed;
  // select rather than add a border, so that a value of ±Infinity (max pooling) leaves the interior intact
  const inside = noGrad(() => primitives.unslice([full(x.shape, 1, { dtype: x.dtype })], { shape, starts, steps }));
  return where(inside, placed, value);
}

export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0 || !tensors.every((item) => item instanceof Tensor)) {
    throw new Error('concat: expected a non-empty array of Tensors');
  }
  const first = tensors[0]!;
  if (first.ndim === 0) throw new Error('concat: cannot concatenate 0-d tensors; use stack');
  const normalized = normalizeAxis('concat', axis, first.ndim, first.shape);
  for (const item of tensors) {
    if (item.dtype !== first.dtype) {
      throw new Error(`concat: dtype mismatch: ${first.dtype} ${formatShape(first.shape)} and ${item.dtype} ${formatShape(item.shape)}`);
    }
    const compatible = item.ndim === first.ndim && item.shape.every((extent, index) => index === normalized || extent === first.shape[index]);
    if (!compatible) {
      throw new Error(`concat: shapes ${tensors.map((t) => formatShape(t.shape)).join(', ')} differ outside axis ${axis}`);
    }
  }
  return tensors.length === 1 ? first : primitives.concat(tensors, { axis: normalized });
}

export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0 || !tensors.every((item) => item instanceof Tensor)) {
    throw new Error('stack: expected a non-empty array of Tensors');
  }
  const first = tensors[0]!;
  if (!tensors.every((item) => sameShape(item.shape, first.shape))) {
    throw new Error(`stack: all tensors must have the same shape, got ${tensors.map((t) => formatShape(t.shape)).join(', ')}`);
  }
  const position = normalizeAxis('stack', axis, first.ndim + 1, first.shape);
  return concat(tensors.map((item) => unsqueeze(item, position)), position);
}

/**
 * Matrix product with NumPy/PyTorch semantics: 1-D operands are promoted (and the added axis
 * removed), batch axes broadcast.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (!(a instanceof Tensor) || !(b instanceof Tensor)) throw new Error('matmul: both operands must be Tensors');
  if (a.ndim === 0 || b.ndim === 0) throw new Error(`matmul: operands must have at least one dimension, got ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
  checkFloat('matmul', a, 'the left operand');
  checkFloat('matmul', b, 'the right operand');
  if (a.dtype !== b.dtype) throw new Error(`matmul: dtype mismatch: ${a.dtype} ${formatShape(a.shape)} and ${b.dtype} ${formatShape(b.shape)}`);
  const left = a.ndim === 1 ? reshape(a, [1, a.shape[0]!]) : a;
  const right = b.ndim === 1 ? reshape(b, [b.shape[0]!, 1]) : b;
  const [rows, inner] = left.shape.slice(-2) as [number, number];
  const [innerRight, columns] = right.shape.slice(-2) as [number, number];
  if (inner !== innerRight) {
    throw new Error(`matmul: shapes ${formatShape(a.shape)} and ${formatShape(b.shape)} cannot be multiplied (${inner} ≠ ${innerRight})`);
  }
  const batch = broadcastShapes('matmul', left.shape.slice(0, -2), right.shape.slice(0, -2));
  const product = primitives.matmul([broadcastTo(left, [...batch, rows, inner]), broadcastTo(right, [...batch, inner, columns])], undefined);
  const shape = [...batch, ...(a.ndim === 1 ? [] : [rows]), ...(b.ndim === 1 ? [] : [columns])];
  return reshape(product, shape);
}

/**
 * Converts to another dtype; the gradient converts back. To int32 (indices), values are truncated
 * toward zero as PyTorch does; such a result has no gradient.
 */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (!isDType(dtype)) throw new Error(`cast: dtype must be 'float32', 'float64' or 'int32', got ${JSON.stringify(dtype)}`);
  return x.dtype === dtype ? x : primitives.cast([x], { dtype });
}

