import { checkOptions, type Tensor } from '@normgrad/core';
import { checkSameDtype, formatShape, range } from '../util.js';

export interface WeightNormalizeOptions {
  /** The axis kept (one norm per slice along it); null: one norm over the whole tensor. Default 0. */
  dim?: number | null;
}

/**
 * Weight normalization (Salimans & Kingma 2016, https://arxiv.org/abs/1602.07868): the weight
 * reparametrized by a direction v and a magnitude g,
 *
 *   w = g · v / ‖v‖
 *
 * with ‖v‖ the 2-norm over every axis but `dim` (g has v's shape with extent 1 on those axes),
 * or over all of v for dim null (g of shape []). PyTorch's `torch._weight_norm(v, g, dim)`.
 */
export function weightNormalize(v: Tensor, g: Tensor, options: WeightNormalizeOptions = {}): Tensor {
  const op = 'weightNormalize';
  checkOptions(op, options, ['dim']);
  const { dim = 0 } = options;
  checkWeightNormDim(op, dim, v);
  const expected = weightNormMagnitudeShape(v.shape, dim);
  if (formatShape(g.shape) !== formatShape(expected)) throw new Error(`${op}: g must have shape ${formatShape(expected)} for v of shape ${formatShape(v.shape)} and dim ${dim}, got ${formatShape(g.shape)}`);
  checkSameDtype(op, v, { g });
  return v.mul(g.div(directionNorm(v, dim)));
}

/** ‖v‖ over every axis but dim (keepdims), or over all of v (shape []) for dim null. */
export function directionNorm(v: Tensor, dim: number | null): Tensor {
  const axes = dim === null ? range(0, v.ndim) : range(0, v.ndim).filter((axis) => axis !== dim);
  return v.square().sum(axes, dim !== null).sqrt();
}

/** The shape of g: v's shape with extent 1 on every axis but dim, or [] for dim null. */
export function weightNormMagnitudeShape(shape: readonly number[], dim: number | null): number[] {
  return dim === null ? [] : shape.map((extent, axis) => (axis === dim ? extent : 1));
}

export function checkWeightNormDim(op: string, dim: number | null, v: Tensor): void {
  if (dim !== null && (!Number.isInteger(dim) || dim < 0 || dim >= v.ndim)) {
    throw new Error(`${op}: dim must be an integer in [0, ${v.ndim}) for a weight of shape ${formatShape(v.shape)}, or null (one norm over the whole weight, PyTorch's dim=None), got ${dim}`);
  }
}
