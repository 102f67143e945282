import type { DType, Tensor } from '@normgrad/core';

/** ONNX TensorProto.DataType codes of the element types an exported graph holds. */
export const ONNX_FLOAT = 1;
export const ONNX_INT32 = 6;
export const ONNX_INT64 = 7;
export const ONNX_DOUBLE = 11;

/** AttributeProto.AttributeType codes. */
const ATTRIBUTE_FLOAT = 1;
const ATTRIBUTE_INT = 2;
const ATTRIBUTE_STRING = 3;
const ATTRIBUTE_INTS = 7;

export interface TensorProto {
  name: string;
  dims: number[];
  data_type: number;
  raw_data: Uint8Array;
}

export interface AttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  ints?: number[];
}

export interface NodeProto {
  name: string;
  op_type: string;
  input: string[];
  output: string[];
  attribute: AttributeProto[];
}

/** A node attribute before it is named: an int, a float, a string or a list of ints (ONNX types them apart). */
export type Attribute = { int: number } | { float: number } | { string: string } | { ints: readonly number[] };

/**
 * The nodes and initializers of one ONNX graph being built, with names unique across both.
 * Every node is named after the module path it comes from (`scope`), e.g. `3.bn/Sub`, so a node
 * in the exported file can be traced back to its layer. Floating-point constants take the
 * model's dtype; shape and axis constants are int64, as ONNX requires.
 */
