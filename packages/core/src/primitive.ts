import type { Expr } from './kernels/expr.js';
import { activeRecorder } from './compile/recorder.js';
import { reducesFused } from './fusion.js';
import type { FloatNdArray } from './kernels/layout.js';
import { isGradEnabled } from './grad-mode.js';
import { storageVersion } from './storage.js';
import { Tensor } from './tensor.js';
import { fuse, isElementwiseFusionEnabled, worthFusing, type PendingElementwise } from './fusion.js';
import { highestTangentLevel, isForwardModeActive, levelAt, setTangent, tangentAt, withLevelsBelow } from './transforms/forward-mode.js';
import { formatShape } from './composite/validate.js';
import { batchSizeOf, batchedTensor, batchedValueAt, highestBatchPosition, holderOf } from './transforms/vmap.js';

/** What a VJP rule receives: the op's inputs and output as graph tensors, its params, and which inputs need a gradient. */
export interface VjpContext<Params> {
  inputs: readonly Tensor[];
  out: Tensor;
  params: Params;
  needsGrad: readonly boolean[];
}

/** What a JVP rule receives besides the tangents: the op's inputs and output, and its params. */
export interface JvpContext<Params> {
  inputs: readonly Tensor[];
  out: Tensor;
  params: Params;
}

/** What a batching rule receives besides the inputs: which inputs carry the batch axis, its size, and the params. */
export interface BatchContext<Params> {
  batched: readonly boolean[];
  size: number;
  params: Params;
}

/**
 * A primitive: a forward kernel on raw ndarrays, and a VJP rule and a JVP rule written in Tensor
 * ops (so every derivative is itself differentiable, in both modes). Inputs arrive shape-exact and of one dtype; composites do
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
  /**
   * For compile: `fusedForward(input, params)` computed into `out` (its result's array during the
   * trace) with the kernel resolved once; the returned step reads the operands' and out's `.data`
   * on every call. Null where it cannot (then the trace replays fusedForward).
   */
  prepareFusedForward?(input: PendingElementwise, params: Params, out: FloatNdArray): (() => void) | null;
  /**
   * For compile: `forward(inputs, params)` computed into `out` (its result's array during the
   * trace) with the kernel resolved once; the returned step reads the inputs' and out's `.data` on
   * every call. Null where it cannot (then the trace replays forward).
   */
  prepareForward?(inputs: readonly FloatNdArray[], params: Params, out: FloatNdArray): (() => void) | null;
  vjp(gradOut: Tensor, context: VjpContext<Params>): (Tensor | null)[];
  /**
   * The output's tangent given one tangent per input (null: a zero tangent; at least one is not
   * null), or null for a zero tangent. Required: a primitive without one does not compile.
   */
  jvp(tangents: readonly (Tensor | null)[], context: JvpContext<Params>): Tensor | null;
  /**
   * The batching rule (vmap): the outputs of `size` examples stacked along a new axis 0, given the
   * inputs with the examples along axis 0 where `batched` says so (the others are shared by all
   * examples), in tensor ops. Required: a primitive without one does not compile.
   */
  batch(inputs: readonly Tensor[], context: BatchContext<Params>): Tensor;
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

/** A tensor's storage version; a pending result has fresh storage to come, version 0; a vmap stand-in has its holder's. */
export function versionOf(tensor: Tensor): number {
  const holder = holderOf(tensor);
  if (holder !== null) return versionOf(holder);
  return tensor.pendingElementwise !== null ? 0 : storageVersion(tensor.data.data);
}

/** The graph node of one application; its output version is set once the output exists. */
function graphNode<Params>(definition: PrimitiveDefinition<Params>, inputs: readonly Tensor[], params: Params): GraphNode {
  const copied = inputs.slice();
  const inputVersions: number[] = [];
  for (const input of inputs) inputVersions.push(versionOf(input));
  return { definition, inputs: copied, params, freed: false, inputVersions, outputVersion: 0 };
}

/** Whether any of the inputs requires grad. */
function anyRequiresGrad(inputs: readonly Tensor[]): boolean {
  for (const input of inputs) if (input.requiresGrad) return true;
  return false;
}

export type Primitive<Params> = ((inputs: readonly Tensor[], params: Params) => Tensor) & {
  definition: PrimitiveDefinition<Params>;
};

