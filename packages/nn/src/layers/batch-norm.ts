import { full, noGrad, type DType, type Tensor } from '@normgrad/core';
import { batchNorm } from '../functional/batch-norm.js';
import { checkEps } from '../functional/normalize.js';
import { Module } from '../module.js';
import { assignInPlace, checkSameDtype, formatShape, renameOp } from '../util.js';
import { constantBuffer, constantParameter } from './init.js';

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
    if (!Number.isInteger(numFeatures) || numFeatures < 1) throw new Error(`${name}: numFeatures must be a positive integer, got ${numFeatures}`);
    const { eps = 1e-5, momentum = 0.1, affine = true, trackRunningStats = true, dtype = 'float32' } = options;
    checkEps(name, eps);
    if (momentum !== null && !(momentum >= 0 && momentum <= 1)) throw new Error(`${name}: momentum must be in [0, 1] or null, got ${momentum}`);
    this.numFeatures = numFeatures;
    this.eps = eps;
    this.momentum = momentum;
    this.affine = affine;
    this.trackRunningStats = trackRunningStats;
    this.weight = affine ? constantParameter([numFeatures], 1, dtype) : null;
    this.bias = affine ? constantParameter([numFeatures], 0, dtype) : null;
    this.runningMean = trackRunningStats ? constantBuffer([numFeatures], 0, dtype) : null;
    this.runningVar = trackRunningStats ? constantBuffer([numFeatures], 1, dtype) : null;
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

  forward(x: Tensor): Tensor {
    if (!this.acceptedRanks.includes(x.ndim)) {
      throw new Error(`${this.layerName}: expected ${this.expectedLayout} input (got ${x.ndim}D input of shape ${formatShape(x.shape)})`);
    }
    if (x.shape[1] !== this.numFeatures) {
      throw new Error(
        `${this.layerName}: expected ${this.numFeatures} channels (numFeatures) on axis 1, got input of shape ${formatShape(x.shape)}`,
      );
    }
    checkSameDtype(this.layerName, x, { weight: this.weight, runningMean: this.runningMean });
    const useBatchStats = this.training || this.runningMean === null;
    if (useBatchStats) {
      const valuesPerChannel = x.size / this.numFeatures;
      if (valuesPerChannel === 1) {
        throw new Error(`${this.layerName}: Expected more than 1 value per channel when training, got input size ${formatShape(x.shape)}`);
      }
    }
    let momentum = this.momentum ?? 0;
    const updateStats = this.training && this.trackRunningStats;
    if (updateStats) {
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

/** Batch normalization over (N, C, H, W) inputs (https://arxiv.org/abs/1502.03167). */
export class BatchNorm2d extends BatchNormBase {
  protected readonly layerName = 'BatchNorm2d';
  protected readonly acceptedRanks = [4];
  protected readonly expectedLayout = '4D (N, C, H, W)';
}
