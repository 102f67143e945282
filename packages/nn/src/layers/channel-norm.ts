import { Tensor, type DType } from '@normgrad/core';
import { pythonBool, pythonFloat } from '../repr.js';
import { formatShape } from '../util.js';
import { constantBuffer, constantParameter } from './init.js';

// Shared by the layers that normalize (N, C, *) inputs per channel: BatchNorm, BatchRenorm,
// InstanceNorm and SwitchableNorm. Errors name the layer.

export function checkNumFeatures(layer: string, numFeatures: number): void {
  if (!Number.isInteger(numFeatures) || numFeatures < 1) throw new Error(`${layer}: numFeatures must be a positive integer, got ${numFeatures}`);
}

/** weight (ones) and bias (zeros): parameters of shape [numFeatures]. */
export function affineParameters(numFeatures: number, dtype: DType): [Tensor, Tensor] {
  return [constantParameter([numFeatures], 1, dtype), constantParameter([numFeatures], 0, dtype)];
}

/** runningMean (zeros) and runningVar (ones): buffers of shape [numFeatures]. */
export function runningStatBuffers(numFeatures: number, dtype: DType): [Tensor, Tensor] {
  return [constantBuffer([numFeatures], 0, dtype), constantBuffer([numFeatures], 1, dtype)];
}

/** x.ndim is one of acceptedRanks; expectedLayout describes them, e.g. '4D (N, C, H, W)'. */
export function checkInputRank(layer: string, x: Tensor, acceptedRanks: readonly number[], expectedLayout: string): void {
  if (!(x instanceof Tensor)) throw new Error(`${layer}: expected a Tensor input (${expectedLayout}), got ${Array.isArray(x) ? 'an array' : typeof x}`);
  if (!acceptedRanks.includes(x.ndim)) {
    throw new Error(`${layer}: expected ${expectedLayout} input (got ${x.ndim}D input of shape ${formatShape(x.shape)})`);
  }
}

/** x has numFeatures channels on axis 1. */
export function checkChannelCount(layer: string, x: Tensor, numFeatures: number): void {
  if (x.shape[1] !== numFeatures) {
    throw new Error(`${layer}: expected ${numFeatures} channels (numFeatures) on axis 1, got input of shape ${formatShape(x.shape)}`);
  }
}

/** PyTorch's _NormBase.extra_repr: `3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True`. */
export function channelNormRepr(numFeatures: number, eps: number, momentum: number | null, affine: boolean, trackRunningStats: boolean): string {
  const momentumText = momentum === null ? 'None' : pythonFloat(momentum);
  return `${numFeatures}, eps=${pythonFloat(eps)}, momentum=${momentumText}, affine=${pythonBool(affine)}, track_running_stats=${pythonBool(trackRunningStats)}`;
}
