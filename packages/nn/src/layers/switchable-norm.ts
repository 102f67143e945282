import { checkOptions, type DType, type Tensor } from '@normgrad/core';
import { checkEps, checkMomentum, checkBatchStatisticsUnderVmap } from '../functional/normalize.js';
import { switchableNorm } from '../functional/switchable-norm.js';
import { Module } from '../module.js';
import { pythonBool, pythonFloat } from '../repr.js';
import { checkSameDtype, renameOp } from '../util.js';
import { affineParameters, checkChannelCount, checkInputRank, checkNumFeatures, runningStatBuffers } from './channel-norm.js';
import { constantParameter } from './init.js';

export interface SwitchableNormLayerOptions {
  eps?: number;
  /** Weight of each new batch in the BN branch's running statistics. Default 0.1. */
  momentum?: number;
  affine?: boolean;
  /** Include the BN branch (mixing weights of shape [3]); false mixes IN and LN only ([2]). Default true. */
  usingBatchStats?: boolean;
  /** Keep running statistics for the BN branch and use them in eval (else batch statistics always). Default true. */
  trackRunningStats?: boolean;
  dtype?: DType;
}

/**
 * Shared by SwitchableNorm1d and SwitchableNorm2d (Luo et al. 2018, https://arxiv.org/abs/1806.10779):
 * learns mixing logits `meanWeight` and `varWeight` (ones, so the mix starts uniform) whose
 * softmaxes weight the IN, LN and BN statistics (see the functional `switchableNorm`), a
 * per-channel affine weight/bias, and the BN branch's runningMean/runningVar/numBatchesTracked.
 */
abstract class SwitchableNormBase extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number;
  readonly affine: boolean;
  readonly usingBatchStats: boolean;
  readonly trackRunningStats: boolean;
  meanWeight: Tensor;
  varWeight: Tensor;
  weight: Tensor | null;
  bias: Tensor | null;
  runningMean: Tensor | null;
  runningVar: Tensor | null;
  numBatchesTracked = 0;

  protected abstract readonly layerName: string;
  protected abstract readonly rank: number;
  protected abstract readonly expectedLayout: string;

  constructor(numFeatures: number, options: SwitchableNormLayerOptions = {}) {
    super();
    const name = new.target.name;
    checkNumFeatures(name, numFeatures);
    checkOptions(name, options, ['eps', 'momentum', 'affine', 'usingBatchStats', 'trackRunningStats', 'dtype']);
    const { eps = 1e-5, momentum = 0.1, affine = true, usingBatchStats = true, trackRunningStats = true, dtype = 'float32' } = options;
    checkEps(name, eps);
    checkMomentum(name, momentum);
    this.numFeatures = numFeatures;
    this.eps = eps;
    this.momentum = momentum;
    this.affine = affine;
    this.usingBatchStats = usingBatchStats;
    this.trackRunningStats = usingBatchStats && trackRunningStats;
    const branches = usingBatchStats ? 3 : 2;
    this.meanWeight = constantParameter([branches], 1, dtype);
    this.varWeight = constantParameter([branches], 1, dtype);
    [this.weight, this.bias] = affine ? affineParameters(numFeatures, dtype) : [null, null];
    [this.runningMean, this.runningVar] = this.trackRunningStats ? runningStatBuffers(numFeatures, dtype) : [null, null];
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${pythonFloat(this.eps)}, momentum=${pythonFloat(this.momentum)}, affine=${pythonBool(this.affine)}, ` +
      `using_batch_stats=${pythonBool(this.usingBatchStats)}, track_running_stats=${pythonBool(this.trackRunningStats)}`;
  }

  protected override numericState(): string[] {
    return this.trackRunningStats ? ['numBatchesTracked'] : [];
  }

  forward(x: Tensor): Tensor {
    if ((this.training || this.runningMean === null) && this.meanWeight.shape[0] === 3) {
      checkBatchStatisticsUnderVmap(this.layerName, x, [this.runningMean, this.runningVar, this.weight, this.bias, this.meanWeight, this.varWeight]);
    }
    checkInputRank(this.layerName, x, [this.rank], this.expectedLayout);
    checkChannelCount(this.layerName, x, this.numFeatures);
    checkSameDtype(this.layerName, x, { weight: this.weight, meanWeight: this.meanWeight });
    const updateStats = this.training && this.trackRunningStats;
    // An empty batch updates nothing: switchableNorm leaves the running statistics, and the count stays.
    if (updateStats && x.size > 0) this.numBatchesTracked += 1;
    try {
      return switchableNorm(x, {
        meanWeights: this.meanWeight.softmax(0),
        varWeights: this.varWeight.softmax(0),
        runningMean: this.runningMean,
        runningVar: this.runningVar,
        weight: this.weight,
        bias: this.bias,
        training: this.training,
        momentum: this.momentum,
        eps: this.eps,
      });
    } catch (error) {
      throw renameOp(error, 'switchableNorm', this.layerName);
    }
  }
}

/** Switchable normalization over (N, C, L) inputs (https://arxiv.org/abs/1806.10779). */
export class SwitchableNorm1d extends SwitchableNormBase {
  protected readonly layerName = 'SwitchableNorm1d';
  protected readonly rank = 3;
  protected readonly expectedLayout = '3D (N, C, L)';
}

/** Switchable normalization over (N, C, H, W) inputs (https://arxiv.org/abs/1806.10779). */
export class SwitchableNorm2d extends SwitchableNormBase {
  protected readonly layerName = 'SwitchableNorm2d';
  protected readonly rank = 4;
  protected readonly expectedLayout = '4D (N, C, H, W)';
}
