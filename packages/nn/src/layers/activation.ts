import { checkOptions, type Tensor } from '@normgrad/core';
import { dropout, dropout2d, elu, gelu, leakyRelu, silu, softmax, softplus } from '../functional/activation.js';
import { Module } from '../module.js';
import { pythonFloat, pythonNumber } from '../repr.js';
import { renameOp } from '../util.js';

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}

/**
 * Dropout with probability p in training, identity in eval. With `seed`, the k-th training
 * forward draws its mask with seed + k, so a run is reproducible.
 */
export class Dropout extends Module {
  private forwardCount = 0;

  constructor(readonly p = 0.5, readonly options: { seed?: number } = {}) {
    super();
    checkOptions('Dropout', options, ['seed']);
    if (!(p >= 0 && p <= 1)) throw new Error(`Dropout: probability p must be in [0, 1], got ${p}`);
  }

  forward(x: Tensor): Tensor {
    if (!this.training) return x;
    const seed = this.options.seed === undefined ? undefined : this.options.seed + this.forwardCount;
    try {
      const result = dropout(x, this.p, seed === undefined ? {} : { seed });
      // a call that throws draws no mask: the next call gets the seed this one would have used
      this.forwardCount++;
      return result;
    } catch (error) {
      throw renameOp(error, 'dropout', 'Dropout');
    }
  }

  override extraRepr(): string {
    return `p=${pythonFloat(this.p)}, inplace=False`;
  }
}

/** Dropout of whole channels of (N, C, H, W) or (C, H, W) in training (see dropout2d); seeded as Dropout. */
export class Dropout2d extends Module {
  private forwardCount = 0;

  constructor(readonly p = 0.5, readonly options: { seed?: number } = {}) {
    super();
    checkOptions('Dropout2d', options, ['seed']);
    if (!(p >= 0 && p <= 1)) throw new Error(`Dropout2d: probability p must be in [0, 1], got ${p}`);
  }

  forward(x: Tensor): Tensor {
    if (!this.training) return x;
    const seed = this.options.seed === undefined ? undefined : this.options.seed + this.forwardCount;
    try {
      const result = dropout2d(x, this.p, seed === undefined ? {} : { seed });
      // a call that throws draws no mask: the next call gets the seed this one would have used
      this.forwardCount++;
      return result;
    } catch (error) {
      throw renameOp(error, 'dropout2d', 'Dropout2d');
    }
  }

  override extraRepr(): string {
    return `p=${pythonFloat(this.p)}, inplace=False`;
  }
}

/** Flattens axes startDim..endDim (default 1..-1: everything but the batch axis). */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }

  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }

  override extraRepr(): string {
    return `start_dim=${this.startDim}, end_dim=${this.endDim}`;
  }
}

/** Returns its input unchanged (a placeholder, as PyTorch's nn.Identity). */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** GELU, exact (approximate 'none', the default) or with the tanh approximation (see gelu). */
export class GELU extends Module {
  readonly approximate: 'none' | 'tanh';

  constructor(options: { approximate?: 'none' | 'tanh' } = {}) {
    super();
    checkOptions('GELU', options, ['approximate']);
    this.approximate = options.approximate ?? 'none';
    if (this.approximate !== 'none' && this.approximate !== 'tanh') {
      throw new Error(`GELU: approximate must be 'none' or 'tanh', got ${JSON.stringify(this.approximate)}`);
    }
  }

  forward(x: Tensor): Tensor {
    return gelu(x, { approximate: this.approximate });
  }

  override extraRepr(): string {
    return `approximate='${this.approximate}'`;
  }
}

/** x · sigmoid(x). */
export class SiLU extends Module {
  forward(x: Tensor): Tensor {
    return silu(x);
  }
}

function checkFiniteArgument(layer: string, name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`${layer}: ${name} must be a finite number, got ${JSON.stringify(value)}`);
}

/** x for x > 0, negativeSlope · x otherwise. */
export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
    checkFiniteArgument('LeakyReLU', 'negativeSlope', negativeSlope);
  }

  forward(x: Tensor): Tensor {
    return leakyRelu(x, this.negativeSlope);
  }

  override extraRepr(): string {
    return `negative_slope=${pythonFloat(this.negativeSlope)}`;
  }
}

/** x for x > 0, alpha · (eˣ − 1) otherwise. */
export class ELU extends Module {
  constructor(readonly alpha = 1) {
    super();
    checkFiniteArgument('ELU', 'alpha', alpha);
  }

  forward(x: Tensor): Tensor {
    return elu(x, this.alpha);
  }

  override extraRepr(): string {
    return `alpha=${pythonFloat(this.alpha)}`;
  }
}

/** log(1 + e^{βx}) / β, linear where βx > threshold. */
export class Softplus extends Module {
  constructor(readonly beta = 1, readonly threshold = 20) {
    super();
    checkFiniteArgument('Softplus', 'beta', beta);
    checkFiniteArgument('Softplus', 'threshold', threshold);
    if (beta === 0) throw new Error('Softplus: beta must be non-zero');
  }

  forward(x: Tensor): Tensor {
    return softplus(x, this.beta, this.threshold);
  }

  override extraRepr(): string {
    return `beta=${pythonNumber(this.beta)}, threshold=${pythonNumber(this.threshold)}`;
  }
}

export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return x.tanh();
  }
}

export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return x.sigmoid();
  }
}

/** Softmax along dim (required: PyTorch's implicit choice of dim is deprecated). */
export class Softmax extends Module {
  constructor(readonly dim: number) {
    super();
    if (!Number.isInteger(dim)) throw new Error(`Softmax: dim must be an integer, got ${JSON.stringify(dim)}`);
  }

  forward(x: Tensor): Tensor {
    try {
      return softmax(x, this.dim);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('softmax:')) throw new Error(`Softmax${error.message.slice('softmax'.length)}`);
      throw error;
    }
  }

  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

