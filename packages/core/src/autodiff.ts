import { enableGrad, isGradEnabled, noGrad } from './grad-mode.js';
import { toContiguous } from './kernels/elementwise.js';
import { checkOptions, formatShape, sameShape } from './composite/validate.js';
import { copyTangents, isForwardModeActive, openTangents } from './transforms/forward-mode.js';
import { mayHavePendingReaders } from './storage.js';
import { recordAllocations, returnToPool, type AllocationRecord } from './storage-pool.js';
import { activeRecorder } from './compile/recorder.js';
import { Tensor } from './tensor.js';
import { isRecordNode, mapLeaves } from './transforms/records.js';
import { onesLike, zerosLike } from './creation.js';
import { primitives } from './ops/index.js';
import { versionOf, type GraphNode, type VjpContext } from './primitive.js';

/** Every tensor with history reachable from the roots, inputs before the tensors made from them. */
function topologicalOrder(roots: readonly Tensor[]): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  // a pending entry: the tensor, and whether its inputs have been pushed already (it goes into the order when popped again)
  const stack: Tensor[] = [];
  const expanded: boolean[] = [];
  for (const root of roots) {
    stack.push(root);
    expanded.push(false);
  }
  while (stack.length > 0) {
    const tensor = stack.pop()!;
    if (expanded.pop()!) {
      order.push(tensor);
      continue;
    }
    if (visited.has(tensor) || !tensor.requiresGrad) continue;
    visited.add(tensor);
    stack.push(tensor);
    expanded.push(true);
    const node = tensor.node;
    if (node === null) continue;
    if (node.freed) {
      throw new Error(
        `backward: the graph through '${node.definition.name}' (output shape ${formatShape(tensor.shape)}) was freed by an earlier ` +
          'backward pass; pass { retainGraph: true } to the first backward() to run backward twice',
      );
    }
    for (const input of node.inputs) {
      if (visited.has(input)) continue;
      stack.push(input);
      expanded.push(false);
    }
  }
  return order;
}

/** A gradient hook: sees the gradient with respect to its tensor; a returned Tensor replaces it. */
export type GradHook = (grad: Tensor) => Tensor | void;

/** Returned by registerHook: remove() unregisters the hook (calling it again does nothing). */
export interface HookHandle {
  remove(): void;
}

const gradHooks = new WeakMap<Tensor, GradHook[]>();

/** Tensor.registerHook: fn runs whenever a backward pass computes the gradient with respect to `tensor`. */
export function registerGradHook(tensor: Tensor, fn: GradHook): HookHandle {
  if (typeof fn !== 'function') throw new Error(`registerHook: expected a function, got ${fn === null ? 'null' : typeof fn}`);
  if (!tensor.requiresGrad) {
    throw new Error(`registerHook: the tensor of shape ${formatShape(tensor.shape)} does not require grad, so no gradient is ever computed for it`);
  }
  const hooks = gradHooks.get(tensor) ?? [];
  gradHooks.set(tensor, hooks);
  const entry: GradHook = (gradient) => fn(gradient);
  hooks.push(entry);
  return {
    remove: () => {
      const position = hooks.indexOf(entry);
      if (position >= 0) hooks.splice(position, 1);
    },
  };
}

/** The gradient after the tensor's hooks, each seeing the result of the one before. */
function applyGradHooks(tensor: Tensor, gradient: Tensor): Tensor {
  const hooks = gradHooks.get(tensor);
  if (hooks === undefined) return gradient;
  let current = gradient;
  for (const hook of [...hooks]) {
    const replaced = hook(current);
    if (replaced === undefined) continue;
    if (!(replaced instanceof Tensor) || formatShape(replaced.shape) !== formatShape(tensor.shape) || replaced.dtype !== tensor.dtype) {
      const got = replaced instanceof Tensor ? `a ${replaced.dtype} tensor of shape ${formatShape(replaced.shape)}` : replaced === null ? 'null' : typeof replaced;
      throw new Error(`registerHook: a hook must return nothing or a ${tensor.dtype} tensor of shape ${formatShape(tensor.shape)} (the gradient's), got ${got}`);
    }
    current = replaced;
  }
  return current;
}

