import type { Expr } from './kernels/expr.js';
import type { FloatNdArray } from './kernels/layout.js';
import { isGradEnabled } from './grad-mode.js';
import { storageVersion } from './storage.js';
import { Tensor } from './tensor.js';
import { fuse, isElementwiseFusionEnabled, worthFusing, type PendingElementwise } from './fusion.js';

/** What a VJP rule receives: the op's inputs and output as graph tensors, its params, and which inputs need a gradient. */
export interface VjpContext<Params> {
  inputs: readonly Tensor[];
  out: Tensor;
  params: Params;
  needsGrad: readonly boolean[];
}

/**
 * A primitive: a forward kernel on raw ndarrays and a VJP rule written in Tensor ops (so the
 * gradient is itself differentiable). Inputs arrive shape-exact and of one dtype; composites do
 * the validation and broadcasting.
 */
export interface PrimitiveDefinition<Params> {
  name: string;
  forward(inputs: readonly FloatNdArray[], params: Params): FloatNdArray;
  /**
   * For elementwise primitives: the kernel as an expression tree over the inputs' elements
   * (kernels/expr.ts), and which input gives the output dtype (default 0). Such results are fused
   * lazily (fusion.ts).
   */
  elementwise?: { expression(params: Params): Expr; dtypeFrom?: number };
  /**
   * For reductions: the forward applied to input 0 given as a pending elementwise result
   * (fusion.ts), reading the expression's operands directly, so the input needs no array. The
   * input stays pending (an elementwise consumer may still inline it), and an input already
   * inlined elsewhere is still reduced from its expression rather than computed into an array.
   */
  fusedForward?(input: PendingElementwise, params: Params): FloatNdArray;
  vjp(gradOut: Tensor, context: VjpContext<Params>): (Tensor | null)[];
}

/** One recorded application of a primitive: the edge list of the graph. */
export interface GraphNode {
  definition: PrimitiveDefinition<any>;
  inputs: Tensor[];
  params: unknown;
  /** Set once a backward pass without retainGraph has run through this node. */
  freed: boolean;
  /** The storage versions (storage.ts) of the inputs and of the output when the node was recorded. */
  inputVersions: number[];
  outputVersion: number;
}

/** A tensor's storage version; a pending result has fresh storage to come, version 0. */
export function versionOf(tensor: Tensor): number {
  return tensor.pendingElementwise !== null ? 0 : storageVersion(tensor.data.data);
}

export type Primitive<Params> = ((inputs: readonly Tensor[], params: Params) => Tensor) & {
  definition: PrimitiveDefinition<Params>;
};

export function primitive<Params = undefined>(definition: PrimitiveDefinition<Params>): Primitive<Params> {
  const apply = (inputs: readonly Tensor[], params: Params): Tensor => {
    const record = isGradEnabled() && inputs.some((input) => input.requiresGrad);
    const node: GraphNode | null = record
      ? { definition, inputs: [...inputs], params, freed: false, inputVersions: inputs.map(versionOf), outputVersion: 0 }
      : null;
    const elementwise = definition.elementwise;
    if (elementwise && isElementwiseFusionEnabled() && worthFusing(inputs[0]!)) {
      const pending = fuse(elementwise.expression(params), inputs, inputs[elementwise.dtypeFrom ?? 0]!.dtype);
      return Tensor.fromPending(pending, { node, requiresGrad: record });
    }
    const pendingInput = inputs[0]!.pendingElementwise;
    const outData = definition.fusedForward && pendingInput !== null && isElementwiseFusionEnabled()
      ? definition.fusedForward(pendingInput, params)
      : definition.forward(inputs.map((input) => input.data), params);
    const out = Tensor.fromNd(outData, { node, requiresGrad: record });
    if (node !== null) node.outputVersion = versionOf(out);
    return out;
  };
  return Object.assign(apply, { definition });
}
