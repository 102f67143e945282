import { mapElementwise } from '../kernels/elementwise.js';
import type { Expr } from '../kernels/expr.js';
import { primitive, type JvpContext, type Primitive, type VjpContext } from '../primitive.js';
import type { Tensor } from '../tensor.js';

/** Shared shape of the one-input elementwise primitives: the kernel as an expression tree over input 0, a VJP, a JVP (of the one tangent) and the batching rule. */
export function unaryPrimitive(
  name: string,
  expression: Expr,
  vjp: (gradOut: Tensor, context: VjpContext<undefined>) => Tensor | null,
  jvp: (tangent: Tensor, context: JvpContext<undefined>) => Tensor | null,
): Primitive<undefined> {
  const op: Primitive<undefined> = primitive<undefined>({
    name,
    forward: (inputs) => mapElementwise(expression, inputs),
    elementwise: { expression: () => expression },
    vjp: (gradOut, context) => [vjp(gradOut, context)],
    jvp: (tangents, context) => jvp(tangents[0]!, context),
    // batched: the same op on all examples at once (elementwise, so the batch axis passes through)
    batch: ([x]) => op([x!], undefined),
  });
  return op;
}