export interface BackwardOptions {
  /** Tensors whose gradients are wanted, or 'leaves' for every leaf that requires grad. */
  targets: readonly Tensor[] | 'leaves';
  createGraph: boolean;
  retainGraph: boolean;
}

/**
 * The reverse pass: walks the graph from the roots in reverse topological order, calling each
 * primitive's VJP only for inputs that lead to a target, and sums the gradients that meet.
 * Returns the gradient of every target that the roots depend on.
 */
export function backwardPass(roots: readonly Tensor[], rootGrads: readonly Tensor[], options: BackwardOptions): Map<Tensor, Tensor> {
  const order = topologicalOrder(roots);
  const targets = options.targets === 'leaves' ? null : new Set(options.targets);
  const isTarget = (tensor: Tensor): boolean => (targets ? targets.has(tensor) : tensor.node === null && tensor.requiresGrad);
  const leadsToTarget = new Set<Tensor>();
  for (const tensor of order) {
    if (isTarget(tensor) || (tensor.node !== null && someInputIn(tensor.node, leadsToTarget))) leadsToTarget.add(tensor);
  }
  const grads = new Map<Tensor, Tensor>();
  const accumulate = (tensor: Tensor, gradient: Tensor): void => {
    const existing = grads.get(tensor);
    grads.set(tensor, existing ? existing.add(gradient) : gradient);
  };
  const results = new Map<Tensor, Tensor>();
  const record: AllocationRecord = { allocated: new WeakSet() };
  // a cotangent's storage can be reused once its VJP ran if nothing else may hold it (see
  // releaseIfDead); only the library's own VJP rules are known not to keep what they see, a
  // compile trace keeps every array it saw for its replays, vmap's batched values live elsewhere,
  // and under forward mode (hvp) reuse measured no faster
  const reuse = !options.createGraph && !isForwardModeActive() && activeRecorder === null &&
    order.every((tensor) => tensor.heldElsewhere === null && (tensor.node === null || isBuiltIn(tensor.node.definition)));
  const run = (): void => {
    roots.forEach((root, index) => accumulate(root, rootGrads[index]!));
    for (let position = order.length - 1; position >= 0; position--) {
      const tensor = order[position]!;
      const accumulated = grads.get(tensor);
      if (accumulated === undefined) continue;
      const gradOut = applyGradHooks(tensor, accumulated);
      const target = isTarget(tensor);
      const releasable = reuse && !target && (gradHooks.get(tensor)?.length ?? 0) === 0;
      if (target) results.set(tensor, gradOut);
      else grads.delete(tensor);
      const node = tensor.node;
      if (node === null) continue;
      const inputs = node.inputs;
      const needsGrad: boolean[] = [];
      for (const input of inputs) needsGrad.push(leadsToTarget.has(input));
      if (!needsGrad.includes(true)) continue;
      const inputGrads = node.definition.vjp(gradOut, new SavedTensors(node, tensor, needsGrad));
      for (let index = 0; index < inputs.length; index++) {
        const inputGrad = inputGrads[index];
        if (!needsGrad[index] || inputGrad === null || inputGrad === undefined) continue;
        const input = inputs[index]!;
        if (!sameShape(inputGrad.shape, input.shape)) {
          throw new Error(
            `backward: the VJP of '${node.definition.name}' returned a gradient of shape ${formatShape(inputGrad.shape)} ` +
              `for input ${index} of shape ${formatShape(input.shape)}`,
          );
        }
        accumulate(input, inputGrad);
      }
      if (releasable) releaseIfDead(gradOut, record, [grads.values(), results.values()]);
      if (!options.retainGraph) node.freed = true;
    }
  };
  recordAllocations(record, () => (options.createGraph ? enableGrad(run) : noGrad(run)));
  return results;
}

const builtInDefinitions = new Set<unknown>(Object.values(primitives).map((primitive) => primitive.definition));

/** Whether a primitive is one of the library's own (not a customOp, whose rules are user code). */
function isBuiltIn(definition: unknown): boolean {
  return builtInDefinitions.has(definition);
}

