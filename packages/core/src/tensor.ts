import ndarray from 'ndarray';
import type { NdArray } from 'ndarray';
import type { DataArray, DType } from './dtype.js';
import { contiguousData, dtypeOfNd, isContiguous, sizeOf, type FloatNdArray } from './kernels/layout.js';
import type { GraphNode } from './primitive.js';
import * as composite from './composite/index.js';
import { backwardIntoLeaves, registerGradHook, type GradHook, type HookHandle } from './autodiff.js';
import { checkOptions, formatShape } from './composite/validate.js';
import { materialize, type PendingElementwise } from './fusion.js';
import { contentsAt, registerPendingReader, releasePendingReader, type StorageCell } from './storage.js';
import { currentRecord, forgetAllocation, type AllocationRecord } from './storage-pool.js';
import { activeRecorder } from './compile/recorder.js';

export type NestedArray = number | NestedArray[];
export type Axes = number | readonly number[] | null | undefined;
export type SliceRange = null | number | readonly [(number | null)?, (number | null)?, (number | null)?];
export type Operand = Tensor | number;

/** What compile's error says when a traced function reads values into JavaScript. */
const READ_ADVICE = 'a replay runs only tensor kernels, so values read in JavaScript (and branches on them) would be those of the first call; return the tensor from the compiled function and read it outside';

/**
 * What a tensor without values of its own stands for: a tensor batched by vmap, whose values are
 * held by another tensor with the batch axis (transforms/vmap.ts). Library-internal.
 */
export interface HeldElsewhere {
  /** Called on any read of the values: throws an Error saying why they cannot be read here. */
  read(): never;
  /** The tensor's detach(): the same stand-in for the holder's values without history. */
  detach(): Tensor;
}

/**
 * An n-dimensional float32, float64 or int32 array with an optional place in the autodiff graph.
 * `data` is the underlying scijs ndarray, possibly a strided view shared with other tensors.
 * int32 tensors hold indices (argmax, topk, gather's index, class targets) and are never
 * differentiated.
 * Every method is also a free function of the package.
 */
export class Tensor {
  #data: FloatNdArray | null;
  /** An elementwise result not computed yet (see fusion.ts); null once data exists. */
  #pending: PendingElementwise | null;
  /** The storage cells (storage.ts) of the pending result's operands, in order, until it is computed. */
  #cells: StorageCell[] | null = null;
  /** For a stand-in without values of its own (vmap), what it stands for; null otherwise. */
  #heldElsewhere: HeldElsewhere | null = null;
  readonly shape: number[];
  readonly dtype: DType;
  readonly size: number;
  readonly ndim: number;
  #requiresGrad = false;
  #grad: Tensor | null = null;
  /** The primitive application that produced this tensor; null for leaves and untracked results. */
  node: GraphNode | null;
  /** The backward pass running when the tensor was made, if any (storage-pool.ts). */
  readonly #madeDuring: AllocationRecord | null = currentRecord();

  private constructor(
    data: FloatNdArray | null,
    pending: PendingElementwise | null,
    node: GraphNode | null,
    requiresGrad: boolean,
    standIn?: { shape: readonly number[]; dtype: DType; heldElsewhere: HeldElsewhere },
  ) {
    this.#data = data;
    this.#pending = pending;
    this.#heldElsewhere = standIn?.heldElsewhere ?? null;
    this.shape = data ? data.shape.slice() : pending ? pending.shape.slice() : standIn!.shape.slice();
    this.dtype = data ? dtypeOfNd(data) : pending ? pending.dtype : standIn!.dtype;
    this.size = sizeOf(this.shape);
    this.ndim = this.shape.length;
    this.node = node;
    this.requiresGrad = requiresGrad;
  }

  /** Whether gradients flow to this tensor. An int32 tensor never requires grad (setting it is an Error). */
  get requiresGrad(): boolean {
    return this.#requiresGrad;
  }

