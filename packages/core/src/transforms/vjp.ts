import { formatShape } from '../composite/validate.js';
import { enableGrad } from '../grad-mode.js';
import { gradientsOf, prepareArguments, valueOf } from '../autodiff.js';
import { Tensor } from '../tensor.js';

/**
 * Reverse mode with the cotangent chosen later: `vjp(f, ...primals)` is `[f(...primals), pullback]`
 * where `pullback(v)` is vᵀ·∂f/∂primals, one Tensor per primal (JAX's jax.vjp). The pullback may
 * be called any number of times; it is itself differentiable (in both modes) when the primals,
 * the cotangent or their tangents are being differentiated by an outer transform.
 */
export function vjp<Args extends Tensor[]>(fn: (...args: Args) => Tensor, ...primals: Args): [Tensor, (cotangent: Tensor) => Tensor[]] {
  if (typeof fn !== 'function') throw new Error(`vjp: the first argument must be a function, got ${typeof fn}`);
  primals.forEach((primal, index) => {
    if (!(primal instanceof Tensor)) throw new Error(`vjp: primal ${index} must be a Tensor, got ${typeof primal}`);
  });
  const call = prepareArguments('vjp', primals.map((_, index) => index), primals);
  const output = enableGrad(() => fn(...(call.callArgs as Args)));
  if (!(output instanceof Tensor)) throw new Error(`vjp: the function must return a Tensor, got ${typeof output}`);
  const pullback = (cotangent: Tensor): Tensor[] => {
    if (!(cotangent instanceof Tensor)) throw new Error(`vjp: the cotangent must be a Tensor, got ${typeof cotangent}`);
    if (formatShape(cotangent.shape) !== formatShape(output.shape) || cotangent.dtype !== output.dtype) {
      throw new Error(`vjp: the cotangent is ${cotangent.dtype} ${formatShape(cotangent.shape)} but the output is ${output.dtype} ${formatShape(output.shape)}; they must match`);
    }
    return gradientsOf('vjp', call, output, cotangent, { retainGraph: true, allowUnused: true }).gradients;
  };
  return [valueOf(call, output), pullback];
}
