import { tensor, type Tensor } from '@normgrad/core';

/** A small seeded PRNG (mulberry32) so test data does not depend on any library's generator. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A float32 leaf requiring grad with entries uniform in (−bound, bound) (PyTorch's Linear init). */
export function uniformTensor(random: () => number, shape: number[], bound: number): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const values = Float32Array.from({ length: size }, () => (2 * random() - 1) * bound);
  return tensor(values, { shape, requiresGrad: true });
}

export interface Dataset {
  /** (n, 2) float32 points. */
  x: Tensor;
  labels: Int32Array;
  /** (n, 3) float32 one-hot labels. */
  oneHot: Tensor;
}

/**
 * Three concentric rings in the plane: class k has radius in [k + 0.15, k + 0.85], any angle.
 * Not linearly separable; a small ReLU MLP separates it.
 */
export function makeRings(random: () => number, count: number): Dataset {
  const points = new Float32Array(2 * count);
  const labels = new Int32Array(count);
  const oneHot = new Float32Array(3 * count);
  for (let i = 0; i < count; i++) {
    const label = i % 3;
    const radius = label + 0.15 + 0.7 * random();
    const angle = 2 * Math.PI * random();
    points[2 * i] = radius * Math.cos(angle);
    points[2 * i + 1] = radius * Math.sin(angle);
    labels[i] = label;
    oneHot[3 * i + label] = 1;
  }
  return { x: tensor(points, { shape: [count, 2] }), labels, oneHot: tensor(oneHot, { shape: [count, 3] }) };
}
