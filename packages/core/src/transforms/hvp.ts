import { grad } from '../autodiff.js';
import type { Tensor } from '../tensor.js';
import { checkPrimalsAndTangents, jvpOfOutputs } from './jvp.js';

/**
 * Hessian-vector product of a scalar function, by forward-over-reverse: the JVP of the gradient,
 * `hvp(f, primals, tangents)[i] = Σⱼ ∂²f/∂xᵢ∂xⱼ · tⱼ`, one Tensor per primal (shaped like it).
 * It costs about one gradient evaluation with tangents carried along, and composes further.
 */
export function hvp<Args extends Tensor[]>(fn: (...args: Args) => Tensor, primals: readonly [...Args], tangents: readonly [...Args]): Tensor[] {
  if (typeof fn !== 'function') throw new Error(`hvp: the first argument must be a function, got ${typeof fn}`);
  const [xs, ts] = checkPrimalsAndTangents('hvp', primals, tangents);
  const argnums = xs.map((_, index) => index);
  const gradient = grad((...args: Tensor[]) => fn(...(args as Args)), { argnums, allowUnused: true });
  return jvpOfOutputs('hvp', (...args) => gradient(...args), xs, ts)[1];
}
