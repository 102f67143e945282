import type { Tensor } from '@normgrad/core';
import { Module } from '../module.js';

/** Applies its modules in order; their parameters are named `0.weight`, `1.bias`, ... */
export class Sequential extends Module {
  readonly layers: Module[];

  constructor(...layers: Module[]) {
    super();
    layers.forEach((layer, i) => {
      if (!(layer instanceof Module)) throw new Error(`Sequential: argument ${i} is not a Module`);
    });
    this.layers = layers;
  }

  override namedChildren(): [string, Module][] {
    return this.layers.map((layer, i): [string, Module] => [String(i), layer]);
  }

  get length(): number {
    return this.layers.length;
  }

  at(index: number): Module {
    const layer = this.layers.at(index);
    if (!layer) throw new Error(`Sequential: index ${index} is out of range for ${this.layers.length} layers`);
    return layer;
  }

  forward(x: Tensor): Tensor {
    return this.layers.reduce((h, layer) => layer.forward(h), x);
  }
}
