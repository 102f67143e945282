import type { NdArray } from 'ndarray';
import type { DataArray, FloatArray } from './dtype.js';
import { copyNd } from './kernels/elementwise.js';
import { dtypeOfNd, type FloatNdArray } from './kernels/layout.js';
import { primitive, type Primitive } from './primitive.js';
import { Tensor } from './tensor.js';
import { checkOptions, formatShape } from './composite/validate.js';
import { zerosLike } from './creation.js';
import { stack } from './composite/shape.js';

export interface CustomOpDefinition {
  name: string;
  /**
   * The forward computation on raw ndarrays (inputs may be strided views: read, never write). It
   * returns a float32 or float64 ndarray, e.g. a tensor's `.data` (typed as any dtype's; an int32
   * result is an Error).
   */
  forward: (...inputs: NdArray<FloatArray>[]) => NdArray<DataArray>;
  /** One gradient (or null) per input, written in Tensor ops so that it is itself differentiable. */
  vjp: (gradOut: Tensor, inputs: Tensor[], output: Tensor) => (Tensor | null)[];
  /**
   * Optional forward-mode rule: the output's tangent given one tangent per input (zeros for
   * inputs without one), in Tensor ops. Without it, jvp through the op is an Error.
   */
  jvp?: (tangents: Tensor[], inputs: Tensor[], output: Tensor) => Tensor;
}

/**
 * A user-defined op: raw-ndarray forward, Tensor-op VJP. Check the VJP with gradcheck — a wrong
 * rule is caught there, not here.
 */
export function customOp(definition: CustomOpDefinition): (...inputs: Tensor[]) => Tensor {
  const { name } = definition;
  if (typeof name !== 'string' || typeof definition.forward !== 'function' || typeof definition.vjp !== 'function') {
    throw new Error('customOp: expected { name: string, forward: function, vjp: function, jvp?: function }');
  }
  checkOptions('customOp', definition, ['name', 'forward', 'vjp', 'jvp']);
  const jvpRule = definition.jvp;
  if (jvpRule !== undefined && typeof jvpRule !== 'function') throw new Error(`customOp: jvp of '${name}' must be a function, got ${typeof jvpRule}`);
  const op: Primitive<undefined> = primitive<undefined>({
    name,
    forward: (inputs) => {
      const result = definition.forward(...(inputs as NdArray<FloatArray>[])) as FloatNdArray;
      if (!result || !(result.data instanceof Float32Array || result.data instanceof Float64Array) || !Array.isArray(result.shape)) {
        throw new Error(`${name}: forward must return an ndarray backed by a Float32Array or Float64Array`);
      }
      const dtype = inputs[0] ? dtypeOfNd(inputs[0]) : dtypeOfNd(result);
      return dtypeOfNd(result) === dtype ? result : copyNd(result, dtype);
    },
    vjp: (gradOut, { inputs, out }) => {
      const grads = definition.vjp(gradOut, [...inputs], out);
      if (!Array.isArray(grads) || grads.length !== inputs.length) {
        throw new Error(`${name}: vjp must return one gradient (or null) per input: ${inputs.length} expected, got ${Array.isArray(grads) ? grads.length : typeof grads}`);
      }
      return grads;
    },
    jvp: (tangents, { inputs, out }) => {
      if (jvpRule === undefined) {
        throw new Error(`${name}: forward-mode differentiation (jvp) through this customOp needs a jvp rule: customOp({ name, forward, vjp, jvp })`);
      }
      const filled = inputs.map((input, index) => tangents[index] ?? zerosLike(input));
      const tangent = jvpRule(filled, [...inputs], out);
      if (!(tangent instanceof Tensor)) throw new Error(`${name}: jvp must return a Tensor (the output's tangent), got ${typeof tangent}`);
      return tangent;
    },
    // The forward is the user's raw-ndarray function of one example's arrays, so no batched form of
    // it exists: vmap runs it once per example (a loop) and stacks the results.
    batch: (inputs, { batched, size }) => {
      const example = (position: number) => inputs.map((input, index) => (batched[index] ? input.narrow(0, position, 1).reshape(input.shape.slice(1)) : input));
      return stack(Array.from({ length: size }, (_, position) => op(example(position), undefined)), 0);
    },
  });
  return (...inputs: Tensor[]) => {
    inputs.forEach((input, index) => {
      if (!(input instanceof Tensor)) throw new Error(`${name}: input ${index} must be a Tensor`);
      if (input.dtype === 'int32') throw new Error(`${name}: input ${index} is an int32 tensor of shape ${formatShape(input.shape)}; a customOp takes float tensors (convert with .to('float32'))`);
      if (input.dtype !== inputs[0]!.dtype) {
        throw new Error(`${name}: dtype mismatch: input 0 is ${inputs[0]!.dtype} ${formatShape(inputs[0]!.shape)}, input ${index} is ${input.dtype} ${formatShape(input.shape)}`);
      }
    });
    return op(inputs, undefined);
  };
}