/** Whether any input of the node is in the set. */
function someInputIn(node: GraphNode, tensors: ReadonlySet<Tensor>): boolean {
  for (const input of node.inputs) if (tensors.has(input)) return true;
  return false;
}

/**
 * Returns a cotangent's storage to the pool (storage-pool.ts) once its VJP has run, when it is
 * provably dead. The caller has checked that no graph is being recorded, every VJP of the graph
 * is the library's own, and the tensor is neither a target nor hooked (so the cotangent reached
 * only the VJP). Then its storage is dead when it was allocated during
 * this pass by a tensor made during it (never user data, a gradient seed or forward values), no
 * pending result may read it, and no gradient still held (a VJP may pass its cotangent on, e.g.
 * add's to both inputs, or a view of it) shares it.
 */
function releaseIfDead(gradOut: Tensor, record: AllocationRecord, held: Iterable<Tensor>[]): void {
  if (gradOut.heldElsewhere !== null || gradOut.pendingElementwise !== null) return;
  const array = gradOut.data.data;
  if (!record.allocated.has(array) || mayHavePendingReaders(array)) return;
  for (const tensors of held) {
    for (const tensor of tensors) {
      if (tensor.heldElsewhere !== null) return;
      if (tensor.pendingElementwise === null && tensor.data.data.buffer === array.buffer) return;
    }
  }
  record.allocated.delete(array);
  returnToPool(array);
}

/**
 * The VJP context of a node. Its inputs and output are handed out only if their storage has not
 * been written in place since the node was recorded (PyTorch's version counters): a VJP that
 * reads a tensor whose values changed would give a silently wrong gradient.
 */
class SavedTensors implements VjpContext<unknown> {
  readonly params: unknown;

  constructor(
    private readonly node: GraphNode,
    private readonly output: Tensor,
    readonly needsGrad: readonly boolean[],
  ) {
    this.params = node.params;
  }

  get inputs(): readonly Tensor[] {
    const { inputs, inputVersions } = this.node;
    for (let k = 0; k < inputs.length; k++) checkVersion(this.node, inputs[k]!, inputVersions[k]!, `input ${k}`);
    return inputs;
  }

  get out(): Tensor {
    checkVersion(this.node, this.output, this.node.outputVersion, 'its output');
    return this.output;
  }
}

/** Throws when the storage of a tensor a node saved was written since the node was recorded. */
function checkVersion(node: GraphNode, tensor: Tensor, recorded: number, which: string): void {
  const now = versionOf(tensor);
  if (now === recorded) return;
  throw new Error(
    `backward: one of the tensors needed for the gradient of '${node.definition.name}' (${which}, shape ${formatShape(tensor.shape)}) ` +
      `was modified in place after it was recorded: version ${recorded} when recorded, now version ${now}. ` +
      'Run the forward computation again after the in-place update (e.g. after optimizer.step()), or clone() the tensor before writing into it',
  );
}

function checkGradOutput(operation: string, output: Tensor, gradOutput: Tensor | undefined): Tensor {
  if (gradOutput === undefined) {
    if (output.size !== 1) {
      throw new Error(
        `${operation}: output of shape ${formatShape(output.shape)} is not a scalar; pass a gradient of the same shape`,
      );
    }
    return onesLike(output);
  }
  if (formatShape(gradOutput.shape) !== formatShape(output.shape)) {
    throw new Error(`${operation}: gradient of shape ${formatShape(gradOutput.shape)} does not match output of shape ${formatShape(output.shape)}`);
  }
  if (gradOutput.dtype !== output.dtype) {
    throw new Error(`${operation}: gradient dtype ${gradOutput.dtype} does not match output dtype ${output.dtype}`);
  }
  return gradOutput;
}