export function primitive<Params = undefined>(definition: PrimitiveDefinition<Params>): Primitive<Params> {
  const apply = (inputs: readonly Tensor[], params: Params): Tensor => {
    if (isForwardModeActive()) {
      const position = highestTangentLevel(inputs);
      const batchPosition = highestBatchPosition(inputs);
      if (batchPosition > position) return applyBatched(definition, inputs, params, batchPosition);
      if (position >= 0) return applyWithTangent(apply, definition, inputs, params, position);
    }
    activeRecorder?.settle(inputs);
    const record = isGradEnabled() && anyRequiresGrad(inputs);
    const node = record ? graphNode(definition, inputs, params) : null;
    const elementwise = definition.elementwise;
    if (elementwise && isElementwiseFusionEnabled() && worthFusing(inputs[0]!)) {
      const pending = fuse(elementwise.expression(params), inputs, inputs[elementwise.dtypeFrom ?? 0]!.dtype);
      activeRecorder?.pending(pending);
      const tracked = record && pending.dtype !== 'int32';
      return Tensor.fromPending(pending, { node: tracked ? node : null, requiresGrad: tracked });
    }
    const pendingInput = inputs[0]!.pendingElementwise;
    let outData: FloatNdArray;
    if (definition.fusedForward && pendingInput !== null && isElementwiseFusionEnabled() && reducesFused(inputs[0]!)) {
      outData = definition.fusedForward(pendingInput, params);
      activeRecorder?.fusedForward(definition, pendingInput, params, outData);
    } else {
      const inputData: FloatNdArray[] = [];
      for (const input of inputs) inputData.push(input.data);
      outData = definition.forward(inputData, params);
      activeRecorder?.forward(definition, inputData, params, outData);
    }
    // an int32 result (indices) has no gradient, so it does not join the graph
    const tracked = record && !(outData.data instanceof Int32Array);
    const out = Tensor.fromNd(outData, { node: tracked ? node : null, requiresGrad: tracked });
    if (tracked) node!.outputVersion = versionOf(out);
    return out;
  };
  return Object.assign(apply, { definition });
}

/**
 * One application at the forward-mode level at `position`: the output and its tangent at that
 * level, both computed with that level hidden (see transforms/forward-mode.ts).
 */
function applyWithTangent<Params>(
  apply: (inputs: readonly Tensor[], params: Params) => Tensor,
  definition: PrimitiveDefinition<Params>,
  inputs: readonly Tensor[],
  params: Params,
  position: number,
): Tensor {
  if (typeof definition.jvp !== 'function') throw new Error(`jvp: primitive '${definition.name}' has no JVP rule; forward mode through it is not defined`);
  const level = levelAt(position);
  const tangents = inputs.map((input) => tangentAt(input, level));
  return withLevelsBelow(position, () => {
    const out = apply(inputs, params);
    const tangent = definition.jvp(tangents, { inputs, out, params });
    if (tangent !== null) {
      if (formatShape(tangent.shape) !== formatShape(out.shape) || tangent.dtype !== out.dtype) {
        throw new Error(
          `jvp: the JVP rule of '${definition.name}' returned a tangent ${tangent.dtype} ${formatShape(tangent.shape)} ` +
            `for an output ${out.dtype} ${formatShape(out.shape)}`,
        );
      }
      setTangent(out, level, tangent);
    }
    return out;
  });
}

/**
 * One application at the vmap level at `position`: the primitive's batching rule on the holders of
 * the batched inputs, with that level hidden (see transforms/vmap.ts), wrapped as a stand-in at the
 * level. Reverse mode records the application on the stand-ins (for a grad inside the vmap).
 */
function applyBatched<Params>(definition: PrimitiveDefinition<Params>, inputs: readonly Tensor[], params: Params, position: number): Tensor {
  const level = levelAt(position);
  const holders = inputs.map((input) => batchedValueAt(input, level));
  const size = batchSizeOf(level);
  const batched = holders.map((holder) => holder !== null);
  const value = withLevelsBelow(position, () => definition.batch(inputs.map((input, index) => holders[index] ?? input), { batched, size, params }));
  if (value.shape[0] !== size) {
    throw new Error(`vmap: the batching rule of '${definition.name}' returned shape ${formatShape(value.shape)}, whose axis 0 is not the batch of ${size}`);
  }
  const record = isGradEnabled() && anyRequiresGrad(inputs) && value.dtype !== 'int32';
  const node = record ? graphNode(definition, inputs, params) : null;
  const out = batchedTensor(value, level, { node, requiresGrad: record });
  if (record) node!.outputVersion = versionOf(out);
  return out;
}
