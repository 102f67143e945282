import { Tensor, formatShape, type NestedArray } from '@normgrad/core';

export type Comparable = Tensor | NestedArray | Float32Array | Float64Array | readonly number[];

export interface AllcloseOptions {
  rtol?: number;
  atol?: number;
  /** Treat NaN as equal to NaN (default true). */
  equalNan?: boolean;
}

export interface AllcloseReport {
  pass: boolean;
  message: string;
}

function flatten(value: Comparable): { shape: number[] | null; values: number[] } {
  if (value instanceof Tensor) return { shape: value.shape, values: Array.from(value.toFloat64Array()) };
  if (typeof value === 'number') return { shape: [], values: [value] };
  if (value instanceof Float32Array || value instanceof Float64Array) return { shape: null, values: Array.from(value) };
  return { shape: null, values: (value as unknown[]).flat(Infinity) as number[] };
}

/** |actual − expected| ≤ atol + rtol·|expected| elementwise (NumPy's allclose), with shapes checked for tensors. */
export function allclose(actual: Comparable, expected: Comparable, options: AllcloseOptions = {}): AllcloseReport {
  const { rtol = 1e-5, atol = 1e-8, equalNan = true } = options;
  const a = flatten(actual);
  const b = flatten(expected);
  if (a.shape && b.shape && formatShape(a.shape) !== formatShape(b.shape)) {
    return { pass: false, message: `shapes differ: ${formatShape(a.shape)} vs ${formatShape(b.shape)}` };
  }
  if (a.values.length !== b.values.length) return { pass: false, message: `sizes differ: ${a.values.length} vs ${b.values.length}` };
  let worst = -1;
  let worstScore = 0;
  let failures = 0;
  a.values.forEach((value, index) => {
    const target = b.values[index]!;
    if (equalNan && Number.isNaN(value) && Number.isNaN(target)) return;
    const error = value === target ? 0 : Math.abs(value - target);
    const tolerance = atol + rtol * Math.abs(target);
    const score = Number.isNaN(error) ? Infinity : error / Math.max(tolerance, Number.MIN_VALUE);
    if (!(error <= tolerance)) failures++;
    if (score > worstScore || worst < 0) {
      worstScore = score;
      worst = index;
    }
  });
  const detail =
    worst >= 0 ? `worst at flat index ${worst}: ${a.values[worst]} vs ${b.values[worst]} (|diff| ${Math.abs(a.values[worst]! - b.values[worst]!)})` : 'no elements';
  return {
    pass: failures === 0,
    message: failures === 0 ? `all ${a.values.length} elements within rtol ${rtol}, atol ${atol}` : `${failures} of ${a.values.length} elements differ beyond rtol ${rtol}, atol ${atol}; ${detail}`,
  };
}