  set requiresGrad(value: boolean) {
    if (value && this.dtype === 'int32') {
      throw new Error(`requiresGrad: an int32 tensor of shape ${formatShape(this.shape)} cannot require grad (indices are not differentiated); convert it with .to('float32') first`);
    }
    this.#requiresGrad = value;
  }

  /** Wraps an ndarray (not copied). Library-internal; users call `tensor(...)`. */
  static fromNd(data: NdArray<DataArray>, options: { node?: GraphNode | null; requiresGrad?: boolean } = {}): Tensor {
    return new Tensor(data as FloatNdArray, null, options.node ?? null, options.requiresGrad ?? false);
  }

  /** A tensor whose elementwise result is computed on first use (fusion.ts). Library-internal. */
  static fromPending(pending: PendingElementwise, options: { node?: GraphNode | null; requiresGrad?: boolean } = {}): Tensor {
    const tensor = new Tensor(null, pending, options.node ?? null, options.requiresGrad ?? false);
    tensor.#cells = registerPendingReader(pending.operands.map((operand) => operand.data));
    return tensor;
  }

  /**
   * A tensor of this shape and dtype without values of its own: any read of its data calls
   * `heldElsewhere.read()`, which throws. Library-internal (vmap's batched tensors).
   */
  static standIn(shape: readonly number[], dtype: DType, heldElsewhere: HeldElsewhere, options: { node?: GraphNode | null; requiresGrad?: boolean } = {}): Tensor {
    return new Tensor(null, null, options.node ?? null, options.requiresGrad ?? false, { shape, dtype, heldElsewhere });
  }

  /** For a stand-in (see standIn), what it stands for; null for a tensor with values. Library-internal. */
  get heldElsewhere(): HeldElsewhere | null {
    return this.#heldElsewhere;
  }

