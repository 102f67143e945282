import { mapElementwise } from '../kernels/elementwise.js';
import type { Expr } from '../kernels/expr.js';
import { primitive, type JvpContext, type Primitive, type VjpContext } from '../primitive.js';
import type { Tensor } from '../tensor.js';
import { allWithBatchAxis } from './batching.js';

/** Shared shape of the two-input, shape-exact elementwise primitives: the kernel as an expression tree over inputs 0 and 1, a VJP, a JVP (null tangents are zero) and the batching rule. */
export function binaryPrimitive(
  name: string,
  expression: Expr,
  vjp: (gradOut: Tensor, context: VjpContext<undefined>) => (Tensor | null)[],
  jvp: (tangents: readonly (Tensor | null)[], context: JvpContext<undefined>) => Tensor | null,
): Primitive<undefined> {
  const op: Primitive<undefined> = primitive<undefined>({
    name,
    forward: (inputs) => mapElementwise(expression, inputs),
    elementwise: { expression: () => expression },
    vjp,
    jvp,
    // batched: the same op with a shared input broadcast over the examples (a view)
    batch: (inputs, { batched, size }) => op(allWithBatchAxis(inputs, batched, size), undefined),
  });
  return op;
}
