import type { Tensor } from '../tensor.js';

/** The sum of tangents, null standing for zero. */
export function addTangents(...tangents: (Tensor | null | undefined)[]): Tensor | null {
  let total: Tensor | null = null;
  for (const tangent of tangents) if (tangent) total = total === null ? tangent : total.add(tangent);
  return total;
}