  /** The underlying scijs ndarray (computed now if this is a pending elementwise result). */
  get data(): FloatNdArray {
    if (this.#heldElsewhere !== null) this.#heldElsewhere.read();
    if (this.#data === null) this.computePending();
    return this.#data!;
  }

  /** Computes a pending elementwise result now. */
  private computePending(): void {
    const pending = this.pendingElementwise;
    if (pending === null) return;
    this.#data = materialize(pending);
    if (this.#madeDuring !== currentRecord()) forgetAllocation(this.#data.data);
    activeRecorder?.materialize(pending, this.#data);
    this.#pending = null;
    releasePendingReader(this.#cells!);
    this.#cells = null;
  }

  /**
   * The pending elementwise expression, or null once the data exists. Library-internal (fusion).
   * Operands whose storage was written since the result was made are read from the contents they
   * had then (storage.ts).
   */
  get pendingElementwise(): PendingElementwise | null {
    const pending = this.#pending;
    const cells = this.#cells;
    if (pending !== null && cells !== null && anySnapshot(cells)) {
      activeRecorder?.readsSnapshot(pending);
      pending.operands = pending.operands.map((operand, k) => {
        const data = contentsAt(operand.data, cells[k]!);
        return data === operand.data ? operand : ndarray(data, operand.shape.slice(), operand.stride.slice(), operand.offset) as FloatNdArray;
      });
      // the result now reads only the snapshots and storage nobody wrote
      releasePendingReader(cells);
      this.#cells = registerPendingReader(pending.operands.map((operand) => operand.data));
    }
    return pending;
  }

  /** The accumulated gradient (null until a backward pass reaches this tensor); one of this tensor's shape and dtype. */
  get grad(): Tensor | null {
    activeRecorder?.readGrad(this, this.#grad);
    return this.#grad;
  }

  set grad(gradient: Tensor | null) {
    if (gradient !== null && !(gradient instanceof Tensor)) {
      throw new Error(`Tensor.grad: expected a Tensor or null, got ${gradient === undefined ? 'undefined' : typeof gradient}`);
    }
    if (gradient !== null && (gradient.dtype !== this.dtype || formatShape(gradient.shape) !== formatShape(this.shape))) {
      throw new Error(
        `Tensor.grad: assigned a ${gradient.dtype} gradient of shape ${formatShape(gradient.shape)} ` +
          `to a ${this.dtype} tensor of shape ${formatShape(this.shape)}; it must match both`,
      );
    }
    activeRecorder?.writeGrad(this, gradient);
    this.#grad = gradient;
  }

  /** True for tensors the user made (no recorded history). */
  get isLeaf(): boolean {
    return this.node === null;
  }

  // ---- conversion -------------------------------------------------------------------------

  /** The elements in row-major order as a fresh typed array of the tensor's dtype. */
  toTypedArray(): DataArray {
    activeRecorder?.untraceable('toTypedArray() reads a tensor\'s values into JavaScript', READ_ADVICE);
    return contiguousData(this.data).slice();
  }

  toFloat64Array(): Float64Array {
    activeRecorder?.untraceable('toFloat64Array() reads a tensor\'s values into JavaScript', READ_ADVICE);
    return Float64Array.from(contiguousData(this.data));
  }

  toArray(): NestedArray {
    activeRecorder?.untraceable('toArray() reads a tensor\'s values into JavaScript', READ_ADVICE);
    const flat = contiguousData(this.data);
    if (this.ndim === 0) return flat[0]!;
    let position = 0;
    const build = (axis: number): NestedArray[] => {
      const extent = this.shape[axis]!;
      const result: NestedArray[] = new Array(extent);
      for (let i = 0; i < extent; i++) result[i] = axis === this.ndim - 1 ? flat[position++]! : build(axis + 1);
      return result;
    };
    return build(0);
  }

  /**
   * What JSON.stringify writes for a tensor: `{ dtype, shape, data }` with the elements in
   * row-major order, which `tensor(json.data, { shape: json.shape, dtype: json.dtype })` rebuilds
   * exactly. JSON has no NaN or Infinity, so a tensor holding one throws instead of being written
   * as null.
   */
  toJSON(): { dtype: DType; shape: number[]; data: number[] } {
    activeRecorder?.untraceable('toJSON() reads a tensor\'s values into JavaScript', READ_ADVICE);
    const data = Array.from(contiguousData(this.data));
    const bad = data.findIndex((value) => !Number.isFinite(value));
    if (bad >= 0) {
      throw new Error(
        `Tensor.toJSON: element ${bad} of a tensor of shape ${formatShape(this.shape)} is ${data[bad]}, which JSON cannot hold; ` +
          'save tensors with @normgrad/io (serializeSafetensors / saveSafetensors)',
      );
    }
    return { dtype: this.dtype, shape: this.shape.slice(), data };
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) {
      throw new Error(`item: a tensor of shape ${formatShape(this.shape)} has ${this.size} elements; item() needs exactly one`);
    }
    activeRecorder?.untraceable('item() reads a tensor\'s value into JavaScript', READ_ADVICE);
    return contiguousData(this.data)[0]!;
  }

  isContiguous(): boolean {
    return isContiguous(this.data);
  }

  toString(): string {
    const grad = this.requiresGrad ? ', requiresGrad' : '';
    return `Tensor(${JSON.stringify(this.toArray())}, shape=${formatShape(this.shape)}, dtype=${this.dtype}${grad})`;
  }

  // ---- autodiff ---------------------------------------------------------------------------

  /**
   * Accumulates d(this)/d(leaf) · gradOutput into the `.grad` of every leaf that requires grad.
   * A scalar needs no gradOutput. With createGraph the gradients carry history (for higher order);
   * retainGraph (default: createGraph) keeps the graph for another backward.
   */
  backward(gradOutput?: Tensor | null, options: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    checkBackwardArguments(gradOutput, options);
    backwardIntoLeaves(this, gradOutput ?? undefined, options);
  }

  /** The same values without history: a new leaf that does not require grad (shares data). */
  detach(): Tensor {
    if (this.#heldElsewhere !== null) return this.#heldElsewhere.detach();
    return new Tensor(this.data, null, null, false);
  }

  /** A contiguous copy (with history). */
  clone(): Tensor {
    return composite.clone(this);
  }

  /**
   * Converts to another dtype (differentiable between float dtypes; returns this tensor when the
   * dtype already matches). To int32, values are truncated toward zero (as PyTorch).
   */
  to(dtype: DType): Tensor {
    return composite.cast(this, dtype);
  }

  /**
   * Registers a gradient hook: whenever the gradient with respect to this tensor is computed (by
   * backward, grad, …), fn receives it; a Tensor it returns replaces the gradient (PyTorch's
   * Tensor.register_hook). Hooks run in the order registered.
   */
  registerHook(fn: GradHook): HookHandle {
    return registerGradHook(this, fn);
  }

  // ---- elementwise ------------------------------------------------------------------------
  add(other: Operand): Tensor { return composite.add(this, other); }
  sub(other: Operand): Tensor { return composite.sub(this, other); }
  mul(other: Operand): Tensor { return composite.mul(this, other); }
  div(other: Operand): Tensor { return composite.div(this, other); }
  pow(exponent: Operand): Tensor { return composite.pow(this, exponent); }
  maximum(other: Operand): Tensor { return composite.maximum(this, other); }
  minimum(other: Operand): Tensor { return composite.minimum(this, other); }
  lt(other: Operand): Tensor { return composite.lt(this, other); }
  le(other: Operand): Tensor { return composite.le(this, other); }
  gt(other: Operand): Tensor { return composite.gt(this, other); }
  ge(other: Operand): Tensor { return composite.ge(this, other); }
  eq(other: Operand): Tensor { return composite.eq(this, other); }
  ne(other: Operand): Tensor { return composite.ne(this, other); }
  /** PyTorch's Tensor.where: elements of this where condition holds, else of other. */
  where(condition: Tensor, other: Operand): Tensor { return composite.where(condition, this, other); }
  neg(): Tensor { return composite.neg(this); }
  exp(): Tensor { return composite.exp(this); }
  log(): Tensor { return composite.log(this); }
  sqrt(): Tensor { return composite.sqrt(this); }
  rsqrt(): Tensor { return composite.rsqrt(this); }
  reciprocal(): Tensor { return composite.reciprocal(this); }
  abs(): Tensor { return composite.abs(this); }
  sign(): Tensor { return composite.sign(this); }
  square(): Tensor { return composite.square(this); }
  sin(): Tensor { return composite.sin(this); }
  cos(): Tensor { return composite.cos(this); }
  tanh(): Tensor { return composite.tanh(this); }
  sigmoid(): Tensor { return composite.sigmoid(this); }
  relu(): Tensor { return composite.relu(this); }
  clamp(min?: number | null, max?: number | null): Tensor { return composite.clamp(this, min, max); }

  // ---- reductions -------------------------------------------------------------------------
  sum(axis?: Axes, keepdims = false): Tensor { return composite.sum(this, axis, keepdims); }
  mean(axis?: Axes, keepdims = false): Tensor { return composite.mean(this, axis, keepdims); }
  /** Variance with Bessel's correction by default (correction 1), as PyTorch. */
  var(axis?: Axes, options: { correction?: number; keepdims?: boolean } = {}): Tensor { return composite.variance(this, axis, options); }
  std(axis?: Axes, options: { correction?: number; keepdims?: boolean } = {}): Tensor { return composite.std(this, axis, options); }
  max(axis?: Axes, keepdims = false): Tensor { return composite.max(this, axis, keepdims); }
  min(axis?: Axes, keepdims = false): Tensor { return composite.min(this, axis, keepdims); }
  logsumexp(axis?: Axes, keepdims = false): Tensor { return composite.logsumexp(this, axis, keepdims); }
  softmax(axis = -1): Tensor { return composite.softmax(this, axis); }
  logSoftmax(axis = -1): Tensor { return composite.logSoftmax(this, axis); }

  // ---- shape ------------------------------------------------------------------------------
  reshape(shape: readonly number[]): Tensor { return composite.reshape(this, shape); }
  permute(permutation: readonly number[]): Tensor { return composite.permute(this, permutation); }
  /** transpose() reverses the axes; transpose(a, b) swaps two axes (PyTorch); a full permutation also works. */
  transpose(...axes: number[]): Tensor { return composite.transpose(this, ...axes); }
  broadcastTo(shape: readonly number[]): Tensor { return composite.broadcastTo(this, shape); }
  unsqueeze(axis: number): Tensor { return composite.unsqueeze(this, axis); }
  squeeze(axis?: Axes): Tensor { return composite.squeeze(this, axis); }
  flatten(startAxis = 0, endAxis = -1): Tensor { return composite.flatten(this, startAxis, endAxis); }
  slice(...ranges: SliceRange[]): Tensor { return composite.slice(this, ...ranges); }
  narrow(axis: number, start: number, length: number): Tensor { return composite.narrow(this, axis, start, length); }
  pad(widths: readonly (readonly [number, number])[], value = 0): Tensor { return composite.pad(this, widths, value); }
  concat(others: readonly Tensor[], axis = 0): Tensor { return composite.concat([this, ...others], axis); }
  /** stack([this, ...others], axis): joins along a new axis (the free function is stack(tensors, axis)). */
  stack(others: readonly Tensor[], axis = 0): Tensor { return composite.stack([this, ...others], axis); }
  matmul(other: Tensor): Tensor { return composite.matmul(this, other); }

  // ---- indices and selection --------------------------------------------------------------
  /** Position of the largest element (int32); over the flattened tensor when no axis is given. */
  argmax(axis?: number, keepdims = false): Tensor { return composite.argmax(this, axis, keepdims); }
  argmin(axis?: number, keepdims = false): Tensor { return composite.argmin(this, axis, keepdims); }
  argsort(axis = -1, options: composite.ArgsortOptions = {}): Tensor { return composite.argsort(this, axis, options); }
  topk(k: number, axis = -1, options: composite.TopkOptions = {}): { values: Tensor; indices: Tensor } { return composite.topk(this, k, axis, options); }
  gather(axis: number, index: Tensor): Tensor { return composite.gather(this, axis, index); }
  indexSelect(axis: number, index: Tensor): Tensor { return composite.indexSelect(this, axis, index); }
  maskedFill(mask: Tensor, value: number | Tensor): Tensor { return composite.maskedFill(this, mask, value); }
}

/** Whether a write retired any of the cells (its readers then read the snapshot). */
function anySnapshot(cells: readonly StorageCell[]): boolean {
  for (const cell of cells) if (cell.snapshot !== null) return true;
  return false;
}

/** backward(gradOutput?, options?): gradOutput a Tensor (or null/undefined), options with known keys of boolean values. */
function checkBackwardArguments(gradOutput: unknown, options: unknown): void {
  if (gradOutput !== undefined && gradOutput !== null && !(gradOutput instanceof Tensor)) {
    const looksLikeOptions = typeof gradOutput === 'object' && !Array.isArray(gradOutput) && Object.keys(gradOutput).some((key) => key === 'createGraph' || key === 'retainGraph');
    const shown = Array.isArray(gradOutput) ? 'an array' : typeof gradOutput === 'object' ? 'a plain object' : `${typeof gradOutput} ${String(gradOutput)}`;
    const hint = looksLikeOptions ? `; options go second: backward(undefined, ${JSON.stringify(gradOutput)})` : '';
    throw new Error(`backward: gradOutput must be a Tensor (or undefined for a scalar), got ${shown}${hint}`);
  }
  checkOptions('backward', options, ['retainGraph', 'createGraph']);
  for (const [key, value] of Object.entries(options as object)) {
    if (value !== undefined && typeof value !== 'boolean') throw new Error(`backward: ${key} must be a boolean, got ${JSON.stringify(value)}`);
  }
}
