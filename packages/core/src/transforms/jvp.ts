import { zerosLike } from '../creation.js';
import { formatShape } from '../composite/validate.js';
import { primitives } from '../ops/index.js';
import { Tensor } from '../tensor.js';
import { clearTangent, setTangent, tangentAt, withNewLevel } from './forward-mode.js';

function checkTensors(operation: string, what: string, values: unknown): Tensor[] {
  if (!Array.isArray(values)) throw new Error(`${operation}: ${what} must be an array of Tensors, got ${typeof values}`);
  values.forEach((value, index) => {
    if (!(value instanceof Tensor)) throw new Error(`${operation}: ${what}[${index}] must be a Tensor, got ${value === null ? 'null' : typeof value}`);
  });
  return values as Tensor[];
}

/** Validates primals and tangents: arrays of Tensors of equal length, each tangent shaped and typed as its primal. */
export function checkPrimalsAndTangents(operation: string, primals: unknown, tangents: unknown): [Tensor[], Tensor[]] {
  const xs = checkTensors(operation, 'primals', primals);
  const ts = checkTensors(operation, 'tangents', tangents);
  if (xs.length !== ts.length) throw new Error(`${operation}: ${xs.length} primal(s) but ${ts.length} tangent(s); pass one tangent per primal`);
  xs.forEach((x, index) => {
    const t = ts[index]!;
    if (x.dtype === 'int32') {
      throw new Error(`${operation}: primal ${index} is an int32 tensor of shape ${formatShape(x.shape)}; indices are not differentiated (pass them through a closure, or convert with .to('float32'))`);
    }
    if (formatShape(t.shape) !== formatShape(x.shape) || t.dtype !== x.dtype) {
      throw new Error(`${operation}: tangent ${index} is ${t.dtype} ${formatShape(t.shape)} but primal ${index} is ${x.dtype} ${formatShape(x.shape)}; they must match`);
    }
  });
  return [xs, ts];
}

/**
 * Forward mode for a function with several Tensor outputs: its outputs at the primals and
 * their tangents along the given tangents (null: zero). Library-internal (jvp, hvp, jacfwd, hessian).
 */
export function jvpOfOutputs(
  operation: string,
  fn: (...args: Tensor[]) => readonly Tensor[],
  primals: readonly Tensor[],
  tangents: readonly (Tensor | null)[],
): [Tensor[], Tensor[]] {
  return withNewLevel((level) => {
    // fresh aliases carry this level's tangents, so a closure over a primal sees a constant
    const duals = primals.map((primal, index) => {
      const alias = primitives.reshape([primal], { shape: primal.shape });
      const tangent = tangents[index];
      if (tangent) setTangent(alias, level, tangent);
      return alias;
    });
    const outputs = fn(...duals);
    const outputTangents = outputs.map((output, index) => {
      if (!(output instanceof Tensor)) throw new Error(`${operation}: the function must return a Tensor, got ${typeof output} (output ${index})`);
      return tangentAt(output, level) ?? zerosLike(output);
    });
    for (const output of outputs) clearTangent(output, level);
    return [[...outputs], outputTangents];
  });
}

/**
 * Forward-mode differentiation: `jvp(f, primals, tangents)` is `[f(...primals), ∂f·tangents]`,
 * the output and its directional derivative along the tangents (JAX's jax.jvp). One forward
 * pass, no graph kept. It composes with itself and with grad/vjp to any order (forward mode's
 * rules are written in differentiable tensor ops): `jvp(x => grad(f)(x), [x], [v])[1]` is the
 * Hessian-vector product.
 */
export function jvp<Args extends Tensor[]>(fn: (...args: Args) => Tensor, primals: readonly [...Args], tangents: readonly [...Args]): [Tensor, Tensor] {
  if (typeof fn !== 'function') throw new Error(`jvp: the first argument must be a function, got ${typeof fn}`);
  const [xs, ts] = checkPrimalsAndTangents('jvp', primals, tangents);
  const [[output], [tangent]] = jvpOfOutputs('jvp', (...args) => [fn(...(args as Args))], xs, ts);
  return [output!, tangent!];
}