/** `tensor.backward()`: accumulate into the `.grad` of every leaf that requires grad. */
export function backwardIntoLeaves(
  output: Tensor,
  gradOutput: Tensor | undefined,
  options: { retainGraph?: boolean; createGraph?: boolean },
): void {
  if (!output.requiresGrad) {
    throw new Error(`backward: the tensor of shape ${formatShape(output.shape)} does not require grad and has no graph`);
  }
  const createGraph = options.createGraph ?? false;
  const retainGraph = options.retainGraph ?? createGraph;
  const rootGrad = checkGradOutput('backward', output, gradOutput);
  const grads = backwardPass([output], [rootGrad], { targets: 'leaves', createGraph, retainGraph });
  for (const [leaf, gradient] of grads) {
    const owned = createGraph ? gradient : Tensor.fromNd(toContiguous(gradient.data));
    leaf.grad = leaf.grad === null ? owned : noGradUnless(createGraph, () => leaf.grad!.add(owned));
  }
}

function noGradUnless<T>(createGraph: boolean, fn: () => T): T {
  return createGraph ? fn() : noGrad(fn);
}

/**
 * True when the graph behind the roots (and behind the forward-mode tangents of everything on
 * it) reaches a tensor requiring grad other than the given fresh leaves: an outer grad then
 * differentiates this backward pass, so it must be recorded.
 */
function dependsOnOuterGraph(roots: readonly Tensor[], freshLeaves: ReadonlySet<Tensor>): boolean {
  const stack = [...roots];
  const seen = new Set<Tensor>();
  while (stack.length > 0) {
    const tensor = stack.pop()!;
    if (seen.has(tensor)) continue;
    seen.add(tensor);
    for (const tangent of openTangents(tensor)) stack.push(tangent);
    if (!tensor.requiresGrad) continue;
    if (tensor.node === null) {
      if (!freshLeaves.has(tensor)) return true;
    } else {
      for (const input of tensor.node.inputs) stack.push(input);
    }
  }
  return false;
}

/** True when `target` is on the recorded graph behind `output`. */
function isReachable(output: Tensor, target: Tensor): boolean {
  const stack = [output];
  const seen = new Set<Tensor>();
  while (stack.length > 0) {
    const tensor = stack.pop()!;
    if (tensor === target) return true;
    if (seen.has(tensor) || !tensor.requiresGrad || tensor.node === null) continue;
    seen.add(tensor);
    stack.push(...tensor.node.inputs);
  }
  return false;
}

export interface GradOptions {
  /** Which arguments to differentiate with respect to (default 0); an array returns an array. */
  argnums?: number | readonly number[];
  /**
   * An argument the function's output does not depend on is an Error (it usually means a bug)
   * unless allowUnused is true; its gradient is then zeros. Default false.
   */
  allowUnused?: boolean;
}

/** The gradient for the differentiated argument: a Tensor for a Tensor, a record of the same shape (and type) for a record of Tensors. */
type GradientOf<Argument> = Argument extends Tensor ? Tensor : Argument extends object ? Argument : Tensor;

/**
 * The gradient for one of several argnums (typed from all arguments): a Tensor, or a record typed
 * as an array or plain object (an argument that is neither, such as an Int32Array of labels, is
 * not a record and adds Tensor).
 */
type GradientAmong<Argument> = Argument extends Tensor ? Tensor : Argument extends readonly unknown[] | { readonly [key: string]: unknown } ? Argument : Tensor;

/**
 * What grad returns for its options: for argnums given as a literal tuple (`[0, 2]`), a tuple with
 * each argument's gradient type; for another array of argnums, an array of them; for one argnum
 * (default 0), that argument's gradient.
 */
type GradResult<Args extends unknown[], Options extends GradOptions | undefined> = Options extends { argnums: infer Argnums extends readonly number[] }
  ? { -readonly [K in keyof Argnums]: Argnums[K] extends number ? GradientAmong<Args[Argnums[K]]> : never }
  : Options extends { argnums: infer Argnum extends number } ? GradientOf<Args[Argnum]> : GradientOf<Args[0]>;

