import { Tensor } from '../tensor.js';

/**
 * Records of tensors, as transforms take and return them (JAX's pytrees, torch.func's nested
 * inputs): plain objects and arrays, nested to any depth, whose leaves are Tensors or other
 * values. Only arrays and plain objects (made by `{}` or `Object.create(null)`) are records;
 * every other value, a Module or a Map for instance, is a leaf.
 */

/** A Tensor, or a plain object or array of them, nested to any depth. */
export type TensorRecord = Tensor | readonly TensorRecord[] | { readonly [key: string]: TensorRecord };

/**
 * T checked as a record of tensors: T itself where every leaf of T is a Tensor, else T with
 * `never` at each leaf that is not. Unlike TensorRecord it needs no index signature, so records
 * declared as an `interface` pass: `Result extends TensorRecordOf<Result>` accepts exactly the
 * results whose leaves are all Tensors.
 */
export type TensorRecordOf<T> = T extends Tensor
  ? T
  : T extends (...args: never[]) => unknown
    ? never
    : T extends object
      ? { readonly [K in keyof T]: TensorRecordOf<T[K]> }
      : never;

/**
 * A record of axes (vmap's inDims and outDims) for a record of tensors: a number or null at a
 * node applies to every leaf below it (a prefix of the record, as JAX's in_axes); an array or
 * plain object must have the shape of the record at that node (the same length, the same keys).
 */
export type AxisRecord<Axis> = Axis | readonly AxisRecord<Axis>[] | { readonly [key: string]: AxisRecord<Axis> };

/** Whether a value is a record node (an array or a plain object) rather than a leaf. */
export function isRecordNode(value: unknown): value is readonly unknown[] | Readonly<Record<string, unknown>> {
  if (Array.isArray(value)) return true;
  if (value === null || typeof value !== 'object' || value instanceof Tensor) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** The path of a record's child, as JavaScript would write the access: `argument 0.w`, `output[1]`, `argument 0["0.weight"]`. */
export function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** How a record's node looks in an Error: its type, a Tensor's shape, a record's kind. */
function describeNode(value: unknown): string {
  if (value instanceof Tensor) return `a Tensor of shape [${value.shape.join(', ')}]`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (isRecordNode(value)) return `a record with keys ${JSON.stringify(Object.keys(value))}`;
  return value === null ? 'null' : typeof value;
}

/**
 * The record with every leaf replaced by `visit(leaf, axis, path)`, where axis is the number or
 * null that `axes` gives that leaf. `axes` is a prefix of the record (AxisRecord); a mismatch of
 * the two is an Error naming `entryPoint`, the option and the path. A subtree whose axis is null
 * is returned as it is, unvisited, when `visitNull` is false.
 */
export function mapWithAxes<Axis extends number | null>(
  entryPoint: string,
  option: string,
  value: unknown,
  axes: unknown,
  path: string,
  visit: (leaf: unknown, axis: Axis, path: string) => unknown,
  options: { visitNull: boolean; isAxis: (axis: unknown) => axis is Axis },
): unknown {
  if (options.isAxis(axes)) {
    if (axes === null && !options.visitNull) return value;
    return mapLeaves(value, path, (leaf, leafPath) => visit(leaf, axes, leafPath));
  }
  if (Array.isArray(axes)) {
    if (!Array.isArray(value) || value.length !== axes.length) {
      throw new Error(`${entryPoint}: ${option} for ${path} is an array of ${axes.length}, but ${path} is ${describeNode(value)}; give an array of the same length, or one axis for all of it`);
    }
    return value.map((child, index) => mapWithAxes(entryPoint, option, child, axes[index], childPath(path, index), visit, options));
  }
  if (isRecordNode(axes)) {
    const keys = Object.keys(axes);
    if (!isRecordNode(value) || Array.isArray(value)) {
      throw new Error(`${entryPoint}: ${option} for ${path} is a record with keys ${JSON.stringify(keys)}, but ${path} is ${describeNode(value)}; give a record of the same keys, or one axis for all of it`);
    }
    const valueKeys = Object.keys(value);
    const missing = keys.filter((key) => !Object.hasOwn(value, key));
    const unlisted = valueKeys.filter((key) => !Object.hasOwn(axes, key));
    if (missing.length > 0 || unlisted.length > 0) {
      const differences = [
        ...(missing.length > 0 ? [`${path} has no ${JSON.stringify(missing)}`] : []),
        ...(unlisted.length > 0 ? [`${option} gives no axis for ${JSON.stringify(unlisted)}`] : []),
      ];
      throw new Error(`${entryPoint}: ${path} and its ${option} must have the same keys: ${differences.join(', and ')}`);
    }
    const record = value as Readonly<Record<string, unknown>>;
    const axisRecord = axes as Readonly<Record<string, unknown>>;
    return Object.fromEntries(valueKeys.map((key) => [key, mapWithAxes(entryPoint, option, record[key], axisRecord[key], childPath(path, key), visit, options)]));
  }
  throw new Error(`${entryPoint}: ${option} for ${path} must be an axis (an integer${options.isAxis(null) ? ' or null' : ''}) or an array or record of them, got ${axes === undefined ? 'undefined' : JSON.stringify(axes)}`);
}

/** The record with every leaf replaced by `visit(leaf, path)`. */
export function mapLeaves(value: unknown, path: string, visit: (leaf: unknown, path: string) => unknown): unknown {
  if (Array.isArray(value)) return value.map((child, index) => mapLeaves(child, childPath(path, index), visit));
  if (isRecordNode(value)) {
    const record = value as Readonly<Record<string, unknown>>;
    return Object.fromEntries(Object.keys(record).map((key) => [key, mapLeaves(record[key], childPath(path, key), visit)]));
  }
  return visit(value, path);
}
