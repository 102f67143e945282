import { checkOptions, traceGuard, type DType, type Tensor } from '@normgrad/core';
import { batchRenorm, checkClipping } from '../functional/batch-renorm.js';
import { checkEps, checkMomentum, checkMoreThanOneValuePerChannel, checkBatchStatisticsUnderVmap } from '../functional/normalize.js';
import { Module } from '../module.js';
import { pythonBool, pythonFloat } from '../repr.js';
import { checkSameDtype, renameOp } from '../util.js';
import { affineParameters, checkChannelCount, checkInputRank, checkNumFeatures, runningStatBuffers } from './channel-norm.js';

export interface BatchRenormLayerOptions {
  /** Clip of r = σ_B / σ to [1 / rMax, rMax]. Default 3. Also a public mutable field. */
  rMax?: number;
  /** Clip of d = (μ_B - μ) / σ to [-dMax, dMax]. Default 5. Also a public mutable field. */
  dMax?: number;
  /** Weight of each new batch in the running statistics. Default 0.01. */
  momentum?: number;
  eps?: number;
  affine?: boolean;
  /** The first warmupSteps training forwards use rMax = 1, dMax = 0 (plain BatchNorm). Default 0. */
  warmupSteps?: number;
  dtype?: DType;
}

/**
 * Shared by BatchRenorm1d and BatchRenorm2d (Ioffe 2017, https://arxiv.org/abs/1702.03275): holds
 * weight/bias (ones/zeros), runningMean/runningVar (zeros/ones) and numBatchesTracked, and calls
 * the functional `batchRenorm` composite (see it for the formula and the running update).
 *
 * `rMax` and `dMax` are plain fields: the paper starts at 1 and 0 and relaxes them during
 * training, e.g. `layer.rMax = Math.min(3, 1 + 2 * step / 5000)`. With `warmupSteps: k` the first
 * k training forwards (counted by numBatchesTracked, which every training forward increments)
 * ignore the fields and use rMax = 1, dMax = 0, i.e. exactly BatchNorm, while the running
 * statistics settle. Eval always normalizes with the running statistics.
 */
abstract class BatchRenormBase extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number;
  readonly affine: boolean;
  readonly warmupSteps: number;
  rMax: number;
  dMax: number;
  weight: Tensor | null;
  bias: Tensor | null;
  runningMean: Tensor;
  runningVar: Tensor;
  numBatchesTracked = 0;

  protected abstract readonly layerName: string;
  protected abstract readonly acceptedRanks: readonly number[];
  protected abstract readonly expectedLayout: string;

  constructor(numFeatures: number, options: BatchRenormLayerOptions = {}) {
    super();
    const name = new.target.name;
    checkNumFeatures(name, numFeatures);
    checkOptions(name, options, ['rMax', 'dMax', 'momentum', 'eps', 'affine', 'warmupSteps', 'dtype']);
    const { rMax = 3, dMax = 5, momentum = 0.01, eps = 1e-3, affine = true, warmupSteps = 0, dtype = 'float32' } = options;
    checkEps(name, eps);
    checkMomentum(name, momentum);
    checkClipping(name, rMax, dMax);
    if (!Number.isInteger(warmupSteps) || warmupSteps < 0) throw new Error(`${name}: warmupSteps must be a non-negative integer, got ${warmupSteps}`);
    this.numFeatures = numFeatures;
    this.eps = eps;
    this.momentum = momentum;
    this.affine = affine;
    this.warmupSteps = warmupSteps;
    this.rMax = rMax;
    this.dMax = dMax;
    [this.weight, this.bias] = affine ? affineParameters(numFeatures, dtype) : [null, null];
    [this.runningMean, this.runningVar] = runningStatBuffers(numFeatures, dtype);
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${pythonFloat(this.eps)}, momentum=${pythonFloat(this.momentum)}, affine=${pythonBool(this.affine)}, ` +
      `r_max=${pythonFloat(this.rMax)}, d_max=${pythonFloat(this.dMax)}, warmup_steps=${this.warmupSteps}`;
  }

  protected override numericState(): string[] {
    return ['numBatchesTracked'];
  }

  forward(x: Tensor): Tensor {
    if (this.training) checkBatchStatisticsUnderVmap(this.layerName, x, [this.runningMean, this.runningVar, this.weight, this.bias]);
    checkInputRank(this.layerName, x, this.acceptedRanks, this.expectedLayout);
    checkChannelCount(this.layerName, x, this.numFeatures);
    checkSameDtype(this.layerName, x, { weight: this.weight, runningMean: this.runningMean });
    if (this.training) checkMoreThanOneValuePerChannel(this.layerName, x);
    let [rMax, dMax] = [this.rMax, this.dMax];
    // An empty batch updates nothing: batchRenorm leaves the running statistics, and the count stays.
    if (this.training && x.size > 0) {
      // whether this batch is in the warm-up is decided in JavaScript: under compile, leaving it traces again
      traceGuard(() => this.numBatchesTracked < this.warmupSteps);
      this.numBatchesTracked += 1;
      if (this.numBatchesTracked <= this.warmupSteps) [rMax, dMax] = [1, 0];
    }
    try {
      return batchRenorm(x, this.runningMean, this.runningVar, {
        weight: this.weight,
        bias: this.bias,
        training: this.training,
        momentum: this.momentum,
        eps: this.eps,
        rMax,
        dMax,
      });
    } catch (error) {
      throw renameOp(error, 'batchRenorm', this.layerName);
    }
  }
}

/** Batch renormalization over (N, C) or (N, C, L) inputs (https://arxiv.org/abs/1702.03275). */
export class BatchRenorm1d extends BatchRenormBase {
  protected readonly layerName = 'BatchRenorm1d';
  protected readonly acceptedRanks = [2, 3];
  protected readonly expectedLayout = '2D (N, C) or 3D (N, C, L)';
}

/** Batch renormalization over (N, C, H, W) inputs (https://arxiv.org/abs/1702.03275). */
export class BatchRenorm2d extends BatchRenormBase {
  protected readonly layerName = 'BatchRenorm2d';
  protected readonly acceptedRanks = [4];
  protected readonly expectedLayout = '4D (N, C, H, W)';
}