/** The arguments prepared for one differentiated call (see prepareArguments). */
export interface DifferentiatedCall {
  /** The arguments to call the function with: fresh tensors at the differentiated positions. */
  callArgs: unknown[];
  /** The fresh tensors: one per argnum, or one per leaf of an argnum's record, in argnum order. */
  differentiated: Tensor[];
  /** Where each differentiated tensor is among the arguments, for Errors: `argument 1`, `argument 0.w`. */
  paths: string[];
  argnums: readonly number[];
  freshLeaves: ReadonlySet<Tensor>;
  outerGradEnabled: boolean;
}

/**
 * Replaces the differentiated arguments by fresh tensors to take gradients with respect to. An
 * argument may be a record (plain objects and arrays of Tensors, nested; transforms/records.ts):
 * each of its leaves is differentiated. Library-internal (grad, vjp and the transforms built on them).
 */
export function prepareArguments(operation: string, argnums: readonly number[], args: readonly unknown[]): DifferentiatedCall {
  const outerGradEnabled = isGradEnabled();
  const callArgs = [...args];
  const differentiated: Tensor[] = [];
  const paths: string[] = [];
  const freshLeaves = new Set<Tensor>();
  const fresh = (argument: unknown, path: string): Tensor => {
    if (!(argument instanceof Tensor)) {
      const what = argument === null ? 'null' : typeof argument;
      throw new Error(`${operation}: ${path} must be a Tensor (or a record of Tensors) to differentiate with respect to it, got ${what}`);
    }
    if (argument.dtype === 'int32') {
      throw new Error(`${operation}: ${path} is an int32 tensor of shape ${formatShape(argument.shape)}; indices are not differentiated (convert with .to('float32'))`);
    }
    let tensor: Tensor;
    if (argument.requiresGrad && outerGradEnabled) {
      // Differentiate with respect to a fresh alias, not the argument itself: uses of the argument
      // that reach fn another way (a closure over an outer grad's variable) must count as constants
      // here, or nested grads confuse their perturbations (d/dx [d/dy (y·x) at y = x] would be 2, not 1).
      tensor = enableGrad(() => primitives.reshape([argument], { shape: argument.shape }));
    } else {
      tensor = argument.detach();
      copyTangents(argument, tensor);
      tensor.requiresGrad = true;
    }
    freshLeaves.add(tensor);
    differentiated.push(tensor);
    paths.push(path);
    return tensor;
  };
  for (const argnum of argnums) {
    const argument = args[argnum];
    const path = `argument ${argnum}`;
    callArgs[argnum] = isRecordNode(argument) ? mapLeaves(argument, path, fresh) : fresh(argument, path);
  }
  return { callArgs, differentiated, paths, argnums, freshLeaves, outerGradEnabled };
}

/**
 * The gradients of a prepared call in the form of its arguments: per argnum a Tensor, or for a
 * record argument a record of the same shape (its leaves' gradients). Library-internal.
 */
export function gradientsInArgumentForm(call: DifferentiatedCall, args: readonly unknown[], gradients: readonly Tensor[]): unknown[] {
  let next = 0;
  return call.argnums.map((argnum) => {
    const argument = args[argnum];
    return isRecordNode(argument) ? mapLeaves(argument, `argument ${argnum}`, () => gradients[next++]) : gradients[next++];
  });
}

/**
 * The gradients of ⟨output, seed⟩ with respect to the fresh tensors of a prepared call,
 * recorded (createGraph) when an outer grad differentiates them. Library-internal.
 */
export function gradientsOf(
  operation: string,
  call: DifferentiatedCall,
  output: Tensor,
  seed: Tensor,
  options: { retainGraph: boolean; allowUnused: boolean },
): { gradients: Tensor[]; createGraph: boolean } {
  const createGraph = call.outerGradEnabled && dependsOnOuterGraph([output, seed], call.freshLeaves);
  const grads = output.requiresGrad
    ? backwardPass([output], [seed], { targets: call.differentiated, createGraph, retainGraph: createGraph || options.retainGraph })
    : new Map<Tensor, Tensor>();
  const gradients = call.differentiated.map((tensor, index) => {
    const gradient = grads.get(tensor);
    if (gradient !== undefined) return gradient;
    if (!options.allowUnused && !isReachable(output, tensor)) {
      throw new Error(
        `${operation}: the function's output does not depend on ${call.paths[index]} ` +
          `(shape ${formatShape(tensor.shape)}); pass { allowUnused: true } to get a zero gradient for it`,
      );
    }
    return zerosLike(tensor);
  });
  return { gradients, createGraph };
}

