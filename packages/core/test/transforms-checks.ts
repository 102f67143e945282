/**
 * Forward-mode checks shared by the primitive spec table and the transform tests: jvp against
 * central differences, the transpose identity ⟨jvp(t), v⟩ = ⟨t, vjp(v)⟩, and second order in
 * the mixed modes (forward-over-forward, forward-over-reverse, reverse-over-forward).
 */
import * as ng from '@normgrad/core';
import type { Tensor } from '@normgrad/core';
import { checkVjp } from '@normgrad/testing';

type Fn = (...inputs: Tensor[]) => Tensor;

export interface ForwardCheck {
  ok: boolean;
  /** What was compared, for failure messages. */
  detail: string;
}

function directions(inputs: readonly Tensor[], seed: number): Tensor[] {
  return inputs.map((input, index) => ng.randn(input.shape, { dtype: input.dtype, seed: seed * 7919 + index + 1 }));
}

function dot(a: Tensor, b: Tensor): number {
  const x = a.toFloat64Array();
  const y = b.toFloat64Array();
  let total = 0;
  for (let i = 0; i < x.length; i++) total += x[i]! * y[i]!;
  return total;
}

/** (fn(x + εt) − fn(x − εt)) / 2ε, evaluated without any transform. */
function centralDifference(fn: Fn, inputs: readonly Tensor[], tangents: readonly Tensor[], eps: number): Float64Array {
  const at = (scale: number) => ng.noGrad(() => fn(...inputs.map((input, index) => input.detach().add(tangents[index]!.mul(scale))))).toFloat64Array();
  const plus = at(eps);
  const minus = at(-eps);
  return plus.map((value, index) => (value - minus[index]!) / (2 * eps));
}

function compareElements(label: string, analytic: Float64Array, numeric: Float64Array, atol: number, rtol: number): ForwardCheck {
  if (analytic.length !== numeric.length) return { ok: false, detail: `${label}: ${analytic.length} analytic vs ${numeric.length} numeric elements` };
  for (let i = 0; i < analytic.length; i++) {
    const error = Math.abs(analytic[i]! - numeric[i]!);
    if (!(error <= atol + rtol * Math.abs(numeric[i]!))) return { ok: false, detail: `${label}: element ${i} analytic ${analytic[i]} vs numeric ${numeric[i]}` };
  }
  return { ok: true, detail: label };
}

/** jvp(fn, inputs, t) against central differences along a random t, element by element. */
export function checkJvp(fn: Fn, inputs: readonly Tensor[], options: { seed?: number; eps?: number; atol?: number; rtol?: number } = {}): ForwardCheck {
  const { seed = 0, eps = 1e-6, atol = 1e-6, rtol = 1e-4 } = options;
  const tangents = directions(inputs, seed);
  const [, tangent] = ng.jvp(fn, inputs, tangents);
  return compareElements('jvp vs central differences', tangent.toFloat64Array(), centralDifference(fn, inputs, tangents, eps), atol, rtol);
}

/** The transpose identity ⟨jvp(t), v⟩ = ⟨t, vjp(v)⟩ for random t and v (both sides analytic). */
export function checkTranspose(fn: Fn, inputs: readonly Tensor[], options: { seed?: number; tolerance?: number } = {}): ForwardCheck {
  const { seed = 0, tolerance = 1e-10 } = options;
  const tangents = directions(inputs, seed);
  const [output, tangent] = ng.jvp(fn, inputs, tangents);
  const cotangent = ng.randn(output.shape, { dtype: output.dtype, seed: seed * 7919 });
  const [, pullback] = ng.vjp(fn, ...inputs);
  const cotangents = pullback(cotangent);
  const forward = dot(tangent, cotangent);
  const reverse = cotangents.reduce((total, gradient, index) => total + dot(gradient, tangents[index]!), 0);
  const ok = Math.abs(forward - reverse) <= tolerance * (1 + Math.abs(forward));
  return { ok, detail: `⟨jvp(t), v⟩ ${forward} vs ⟨t, vjp(v)⟩ ${reverse}` };
}

/** The flattened, concatenated pullback of ⟨fn, v⟩ (reverse mode as a function of the inputs). */
function pullbackOf(fn: Fn, cotangentSeed: number): Fn {
  return (...xs) => {
    const [output, pullback] = ng.vjp(fn, ...xs);
    const cotangent = ng.randn(output.shape, { dtype: output.dtype, seed: cotangentSeed });
    return ng.concat(pullback(cotangent).map((gradient) => gradient.reshape([-1])), 0);
  };
}

/** The output tangent of fn along fixed tangents (forward mode as a function of the inputs). */
function tangentOf(fn: Fn, tangents: readonly Tensor[]): Fn {
  return (...xs) => ng.jvp(fn, xs, tangents)[1];
}

/**
 * Second derivatives in the mixed modes, each against central differences of the (already
 * checked) first-order quantity: forward-over-forward, forward-over-reverse, reverse-over-forward.
 */
export function checkSecondOrderMixed(fn: Fn, inputs: readonly Tensor[], options: { seed?: number; atol?: number; rtol?: number } = {}): ForwardCheck {
  const { seed = 0, atol = 1e-5, rtol = 1e-3 } = options;
  const inner = directions(inputs, seed + 101);
  const outer = directions(inputs, seed + 202);
  const forward = tangentOf(fn, inner);
  const forwardOverForward = compareElements(
    'forward-over-forward',
    ng.jvp(forward, inputs, outer)[1].toFloat64Array(),
    centralDifference(forward, inputs, outer, 1e-6),
    atol,
    rtol,
  );
  if (!forwardOverForward.ok) return forwardOverForward;
  const reverse = pullbackOf(fn, seed * 7919 + 3);
  const forwardOverReverse = compareElements(
    'forward-over-reverse',
    ng.jvp(reverse, inputs, outer)[1].toFloat64Array(),
    centralDifference(reverse, inputs, outer, 1e-6),
    atol,
    rtol,
  );
  if (!forwardOverReverse.ok) return forwardOverReverse;
  const reverseOverForward = checkVjp(forward, inputs, { seed: seed + 7, atol, rtol });
  return { ok: reverseOverForward.ok, detail: `reverse-over-forward: ⟨vjp(v), t⟩ ${reverseOverForward.analytic} vs ${reverseOverForward.numeric}` };
}
