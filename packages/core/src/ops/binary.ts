import { mapBinary } from '../kernels/elementwise.js';
import { primitive, type Primitive, type VjpContext } from '../primitive.js';
import type { Tensor } from '../tensor.js';

/** Shared shape of the two-input, shape-exact elementwise primitives. */
export function binaryPrimitive(
  name: string,
  kernel: (left: number, right: number) => number,
  vjp: (gradOut: Tensor, context: VjpContext<undefined>) => (Tensor | null)[],
): Primitive<undefined> {
  return primitive<undefined>({
    name,
    forward: ([a, b]) => mapBinary(a!, b!, kernel),
    vjp,
  });
}
