import { assignInPlace, checkOptions, eye, noGrad, type DType, type Tensor } from '@normgrad/core';
import { checkIterations, checkIterNormGroups, iterNorm } from '../functional/iter-norm.js';
import { checkEps, checkMomentum } from '../functional/normalize.js';
import { Module } from '../module.js';
import { pythonBool, pythonFloat } from '../repr.js';
import { checkSameDtype, renameOp } from '../util.js';
import { affineParameters, checkChannelCount, checkInputRank, checkNumFeatures } from './channel-norm.js';
import { constantBuffer } from './init.js';

export interface IterNormLayerOptions {
  /** Channel groups whitened separately; must divide numFeatures. Default 1. */
  numGroups?: number;
  /** Newton iterations T. Default 5. */
  iterations?: number;
  /** Weight of each batch in the running mean and whitening matrix. Default 0.1. */
  momentum?: number;
  eps?: number;
  affine?: boolean;
  dtype?: DType;
}

/**
 * IterNorm (Huang et al. 2019, https://arxiv.org/abs/1904.03441) over (N, C, *) inputs: group
 * whitening by T Newton iterations, y = W (x − μ) · weight + bias with W ≈ Σ^{-1/2} per group
 * (see iterNorm). Parameters `weight` (ones) and `bias` (zeros) per channel; buffers
 * `runningMean` [C] (zeros) and `runningWhitening` [numGroups, d, d] (identities), used in eval.
 * Against the authors' code: runningMean ↔ running_mean (there shaped (numGroups, d, 1)),
 * runningWhitening ↔ running_wm.
 */
export class IterNorm extends Module {
  readonly numFeatures: number;
  readonly numGroups: number;
  readonly iterations: number;
  readonly momentum: number;
  readonly eps: number;
  readonly affine: boolean;
  weight: Tensor | null;
  bias: Tensor | null;
  runningMean: Tensor;
  runningWhitening: Tensor;

  constructor(numFeatures: number, options: IterNormLayerOptions = {}) {
    super();
    checkOptions('IterNorm', options, ['numGroups', 'iterations', 'momentum', 'eps', 'affine', 'dtype']);
    checkNumFeatures('IterNorm', numFeatures);
    const { numGroups = 1, iterations = 5, momentum = 0.1, eps = 1e-5, affine = true, dtype = 'float32' } = options;
    checkIterNormGroups('IterNorm', numGroups, numFeatures);
    checkIterations('IterNorm', iterations);
    checkMomentum('IterNorm', momentum);
    checkEps('IterNorm', eps);
    this.numFeatures = numFeatures;
    this.numGroups = numGroups;
    this.iterations = iterations;
    this.momentum = momentum;
    this.eps = eps;
    this.affine = affine;
    [this.weight, this.bias] = affine ? affineParameters(numFeatures, dtype) : [null, null];
    this.runningMean = constantBuffer([numFeatures], 0, dtype);
    const d = numFeatures / numGroups;
    this.runningWhitening = constantBuffer([numGroups, d, d], 0, dtype);
    noGrad(() => assignInPlace(this.runningWhitening, eye(d, { dtype }).broadcastTo([numGroups, d, d])));
  }

  override extraRepr(): string {
    return `${this.numFeatures}, num_groups=${this.numGroups}, iterations=${this.iterations}, momentum=${pythonFloat(this.momentum)}, eps=${pythonFloat(this.eps)}, affine=${pythonBool(this.affine)}`;
  }

  forward(x: Tensor): Tensor {
    checkInputRank('IterNorm', x, x.ndim >= 2 ? [x.ndim] : [2], '(N, C, *)');
    checkChannelCount('IterNorm', x, this.numFeatures);
    checkSameDtype('IterNorm', x, { weight: this.weight, runningMean: this.runningMean });
    try {
      return iterNorm(x, this.runningMean, this.runningWhitening, {
        numGroups: this.numGroups,
        iterations: this.iterations,
        weight: this.weight,
        bias: this.bias,
        training: this.training,
        momentum: this.momentum,
        eps: this.eps,
      });
    } catch (error) {
      throw renameOp(error, 'iterNorm', 'IterNorm');
    }
  }
}
