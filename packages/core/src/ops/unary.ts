import { mapUnary } from '../kernels/elementwise.js';
import { primitive, type Primitive, type VjpContext } from '../primitive.js';
import type { Tensor } from '../tensor.js';

/** Shared shape of the one-input elementwise primitives: a scalar kernel and a VJP. */
export function unaryPrimitive(
  name: string,
  kernel: (value: number) => number,
  vjp: (gradOut: Tensor, context: VjpContext<undefined>) => Tensor | null,
): Primitive<undefined> {
  return primitive<undefined>({
    name,
    forward: ([x]) => mapUnary(x!, kernel),
    vjp: (gradOut, context) => [vjp(gradOut, context)],
  });
}
