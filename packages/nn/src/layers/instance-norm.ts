import { checkOptions, type DType, type Tensor } from '@normgrad/core';
import { instanceNorm } from '../functional/instance-norm.js';
import { checkEps, checkMomentum } from '../functional/normalize.js';
import { Module } from '../module.js';
import { formatShape, renameOp } from '../util.js';
import { affineParameters, channelNormRepr, checkInputRank, checkNumFeatures, runningStatBuffers } from './channel-norm.js';

export interface InstanceNormLayerOptions {
  eps?: number;
  momentum?: number;
  affine?: boolean;
  trackRunningStats?: boolean;
  dtype?: DType;
}

/**
 * Shared by InstanceNorm1d and InstanceNorm2d (https://arxiv.org/abs/1607.08022). Defaults as
 * PyTorch: affine false, trackRunningStats false. Instance statistics normalize in training,
 * and in eval too unless running statistics are tracked. An input without the batch axis is
 * treated as a batch of one. As in PyTorch, numBatchesTracked exists (for the state dict) but is
 * never incremented by instance norm.
 */
abstract class InstanceNormBase extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  weight: Tensor | null;
  bias: Tensor | null;
  runningMean: Tensor | null;
  runningVar: Tensor | null;
  numBatchesTracked = 0;

  protected abstract readonly layerName: string;
  /** Rank of an input with its batch axis. */
  protected abstract readonly batchedRank: number;
  protected abstract readonly expectedLayout: string;

  constructor(numFeatures: number, options: InstanceNormLayerOptions = {}) {
    super();
    const name = new.target.name;
    checkNumFeatures(name, numFeatures);
    checkOptions(name, options, ['eps', 'momentum', 'affine', 'trackRunningStats', 'dtype']);
    const { eps = 1e-5, momentum = 0.1, affine = false, trackRunningStats = false, dtype = 'float32' } = options;
    checkEps(name, eps);
    checkMomentum(name, momentum);
    this.numFeatures = numFeatures;
    this.eps = eps;
    this.momentum = momentum;
    this.affine = affine;
    this.trackRunningStats = trackRunningStats;
    [this.weight, this.bias] = affine ? affineParameters(numFeatures, dtype) : [null, null];
    [this.runningMean, this.runningVar] = trackRunningStats ? runningStatBuffers(numFeatures, dtype) : [null, null];
  }

  protected override numericState(): string[] {
    return this.trackRunningStats ? ['numBatchesTracked'] : [];
  }

  override extraRepr(): string {
    return channelNormRepr(this.numFeatures, this.eps, this.momentum, this.affine, this.trackRunningStats);
  }

  forward(x: Tensor): Tensor {
    checkInputRank(this.layerName, x, [this.batchedRank - 1, this.batchedRank], this.expectedLayout);
    const unbatched = x.ndim === this.batchedRank - 1;
    const batched = unbatched ? x.unsqueeze(0) : x;
    if (batched.shape[1] !== this.numFeatures) {
      throw new Error(
        `${this.layerName}: expected ${this.numFeatures} channels (numFeatures) on the channel axis, got input of shape ${formatShape(x.shape)}`,
      );
    }
    try {
      const y = instanceNorm(batched, {
        runningMean: this.runningMean,
        runningVar: this.runningVar,
        weight: this.weight,
        bias: this.bias,
        useInputStats: this.training || !this.trackRunningStats,
        momentum: this.momentum,
        eps: this.eps,
      });
      return unbatched ? y.squeeze(0) : y;
    } catch (error) {
      throw renameOp(error, 'instanceNorm', this.layerName);
    }
  }
}

/** Instance normalization over (N, C, L) or unbatched (C, L) inputs. */
export class InstanceNorm1d extends InstanceNormBase {
  protected readonly layerName = 'InstanceNorm1d';
  protected readonly batchedRank = 3;
  protected readonly expectedLayout = '2D (C, L) or 3D (N, C, L)';
}

/** Instance normalization over (N, C, D, H, W) or unbatched (C, D, H, W) inputs. */
export class InstanceNorm3d extends InstanceNormBase {
  protected readonly layerName = 'InstanceNorm3d';
  protected readonly batchedRank = 5;
  protected readonly expectedLayout = '4D (C, D, H, W) or 5D (N, C, D, H, W)';
}

/** Instance normalization over (N, C, H, W) or unbatched (C, H, W) inputs. */
export class InstanceNorm2d extends InstanceNormBase {
  protected readonly layerName = 'InstanceNorm2d';
  protected readonly batchedRank = 4;
  protected readonly expectedLayout = '3D (C, H, W) or 4D (N, C, H, W)';
}
