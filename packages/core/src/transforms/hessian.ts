import { grad, normalizeArgnums } from '../autodiff.js';
import { checkOptions } from '../composite/validate.js';
import { Tensor } from '../tensor.js';
import { forwardJacobians } from './jacobian.js';

export interface HessianOptions {
  /** Which arguments (default 0); an array returns the blocks H[i][j] = ∂²f/∂xᵢ∂xⱼ. */
  argnums?: number | readonly number[];
}

export type HessianResult<Options extends HessianOptions | undefined> = Options extends { argnums: readonly number[] } ? Tensor[][] : Tensor;

/**
 * The Hessian of a scalar function (JAX's hessian): `hessian(f)(...args)` is ∂²f/∂x², shaped
 * x.shape ++ x.shape for x = args[argnums], computed forward-over-reverse (jacfwd of grad, one
 * Hessian-vector product per element of x).
 */
export function hessian<Args extends unknown[], Options extends HessianOptions | undefined = undefined>(
  fn: (...args: Args) => Tensor,
  options?: Options,
): (...args: Args) => HessianResult<Options> {
  checkOptions('hessian', options, ['argnums']);
  const argnums = normalizeArgnums('hessian', options?.argnums);
  const many = Array.isArray(options?.argnums);
  return (...args: Args) => {
    const xs = argnums.map((argnum) => {
      const argument = args[argnum];
      if (!(argument instanceof Tensor)) throw new Error(`hessian: argument ${argnum} must be a Tensor to differentiate with respect to it, got ${typeof argument}`);
      return argument;
    });
    const withArguments = (...ys: Tensor[]): Tensor => {
      const callArgs = [...args] as Args;
      argnums.forEach((argnum, index) => (callArgs[argnum] = ys[index]));
      return fn(...callArgs);
    };
    const gradient = grad(withArguments, { argnums: xs.map((_, index) => index), allowUnused: true });
    const blocks = forwardJacobians('hessian', (...ys) => gradient(...ys), xs);
    return (many ? blocks : blocks[0]![0]!) as HessianResult<Options>;
  };
}
