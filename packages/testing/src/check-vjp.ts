import { backwardPass, enableGrad, noGrad, randn, tensor, Tensor } from '@normgrad/core';

export interface CheckVjpOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Seed of the random input direction and output cotangent (default 0). */
  seed?: number;
}

export interface CheckVjpResult {
  ok: boolean;
  /** ⟨vjp(v), t⟩ from the backward pass. */
  analytic: number;
  /** ⟨(f(x + εt) − f(x − εt)) / 2ε, v⟩ from central differences. */
  numeric: number;
  absError: number;
}

function dot(a: Float64Array, b: Float64Array): number {
  let total = 0;
  for (let i = 0; i < a.length; i++) total += a[i]! * b[i]!;
  return total;
}

/**
 * The VJP dot-product test (JAX's check_vjp idea): for a random input direction t and output
 * cotangent v, ⟨vjp(v), t⟩ must equal the directional derivative ⟨Jt, v⟩ from central
 * differences. One backward pass and two forward passes, whatever the sizes. Use float64 inputs.
 */
export function checkVjp(fn: (...inputs: Tensor[]) => Tensor, inputs: readonly Tensor[], options: CheckVjpOptions = {}): CheckVjpResult {
  const { eps = 1e-6, atol = 1e-6, rtol = 1e-5, seed = 0 } = options;
  const directions = inputs.map((input, index) => randn(input.shape, { dtype: 'float64', seed: seed * 7919 + index + 1 }).toFloat64Array());
  const values = inputs.map((input) => input.toFloat64Array());
  const shifted = (scale: number): Tensor[] =>
    inputs.map((input, index) => {
      const data = values[index]!.map((value, element) => value + scale * directions[index]![element]!);
      return tensor(data, { dtype: input.dtype, shape: input.shape });
    });
  const leaves = shifted(0).map((leaf) => {
    leaf.requiresGrad = true;
    return leaf;
  });
  const output = enableGrad(() => fn(...leaves));
  if (!(output instanceof Tensor)) throw new Error('checkVjp: the function must return a Tensor');
  const cotangent = randn(output.shape, { dtype: output.dtype, seed: seed * 7919 });
  const grads = output.requiresGrad
    ? backwardPass([output], [cotangent], { targets: leaves, createGraph: false, retainGraph: false })
    : new Map<Tensor, Tensor>();
  const analytic = leaves.reduce((total, leaf, index) => {
    const gradient = grads.get(leaf);
    return gradient ? total + dot(gradient.toFloat64Array(), directions[index]!) : total;
  }, 0);
  const plus = noGrad(() => fn(...shifted(eps))).toFloat64Array();
  const minus = noGrad(() => fn(...shifted(-eps))).toFloat64Array();
  const difference = plus.map((value, index) => (value - minus[index]!) / (2 * eps));
  const numeric = dot(difference, cotangent.toFloat64Array());
  const absError = Math.abs(analytic - numeric);
  return { ok: absError <= atol + rtol * Math.abs(numeric), analytic, numeric, absError };
}
