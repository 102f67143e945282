import type { Tensor } from '@normgrad/core';
import { dropout } from '../functional/activation.js';
import { Module } from '../module.js';

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
    if (!(p >= 0 && p <= 1)) throw new Error(`Dropout: probability p must be in [0, 1], got ${p}`);
  }

  forward(x: Tensor): Tensor {
    if (!this.training) return x;
    const seed = this.options.seed === undefined ? undefined : this.options.seed + this.forwardCount++;
    return dropout(x, this.p, seed === undefined ? {} : { seed });
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
}
