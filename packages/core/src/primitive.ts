import type { FloatNdArray } from './kernels/layout.js';
import { isGradEnabled } from './grad-mode.js';
import { Tensor } from './tensor.js';
import { fuse, isElementwiseFusionEnabled, materializeIntoScratch, worthFusing } from './fusion.js';

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
   * For elementwise primitives: the kernel as an expression over the inputs' elements $0, $1, …,
   * and which input gives the output dtype (default 0). Such results are fused lazily (fusion.ts).
   */
  elementwise?: { expression(params: Params): string; dtypeFrom?: number };
  /**
   * The forward only reads input 0 during the call (reductions): when that input is a pending
   * elementwise result not consumed yet, it is computed into reused scratch memory (fusion.ts).
   */
  transientInput?: boolean;
  vjp(gradOut: Tensor, context: VjpContext<Params>): (Tensor | null)[];
}

/** One recorded application of a primitive: the edge list of the graph. */
export interface GraphNode {
  definition: PrimitiveDefinition<any>;
  inputs: Tensor[];
  params: unknown;
  /** Set once a backward pass without retainGraph has run through this node. */
  freed: boolean;
}

export type Primitive<Params> = ((inputs: readonly Tensor[], params: Params) => Tensor) & {
  definition: PrimitiveDefinition<Params>;
};

export function primitive<Params = undefined>(definition: PrimitiveDefinition<Params>): Primitive<Params> {
  const apply = (inputs: readonly Tensor[], params: Params): Tensor => {
    const record = isGradEnabled() && inputs.some((input) => input.requiresGrad);
    const node: GraphNode | null = record ? { definition, inputs: [...inputs], params, freed: false } : null;
    const elementwise = definition.elementwise;
    if (elementwise && isElementwiseFusionEnabled() && worthFusing(inputs[0]!)) {
      const pending = fuse(elementwise.expression(params), inputs, inputs[elementwise.dtypeFrom ?? 0]!.dtype);
      return Tensor.fromPending(pending, { node, requiresGrad: record });
    }
    const outData = definition.forward(inputs.map((input, index) => readInput(input, index === 0 && definition.transientInput === true)), params);
    return Tensor.fromNd(outData, { node, requiresGrad: record });
  };
  return Object.assign(apply, { definition });
}

function readInput(input: Tensor, transient: boolean): FloatNdArray {
  const pending = input.pendingElementwise;
  return transient && pending !== null && !pending.inlined && isElementwiseFusionEnabled() ? materializeIntoScratch(pending) : input.data;
}
