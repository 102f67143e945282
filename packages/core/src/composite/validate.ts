/** Shared input checks: every public op validates up front and names itself and the values. */

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * An axis in [-ndim, ndim) as a non-negative index. Pass the tensor's shape so that the error
 * names it (for unsqueeze/stack, ndim is one more than the shape's length).
 */
export function normalizeAxis(operation: string, axis: number, ndim: number, shape?: readonly number[]): number {
  if (!Number.isInteger(axis) || axis < -ndim || axis >= ndim) {
    const tensor = shape ? `a tensor of shape ${formatShape(shape)}` : `a tensor with ${ndim} dimension${ndim === 1 ? '' : 's'}`;
    const valid = ndim > 0 ? ` (expected an integer in [${-ndim}, ${ndim - 1}])` : '';
    throw new Error(`${operation}: axis ${axis} is out of range for ${tensor}${valid}`);
  }
  return axis < 0 ? axis + ndim : axis;
}

/** Axes as sorted, distinct, non-negative indices; null/undefined means every axis. */
export function normalizeAxes(
  operation: string,
  axes: number | readonly number[] | null | undefined,
  ndim: number,
  shape?: readonly number[],
): number[] {
  if (axes === null || axes === undefined) return Array.from({ length: ndim }, (_, axis) => axis);
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const normalized = list.map((axis) => normalizeAxis(operation, axis, ndim, shape));
  if (new Set(normalized).size !== normalized.length) {
    throw new Error(`${operation}: repeated axis in ${JSON.stringify(list)}${shape ? ` for a tensor of shape ${formatShape(shape)}` : ''}`);
  }
  return normalized.sort((a, b) => a - b);
}

/** The shape with the given axes set to 1 (what keepdims produces). */
export function keptShape(shape: readonly number[], axes: readonly number[]): number[] {
  return shape.map((extent, axis) => (axes.includes(axis) ? 1 : extent));
}

/** NumPy broadcasting of two shapes. */
export function broadcastShapes(operation: string, left: readonly number[], right: readonly number[]): number[] {
  const rank = Math.max(left.length, right.length);
  const shape = new Array<number>(rank);
  for (let i = 1; i <= rank; i++) {
    const a = left[left.length - i] ?? 1;
    const b = right[right.length - i] ?? 1;
    if (a !== b && a !== 1 && b !== 1) {
      throw new Error(`${operation}: shapes ${formatShape(left)} and ${formatShape(right)} are not broadcast-compatible`);
    }
    shape[rank - i] = a === 1 ? b : a;
  }
  return shape;
}

export function sameShape(left: readonly number[], right: readonly number[]): boolean {
  return left.length === right.length && left.every((extent, axis) => extent === right[axis]);
}

/** Levenshtein distance, for "did you mean" suggestions. */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/**
 * Checks an options argument: undefined or a plain object whose keys are all in `known`. An
 * unknown key is an Error naming the entry point and the key, and for a near miss the key it
 * probably meant (`Conv2d: unknown option 'bais' (did you mean 'bias'?); known options: …`).
 */
export function checkOptions(entryPoint: string, options: unknown, known: readonly string[]): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options) || options instanceof Float32Array || options instanceof Float64Array) {
    const shown = Array.isArray(options) ? 'an array' : options === null ? 'null' : typeof options;
    throw new Error(`${entryPoint}: expected an options object, got ${shown}`);
  }
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const closest = known
      .map((candidate) => ({ candidate, distance: editDistance(key, candidate) }))
      .sort((a, b) => a.distance - b.distance)[0];
    const hint = closest && closest.distance <= Math.max(2, Math.floor(key.length / 3)) ? ` (did you mean '${closest.candidate}'?)` : '';
    const list = known.length > 0 ? `; known options: ${known.join(', ')}` : '; it takes no options';
    throw new Error(`${entryPoint}: unknown option '${key}'${hint}${list}`);
  }
}

/**
 * Float-only ops (exp, div, mean, matmul, …) reject int32 tensors, which hold indices, with an
 * Error naming the op; `.to('float32')` converts explicitly.
 */
export function checkFloat(operation: string, x: { dtype: string; shape: readonly number[] }, position = 'input'): void {
  if (x.dtype === 'int32') {
    throw new Error(`${operation}: ${position} is an int32 tensor of shape ${formatShape(x.shape)}; ${operation} needs float32 or float64 (convert with .to('float32'))`);
  }
}
