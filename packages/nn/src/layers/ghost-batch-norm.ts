import { checkOptions, concat, traceGuard, type DType, type Tensor } from '@normgrad/core';
import { checkVirtualBatchSize, ghostBatchNorm, renamed, virtualBatches } from '../functional/ghost-batch-norm.js';
import { checkEps, checkBatchStatisticsUnderVmap, checkLayerMomentum } from '../functional/normalize.js';
import { Module } from '../module.js';
import { pythonBool, pythonFloat } from '../repr.js';
import { checkSameDtype, renameOp } from '../util.js';
import { affineParameters, checkChannelCount, checkInputRank, checkNumFeatures, runningStatBuffers } from './channel-norm.js';

export interface GhostBatchNormLayerOptions {
  /** Samples per virtual batch in training (required). */
  virtualBatchSize: number;
  eps?: number;
  /** Weight of each virtual batch in the running statistics; null: cumulative average. Default 0.1. */
  momentum?: number | null;
  affine?: boolean;
  trackRunningStats?: boolean;
  dtype?: DType;
}

const layerKeys = ['virtualBatchSize', 'eps', 'momentum', 'affine', 'trackRunningStats', 'dtype'] as const;

/**
 * Shared by GhostBatchNorm1d and GhostBatchNorm2d (Hoffer, Hubara & Soudry 2017,
 * https://arxiv.org/abs/1705.08741): BatchNorm's parameters and buffers (weight/bias,
 * runningMean/runningVar, numBatchesTracked; the same state dict keys), but in training each
 * consecutive virtual batch of virtualBatchSize samples is normalized with its own statistics,
 *
 *   y_k = (x_k - E[x_k]) / sqrt(Var[x_k] + eps) * weight + bias      (see ghostBatchNorm)
 *
 * and updates the running statistics once (numBatchesTracked counts virtual batches, so
 * momentum null averages all virtual batches seen). Eval normalizes with the running
 * statistics, as BatchNorm; without them (trackRunningStats false) it uses the statistics of the
 * whole batch, as BatchNorm does, never virtual batches.
 */
abstract class GhostBatchNormBase extends Module {
  readonly numFeatures: number;
  readonly virtualBatchSize: number;
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

  constructor(numFeatures: number, options: GhostBatchNormLayerOptions) {
    super();
    const name = new.target.name;
    checkOptions(name, options, layerKeys);
    checkNumFeatures(name, numFeatures);
    if (options === undefined) throw new Error(`${name}: options with virtualBatchSize are required`);
    const { virtualBatchSize, eps = 1e-5, momentum = 0.1, affine = true, trackRunningStats = true, dtype = 'float32' } = options;
    checkVirtualBatchSize(name, virtualBatchSize);
    checkEps(name, eps);
    checkLayerMomentum(name, momentum);
    this.numFeatures = numFeatures;
    this.virtualBatchSize = virtualBatchSize;
    this.eps = eps;
    this.momentum = momentum;
    this.affine = affine;
    this.trackRunningStats = trackRunningStats;
    [this.weight, this.bias] = affine ? affineParameters(numFeatures, dtype) : [null, null];
    [this.runningMean, this.runningVar] = trackRunningStats ? runningStatBuffers(numFeatures, dtype) : [null, null];
  }

  override extraRepr(): string {
    return `${this.numFeatures}, virtual_batch_size=${this.virtualBatchSize}, eps=${pythonFloat(this.eps)}, momentum=${this.momentum === null ? 'None' : pythonFloat(this.momentum)}, ` +
      `affine=${pythonBool(this.affine)}, track_running_stats=${pythonBool(this.trackRunningStats)}`;
  }

  protected override numericState(): string[] {
    return this.trackRunningStats ? ['numBatchesTracked'] : [];
  }

  forward(x: Tensor): Tensor {
    if (this.training || this.runningMean === null) checkBatchStatisticsUnderVmap(this.layerName, x, [this.runningMean, this.runningVar, this.weight, this.bias]);
    checkInputRank(this.layerName, x, this.acceptedRanks, this.expectedLayout);
    checkChannelCount(this.layerName, x, this.numFeatures);
    checkSameDtype(this.layerName, x, { weight: this.weight, runningMean: this.runningMean });
    const common = { weight: this.weight, bias: this.bias, eps: this.eps };
    try {
      if (this.runningMean === null) {
        // No running statistics: virtual batches in training, the whole batch in eval (as BatchNorm).
        const virtualBatchSize = this.training ? this.virtualBatchSize : x.shape[0]!;
        return ghostBatchNorm(x, null, null, { ...common, virtualBatchSize, training: true });
      }
      if (!this.training) return ghostBatchNorm(x, this.runningMean, this.runningVar, { ...common, virtualBatchSize: this.virtualBatchSize });
      // An empty batch updates nothing: batchNorm leaves the running statistics, and the count stays.
      if (x.size === 0) return ghostBatchNorm(x, this.runningMean, this.runningVar, { ...common, virtualBatchSize: this.virtualBatchSize, training: true });
      // Training: one running-statistics update per virtual batch, in order.
      const batches = virtualBatches(x.shape[0]!, this.virtualBatchSize);
      // momentum null is computed from the count in JavaScript: under compile, a new count traces again
      if (this.momentum === null) traceGuard(() => this.numBatchesTracked);
      const pieces = batches.length;
      const outputs = batches.map(([start, length]) => {
        this.numBatchesTracked += 1;
        const momentum = this.momentum ?? 1 / this.numBatchesTracked;
        const piece = length === x.shape[0] ? x : x.narrow(0, start, length);
        const options = { ...common, virtualBatchSize: length, training: true, momentum };
        return renamed(() => ghostBatchNorm(piece, this.runningMean, this.runningVar, options), 'ghostBatchNorm', pieces === 1 ? undefined : start);
      });
      return pieces === 1 ? outputs[0]! : concat(outputs, 0);
    } catch (error) {
      throw renameOp(error, 'ghostBatchNorm', this.layerName);
    }
  }
}

/** Ghost batch normalization over (N, C) or (N, C, L) inputs (https://arxiv.org/abs/1705.08741). */
export class GhostBatchNorm1d extends GhostBatchNormBase {
  protected readonly layerName = 'GhostBatchNorm1d';
  protected readonly acceptedRanks = [2, 3];
  protected readonly expectedLayout = '2D (N, C) or 3D (N, C, L)';
}

/** Ghost batch normalization over (N, C, H, W) inputs (https://arxiv.org/abs/1705.08741). */
export class GhostBatchNorm2d extends GhostBatchNormBase {
  protected readonly layerName = 'GhostBatchNorm2d';
  protected readonly acceptedRanks = [4];
  protected readonly expectedLayout = '4D (N, C, H, W)';
}