export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  /** Module path that names the nodes being added ('' for the model itself). */
  scope = '';
  private readonly names = new Set<string>();

  constructor(
    readonly dtype: DType,
    readonly opset: number,
    /** The first input axis is symbolic: reshapes must copy it (0) rather than fix it. */
    readonly dynamicBatch: boolean,
  ) {}

  /** `base`, or `base_1`, `base_2`, ... if taken; reserved for the caller. */
  uniqueName(base: string): string {
    let name = base;
    for (let k = 1; this.names.has(name); k++) name = `${base}_${k}`;
    this.names.add(name);
    return name;
  }

  /** A module tensor's name: its state-dict key, e.g. `3.bn.runningMean`. */
  private stateName(key: string): string {
    return this.scope === '' ? key : `${this.scope}.${key}`;
  }

  /** Nodes and constants are named `scope/label`, apart from state-dict keys. */
  private scopedLabel(label: string): string {
    return this.scope === '' ? label : `${this.scope}/${label}`;
  }

  /** A module's tensor (parameter or buffer) as an initializer named by its state-dict key. */
  addTensor(key: string, t: Tensor): string {
    if (t.dtype !== this.dtype) throw new Error(`exportOnnx: ${this.stateName(key)} has dtype ${t.dtype} but the model computes in ${this.dtype} (its input's dtype, or its parameters' for int32 indices)`);
    return this.addFloatInitializer(this.stateName(key), t.toTypedArray(), t.shape);
  }

  /** A floating-point constant of the model's dtype (e.g. eps, or ones standing in for a missing weight). */
  constant(label: string, values: readonly number[], shape: readonly number[]): string {
    return this.addFloatInitializer(this.scopedLabel(label), values, shape);
  }

  /** A 1-D int64 constant (shapes, axes, indices); an empty shape makes a scalar. */
  int64s(label: string, values: readonly number[], shape: readonly number[] = [values.length]): string {
    const bytes = new Uint8Array(values.length * 8);
    const view = new DataView(bytes.buffer);
    values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
    return this.addInitializer(this.scopedLabel(label), shape, ONNX_INT64, bytes);
  }

  private addFloatInitializer(name: string, values: ArrayLike<number>, shape: readonly number[]): string {
    const width = this.dtype === 'float64' ? 8 : 4;
    const bytes = new Uint8Array(values.length * width);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < values.length; i++) {
      if (width === 8) view.setFloat64(i * 8, values[i]!, true);
      else view.setFloat32(i * 4, values[i]!, true);
    }
    return this.addInitializer(name, shape, this.elementType, bytes);
  }

  private addInitializer(name: string, shape: readonly number[], dataType: number, rawData: Uint8Array): string {
    const unique = this.uniqueName(name);
    this.initializers.push({ name: unique, dims: [...shape], data_type: dataType, raw_data: rawData });
    return unique;
  }

  /** ONNX element type of the model's floating-point values. */
  get elementType(): number {
    return this.dtype === 'float64' ? ONNX_DOUBLE : ONNX_FLOAT;
  }

  /** Adds a node with one output and returns the output's name. */
  node(opType: string, inputs: readonly string[], attributes: Record<string, Attribute> = {}): string {
    const name = this.uniqueName(this.scopedLabel(opType));
    const attribute = Object.entries(attributes).map(([key, value]): AttributeProto => {
      if ('int' in value) return { name: key, type: ATTRIBUTE_INT, i: value.int };
      if ('float' in value) return { name: key, type: ATTRIBUTE_FLOAT, f: value.float };
      if ('string' in value) return { name: key, type: ATTRIBUTE_STRING, s: new TextEncoder().encode(value.string) };
      return { name: key, type: ATTRIBUTE_INTS, ints: [...value.ints] };
    });
    this.nodes.push({ name, op_type: opType, input: [...inputs], output: [name], attribute });
    return name;
  }

  /**
   * Renames the value `from` (a node output) to `to` everywhere, e.g. to give the graph's output
   * the user's name. Returns false if no node produces `from` (it is an input or initializer).
   */
  renameValue(from: string, to: string): boolean {
    const producer = this.nodes.find((n) => n.output.includes(from));
    if (!producer) return false;
    if (this.names.has(to)) throw new Error(`exportOnnx: the name '${to}' is already used in the graph`);
    this.names.add(to);
    for (const n of this.nodes) {
      n.output = n.output.map((o) => (o === from ? to : o));
      n.input = n.input.map((i) => (i === from ? to : i));
    }
    return true;
  }

  // ---- small compositions of nodes used by several layers --------------------------------

  /** ReduceMean over `axes`, keeping them: axes are an attribute before opset 18 and an input from 18 on. */
  reduceMean(x: string, axes: readonly number[]): string {
    if (this.opset < 18) return this.node('ReduceMean', [x], { axes: { ints: axes }, keepdims: { int: 1 } });
    return this.node('ReduceMean', [x, this.int64s('axes', axes)], { keepdims: { int: 1 } });
  }

  /** ReduceSum over `axes`, keeping them (axes an input from opset 13 on). */
  reduceSum(x: string, axes: readonly number[]): string {
    return this.node('ReduceSum', [x, this.int64s('axes', axes)], { keepdims: { int: 1 } });
  }

  /** Mean and biased variance over `axes` (kept), the variance as the mean of squared deviations. */
  moments(x: string, axes: readonly number[]): { mean: string; deviation: string; variance: string } {
    const mean = this.reduceMean(x, axes);
    const deviation = this.node('Sub', [x, mean]);
    const variance = this.reduceMean(this.node('Mul', [deviation, deviation]), axes);
    return { mean, deviation, variance };
  }

  /** deviation / sqrt(variance + eps). */
  normalize(deviation: string, variance: string, eps: number): string {
    const std = this.node('Sqrt', [this.node('Add', [variance, this.constant('eps', [eps], [])])]);
    return this.node('Div', [deviation, std]);
  }

  /** A per-channel vector [C] viewed as (C, 1, ..., 1), to broadcast along axis 1 of a rank-`rank` value. */
  channelView(vector: string, rank: number): string {
    return this.node('Reshape', [vector, this.int64s('channel_shape', [-1, ...Array<number>(rank - 2).fill(1)])]);
  }

  /** y * weight + bias with weight, bias of shape [C] (either may be null) applied along axis 1 of a rank-`rank` y. */
  channelAffine(y: string, rank: number, weight: string | null, bias: string | null): string {
    let out = y;
    if (weight) out = this.node('Mul', [out, this.channelView(weight, rank)]);
    if (bias) out = this.node('Add', [out, this.channelView(bias, rank)]);
    return out;
  }
}
