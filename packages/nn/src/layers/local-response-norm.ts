import { checkOptions, type Tensor } from '@normgrad/core';
import { localResponseNorm } from '../functional/local-response-norm.js';
import { checkPositiveFinite } from '../functional/normalize.js';
import { Module } from '../module.js';
import { pythonFloat } from '../repr.js';
import { renameOp } from '../util.js';

export interface LocalResponseNormLayerOptions {
  alpha?: number;
  beta?: number;
  k?: number;
}

/**
 * Local response normalization across channels (Krizhevsky et al. 2012), PyTorch's
 * `nn.LocalResponseNorm(size, alpha = 1e-4, beta = 0.75, k = 1)`:
 * y_c = x_c / (k + alpha / size · Σ_{c' in the window of size channels around c} x_{c'}²)^beta.
 * No parameters, no statistics over the batch.
 */
export class LocalResponseNorm extends Module {
  readonly size: number;
  readonly alpha: number;
  readonly beta: number;
  readonly k: number;

  constructor(size: number, options: LocalResponseNormLayerOptions = {}) {
    super();
    checkOptions('LocalResponseNorm', options, ['alpha', 'beta', 'k']);
    const { alpha = 1e-4, beta = 0.75, k = 1 } = options;
    if (!Number.isInteger(size) || size < 1) throw new Error(`LocalResponseNorm: size must be a positive integer, got ${size}`);
    for (const [name, value] of [['alpha', alpha], ['beta', beta]] as const) {
      if (!Number.isFinite(value)) throw new Error(`LocalResponseNorm: ${name} must be a finite number, got ${value}`);
    }
    checkPositiveFinite('LocalResponseNorm', 'k', k);
    this.size = size;
    this.alpha = alpha;
    this.beta = beta;
    this.k = k;
  }

  override extraRepr(): string {
    return `${this.size}, alpha=${pythonFloat(this.alpha)}, beta=${pythonFloat(this.beta)}, k=${pythonFloat(this.k)}`;
  }

  forward(x: Tensor): Tensor {
    try {
      return localResponseNorm(x, this.size, { alpha: this.alpha, beta: this.beta, k: this.k });
    } catch (error) {
      throw renameOp(error, 'localResponseNorm', 'LocalResponseNorm');
    }
  }
}
