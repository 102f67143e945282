import { checkOptions, tensor, Tensor, type DType } from '@normgrad/core';
import { conditionalBatchNorm } from '../functional/conditional-batch-norm.js';
import { checkEps, checkMomentum, checkMoreThanOneValuePerChannel } from '../functional/normalize.js';
import { Module } from '../module.js';
import { pythonBool, pythonFloat } from '../repr.js';
import { checkSameDtype, renameOp } from '../util.js';
import { checkChannelCount, checkInputRank, checkNumFeatures, runningStatBuffers } from './channel-norm.js';
import { constantParameter } from './init.js';

export interface ConditionalBatchNorm2dOptions {
  eps?: number;
  /** Weight of each new batch in the running statistics. Default 0.1. */
  momentum?: number;
  trackRunningStats?: boolean;
  dtype?: DType;
}

/**
 * Class-conditional batch normalization (de Vries et al. 2017, https://arxiv.org/abs/1707.00683;
 * Miyato & Koyama 2018) over (N, C, H, W): BatchNorm2d without affine, then γ and β taken per
 * sample from learned class embeddings `weight` (numClasses, C; ones) and `bias` (numClasses, C;
 * zeros):  y[n] = weight[k_n] · BN(x)[n] + bias[k_n]  for sample n of class k_n.
 * `forward(x, classIndex)`: classIndex gives one class per sample (numbers, or a tensor of
 * integral values). The rows are selected by a one-hot product, so the embeddings get gradients.
 */
export class ConditionalBatchNorm2d extends Module {
  readonly numFeatures: number;
  readonly numClasses: number;
  readonly eps: number;
  readonly momentum: number;
  readonly trackRunningStats: boolean;
  weight: Tensor;
  bias: Tensor;
  runningMean: Tensor | null;
  runningVar: Tensor | null;
  numBatchesTracked = 0;

  constructor(numFeatures: number, numClasses: number, options: ConditionalBatchNorm2dOptions = {}) {
    super();
    const name = 'ConditionalBatchNorm2d';
    checkOptions(name, options, ['eps', 'momentum', 'trackRunningStats', 'dtype']);
    checkNumFeatures(name, numFeatures);
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new Error(`${name}: numClasses must be a positive integer, got ${numClasses}`);
    const { eps = 1e-5, momentum = 0.1, trackRunningStats = true, dtype = 'float32' } = options;
    checkEps(name, eps);
    checkMomentum(name, momentum);
    this.numFeatures = numFeatures;
    this.numClasses = numClasses;
    this.eps = eps;
    this.momentum = momentum;
    this.trackRunningStats = trackRunningStats;
    this.weight = constantParameter([numClasses, numFeatures], 1, dtype);
    this.bias = constantParameter([numClasses, numFeatures], 0, dtype);
    [this.runningMean, this.runningVar] = trackRunningStats ? runningStatBuffers(numFeatures, dtype) : [null, null];
  }

  override extraRepr(): string {
    return `${this.numFeatures}, num_classes=${this.numClasses}, eps=${pythonFloat(this.eps)}, momentum=${pythonFloat(this.momentum)}, track_running_stats=${pythonBool(this.trackRunningStats)}`;
  }

  protected override numericState(): string[] {
    return this.trackRunningStats ? ['numBatchesTracked'] : [];
  }

  forward(x: Tensor, classIndex?: Tensor | readonly number[]): Tensor {
    const name = 'ConditionalBatchNorm2d';
    checkInputRank(name, x, [4], '4D (N, C, H, W)');
    checkChannelCount(name, x, this.numFeatures);
    checkSameDtype(name, x, { weight: this.weight, runningMean: this.runningMean });
    const oneHot = this.oneHot(classIndex, x);
    const useBatchStats = this.training || this.runningMean === null;
    if (useBatchStats) checkMoreThanOneValuePerChannel(name, x);
    if (this.training && this.trackRunningStats) this.numBatchesTracked += 1;
    const passStats = !this.training || this.trackRunningStats;
    try {
      return conditionalBatchNorm(x, passStats ? this.runningMean : null, passStats ? this.runningVar : null, {
        weight: oneHot.matmul(this.weight),
        bias: oneHot.matmul(this.bias),
        training: useBatchStats,
        momentum: this.momentum,
        eps: this.eps,
      });
    } catch (error) {
      throw renameOp(error, 'conditionalBatchNorm', name);
    }
  }

  /** (N, numClasses) one-hot rows of the classes, checked to be N integers in [0, numClasses). */
  private oneHot(classIndex: Tensor | readonly number[] | undefined, x: Tensor): Tensor {
    const name = 'ConditionalBatchNorm2d';
    if (classIndex === undefined) throw new Error(`${name}: forward(x, classIndex) needs classIndex, one class per sample`);
    const classes = classIndex instanceof Tensor ? Array.from(classIndex.toFloat64Array()) : [...classIndex];
    const n = x.shape[0]!;
    if ((classIndex instanceof Tensor && classIndex.ndim !== 1) || classes.length !== n) {
      throw new Error(`${name}: classIndex must hold one class per sample (${n} for input of shape [${x.shape.join(', ')}]), got ${classes.length} value(s)`);
    }
    const bad = classes.find((k) => !Number.isInteger(k) || k < 0 || k >= this.numClasses);
    if (bad !== undefined) throw new Error(`${name}: classIndex values must be integers in [0, ${this.numClasses}), got ${bad}`);
    const rows = classes.map((k) => Array.from({ length: this.numClasses }, (_, j) => (j === k ? 1 : 0)));
    return tensor(rows, { dtype: x.dtype });
  }
}
