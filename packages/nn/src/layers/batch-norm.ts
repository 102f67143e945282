import { checkOptions, assignInPlace, full, noGrad, traceGuard, type DType, type Tensor } from '@normgrad/core';
import { batchNorm } from '../functional/batch-norm.js';
import { checkEps, checkLayerMomentum, checkMoreThanOneValuePerChannel, checkBatchStatisticsUnderVmap } from '../functional/normalize.js';
import { Module } from '../module.js';
import { checkSameDtype, renameOp } from '../util.js';
import { affineParameters, channelNormRepr, checkChannelCount, checkInputRank, checkNumFeatures, runningStatBuffers } from './channel-norm.js';

export interface BatchNormLayerOptions {
  eps?: number;
  /** Weight of each new batch in the running statistics; null: cumulative average. Default 0.1. */
  momentum?: number | null;
  affine?: boolean;
  trackRunningStats?: boolean;
  dtype?: DType;
}

/**
 * Shared by BatchNorm1d and BatchNorm2d: holds weight/bias (ones/zeros), runningMean/runningVar
 * (zeros/ones) and numBatchesTracked, and calls the functional `batchNorm` composite with
 * PyTorch's choice of statistics and momentum (see batchNorm for the formula).
 */
abstract class BatchNormBase extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  weight: Tensor | null;
  bias: Tensor | null;
  runningMean: Tensor | null;
  runningVar: Tensor | null;
  numBatchesTracked = 0;

  protected abstract readonly layerName: string;
  protected abstract readonly acceptedRanks: readonly number[];
  protected abstract readonly expectedLayout: string;

  constructor(numFeatures: number, options: BatchNormLayerOptions = {}) {
    super();
    const name = new.target.name;
    checkNumFeatures(name, numFeatures);
    checkOptions(name, options, ['eps', 'momentum', 'affine', 'trackRunningStats', 'dtype']);
    const { eps = 1e-5, momentum = 0.1, affine = true, trackRunningStats = true, dtype = 'float32' } = options;
    checkEps(name, eps);
    checkLayerMomentum(name, momentum);
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

  /** Running statistics back to zeros/ones and numBatchesTracked to 0. */
  resetRunningStats(): void {
    if (this.runningMean && this.runningVar) {
      const [mean, variance] = [this.runningMean, this.runningVar];
      noGrad(() => {
        assignInPlace(mean, full(mean.shape, 0, { dtype: mean.dtype }));
        assignInPlace(variance, full(variance.shape, 1, { dtype: variance.dtype }));
      });
      this.numBatchesTracked = 0;
    }
  }

  override extraRepr(): string {
    return channelNormRepr(this.numFeatures, this.eps, this.momentum, this.affine, this.trackRunningStats);
  }

  forward(x: Tensor): Tensor {
    if (this.training || this.runningMean === null) checkBatchStatisticsUnderVmap(this.layerName, x, [this.runningMean, this.runningVar, this.weight, this.bias]);
    checkInputRank(this.layerName, x, this.acceptedRanks, this.expectedLayout);
    checkChannelCount(this.layerName, x, this.numFeatures);
    checkSameDtype(this.layerName, x, { weight: this.weight, runningMean: this.runningMean });
    const useBatchStats = this.training || this.runningMean === null;
    if (useBatchStats) checkMoreThanOneValuePerChannel(this.layerName, x);
    let momentum = this.momentum ?? 0;
    const updateStats = this.training && this.trackRunningStats;
    // An empty batch updates nothing: batchNorm leaves the running statistics, and the count stays.
    if (updateStats && x.size > 0) {
      // momentum null is computed from the count in JavaScript: under compile, a new count traces again
      if (this.momentum === null) traceGuard(() => this.numBatchesTracked);
      this.numBatchesTracked += 1;
      momentum = this.momentum ?? 1 / this.numBatchesTracked; // null: cumulative moving average
    }
    // Running statistics are passed to be updated (training and tracked) or to normalize (eval).
    const passStats = updateStats || !this.training;
    try {
      return batchNorm(x, passStats ? this.runningMean : null, passStats ? this.runningVar : null, {
        weight: this.weight,
        bias: this.bias,
        training: useBatchStats,
        momentum,
        eps: this.eps,
      });
    } catch (error) {
      throw renameOp(error, 'batchNorm', this.layerName);
    }
  }
}

/** Batch normalization over (N, C) or (N, C, L) inputs (https://arxiv.org/abs/1502.03167). */
export class BatchNorm1d extends BatchNormBase {
  protected readonly layerName = 'BatchNorm1d';
  protected readonly acceptedRanks = [2, 3];
  protected readonly expectedLayout = '2D (N, C) or 3D (N, C, L)';
}

/** Batch normalization over (N, C, D, H, W) inputs (https://arxiv.org/abs/1502.03167). */
export class BatchNorm3d extends BatchNormBase {
  protected readonly layerName = 'BatchNorm3d';
  protected readonly acceptedRanks = [5];
  protected readonly expectedLayout = '5D (N, C, D, H, W)';
}

/** Batch normalization over (N, C, H, W) inputs (https://arxiv.org/abs/1502.03167). */
export class BatchNorm2d extends BatchNormBase {
  protected readonly layerName = 'BatchNorm2d';
  protected readonly acceptedRanks = [4];
  protected readonly expectedLayout = '4D (N, C, H, W)';
}
