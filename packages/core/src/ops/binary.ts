import { mapElementwise } from '../kernels/elementwise.js';
import type { Expr } from '../kernels/expr.js';
import { primitive, type JvpContext, type Primitive, type VjpContext } from '../primitive.js';
import type { Tensor } from '../tensor.js';

/** Shared shape of the two-input, shape-exact elementwise primitives: the kernel as an expression tree over inputs 0 and 1, a VJP and a JVP (null tangents are zero). */
export function binaryPrimitive(
  name: string,
  expression: Expr,
  vjp: (gradOut: Tensor, context: VjpContext<undefined>) => (Tensor | null)[],
  jvp: (tangents: readonly (Tensor | null)[], context: JvpContext<undefined>) => Tensor | null,
): Primitive<undefined> {
  return primitive<undefined>({
    name,
    forward: ([a, b]) => mapElementwise(expression, [a!, b!]),
    elementwise: { expression: () => expression },
    vjp,
    jvp,
  });
}