function evaluateWithGradient<Args extends unknown[]>(
  operation: string,
  fn: (...args: Args) => Tensor,
  argnums: readonly number[],
  args: Args,
  allowUnused: boolean,
): [Tensor, unknown[]] {
  const call = prepareArguments(operation, argnums, args);
  const output = enableGrad(() => fn(...(call.callArgs as Args)));
  if (!(output instanceof Tensor) || output.size !== 1) {
    const shape = output instanceof Tensor ? formatShape(output.shape) : typeof output;
    throw new Error(`${operation}: the function must return a one-element Tensor, got ${shape}`);
  }
  const { gradients, createGraph } = gradientsOf(operation, call, output, onesLike(output), { retainGraph: false, allowUnused });
  return [createGraph ? output : detachKeepingTangents(output), gradientsInArgumentForm(call, args, gradients)];
}

/**
 * What a transform returns as f's value: the output itself when an outer grad differentiates
 * it, otherwise a detached copy (with its forward-mode tangents). Library-internal.
 */
export function valueOf(call: DifferentiatedCall, output: Tensor): Tensor {
  return call.outerGradEnabled && dependsOnOuterGraph([output], call.freshLeaves) ? output : detachKeepingTangents(output);
}

/** output.detach() with the forward-mode tangents kept (a value returned out of a backward pass). */
export function detachKeepingTangents(output: Tensor): Tensor {
  const value = output.detach();
  copyTangents(output, value);
  return value;
}

export function normalizeArgnums(operation: string, argnums: number | readonly number[] | undefined): number[] {
  const list = argnums === undefined ? [0] : typeof argnums === 'number' ? [argnums] : [...argnums];
  for (const argnum of list) {
    if (!Number.isInteger(argnum) || argnum < 0) throw new Error(`${operation}: argnums must be non-negative integers, got ${argnum}`);
  }
  return list;
}

/**
 * JAX-style gradient: grad(f)(...args) is the gradient of the scalar f(...args) with respect to
 * args[argnums]. It composes: grad(x => grad(f)(x).sum())(x) is a second derivative. A
 * differentiated argument may be a record (plain objects and arrays of Tensors, nested, as vmap
 * takes them): its gradient is a record of the same shape, `grad(loss)({ w, b }, x)` is `{ w: dw, b: db }`.
 */
export function grad<Args extends unknown[], const Options extends GradOptions | undefined = undefined>(
  fn: (...args: Args) => Tensor,
  options?: Options,
): (...args: Args) => GradResult<Args, Options> {
  checkOptions('grad', options, ['argnums', 'allowUnused']);
  const argnums = normalizeArgnums('grad', options?.argnums);
  const many = Array.isArray(options?.argnums);
  const allowUnused = options?.allowUnused ?? false;
  return (...args: Args) => {
    const [, gradients] = evaluateWithGradient('grad', fn, argnums, args, allowUnused);
    return (many ? gradients : gradients[0]!) as GradResult<Args, Options>;
  };
}

/** Like grad, but returns [f(...args), gradient(s)] (records of gradients for record arguments, as grad). */
export function valueAndGrad<Args extends unknown[], const Options extends GradOptions | undefined = undefined>(
  fn: (...args: Args) => Tensor,
  options?: Options,
): (...args: Args) => [Tensor, GradResult<Args, Options>] {
  checkOptions('valueAndGrad', options, ['argnums', 'allowUnused']);
  const argnums = normalizeArgnums('valueAndGrad', options?.argnums);
  const many = Array.isArray(options?.argnums);
  const allowUnused = options?.allowUnused ?? false;
  return (...args: Args) => {
    const [value, gradients] = evaluateWithGradient('valueAndGrad', fn, argnums, args, allowUnused);
    return [value, (many ? gradients : gradients[0]!) as GradResult<Args, Options>];
  };
}
