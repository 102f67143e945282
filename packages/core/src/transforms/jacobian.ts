import { normalizeArgnums } from '../autodiff.js';
import { checkOptions } from '../composite/validate.js';
import { stack } from '../composite/shape.js';
import { createNd } from '../kernels/layout.js';
import { Tensor } from '../tensor.js';
import { jvpOfOutputs } from './jvp.js';
import { vjp } from './vjp.js';

export interface JacobianOptions {
  /** Which arguments to differentiate with respect to (default 0); an array returns one Jacobian per argnum. */
  argnums?: number | readonly number[];
}

export type JacobianResult<Options extends JacobianOptions | undefined> = Options extends { argnums: readonly number[] } ? Tensor[] : Tensor;

/** A tensor of `like`'s shape and dtype that is 1 at one flat (row-major) index and 0 elsewhere. */
export function basisTensor(like: Tensor, index: number): Tensor {
  const data = createNd(like.dtype, like.shape);
  data.data[index] = 1;
  return Tensor.fromNd(data);
}

function checkArguments(operation: string, args: readonly unknown[], argnums: readonly number[]): void {
  for (const argnum of argnums) {
    const argument = args[argnum];
    if (!(argument instanceof Tensor)) {
      throw new Error(`${operation}: argument ${argnum} must be a Tensor to differentiate with respect to it, got ${argument === undefined ? `undefined (${args.length} argument(s) given)` : typeof argument}`);
    }
  }
}

/** Calls fn with args[argnums] replaced by the given tensors. */
function substituted<Args extends unknown[], Result>(fn: (...args: Args) => Result, args: Args, argnums: readonly number[]): (...xs: Tensor[]) => Result {
  return (...xs) => {
    const callArgs = [...args] as Args;
    argnums.forEach((argnum, index) => (callArgs[argnum] = xs[index]));
    return fn(...callArgs);
  };
}

function checkOutput(operation: string, output: unknown): Tensor {
  if (!(output instanceof Tensor)) throw new Error(`${operation}: the function must return a Tensor, got ${typeof output}`);
  return output;
}

/**
 * The Jacobians of several outputs by forward mode: result[k][j] is ∂outputs[k]/∂xs[j], shaped
 * outputs[k].shape ++ xs[j].shape, one jvp per element of each xs[j]. Library-internal.
 */
export function forwardJacobians(operation: string, fn: (...xs: Tensor[]) => readonly Tensor[], xs: readonly Tensor[]): Tensor[][] {
  let outputs: readonly Tensor[] | null = null;
  const columns = xs.map((x, j) => {
    const perElement: Tensor[][] = [];
    for (let element = 0; element < x.size; element++) {
      const tangents = xs.map((other, i) => (i === j ? basisTensor(other, element) : null));
      const [primalOutputs, outputTangents] = jvpOfOutputs(operation, fn, xs, tangents);
      outputs ??= primalOutputs;
      perElement.push(outputTangents);
    }
    return perElement;
  });
  outputs ??= fn(...xs);
  return outputs.map((output, k) => {
    checkOutput(operation, output);
    return xs.map((x, j) => {
      if (x.size === 0) return Tensor.fromNd(createNd(output.dtype, [...output.shape, ...x.shape]));
      const tangents = columns[j]!.map((perOutput) => perOutput[k]!);
      return stack(tangents, output.ndim).reshape([...output.shape, ...x.shape]);
    });
  });
}

/**
 * The Jacobian by reverse mode (JAX's jacrev): `jacrev(f)(...args)` is ∂f/∂args[argnums], shaped
 * f's output shape followed by the argument's shape; one vector-Jacobian product per output element.
 */
export function jacrev<Args extends unknown[], Options extends JacobianOptions | undefined = undefined>(
  fn: (...args: Args) => Tensor,
  options?: Options,
): (...args: Args) => JacobianResult<Options> {
  checkOptions('jacrev', options, ['argnums']);
  const argnums = normalizeArgnums('jacrev', options?.argnums);
  const many = Array.isArray(options?.argnums);
  return (...args: Args) => {
    checkArguments('jacrev', args, argnums);
    const xs = argnums.map((argnum) => args[argnum] as Tensor);
    const [output, pullback] = vjp(substituted(fn, args, argnums), ...xs);
    checkOutput('jacrev', output);
    const rows: Tensor[][] = [];
    for (let element = 0; element < output.size; element++) rows.push(pullback(basisTensor(output, element)));
    const jacobians = xs.map((x, j) => {
      if (output.size === 0) return Tensor.fromNd(createNd(x.dtype, [...output.shape, ...x.shape]));
      return stack(rows.map((row) => row[j]!), 0).reshape([...output.shape, ...x.shape]);
    });
    return (many ? jacobians : jacobians[0]!) as JacobianResult<Options>;
  };
}

/**
 * The Jacobian by forward mode (JAX's jacfwd): the same result as jacrev, built from one jvp per
 * element of the argument (cheaper when the argument is smaller than the output).
 */
export function jacfwd<Args extends unknown[], Options extends JacobianOptions | undefined = undefined>(
  fn: (...args: Args) => Tensor,
  options?: Options,
): (...args: Args) => JacobianResult<Options> {
  checkOptions('jacfwd', options, ['argnums']);
  const argnums = normalizeArgnums('jacfwd', options?.argnums);
  const many = Array.isArray(options?.argnums);
  return (...args: Args) => {
    checkArguments('jacfwd', args, argnums);
    const xs = argnums.map((argnum) => args[argnum] as Tensor);
    const call = substituted(fn, args, argnums);
    const [jacobians] = forwardJacobians('jacfwd', (...ys) => [checkOutput('jacfwd', call(...ys))], xs);
    return (many ? jacobians! : jacobians![0]!) as JacobianResult<Options>;
  };
}
