import { readFileSync } from 'node:fs';
import { tensor, type Tensor } from '@normgrad/core';
import { expect } from 'vitest';

export interface FixtureTensor {
  shape: number[];
  data: number[];
}

export interface NormStepRecord {
  x: FixtureTensor;
  g: FixtureTensor;
  y: FixtureTensor;
  gradInput: FixtureTensor;
  gradWeight: FixtureTensor | null;
  gradBias: FixtureTensor | null;
  runningMean?: FixtureTensor;
  runningVar?: FixtureTensor;
  numBatchesTracked?: number;
}

export interface NormCase {
  name: string;
  layer: 'BatchNorm1d' | 'BatchNorm2d' | 'LayerNorm' | 'InstanceNorm1d' | 'InstanceNorm2d' | 'GroupNorm';
  args: (number | number[])[];
  options: Record<string, number | boolean | null>;
  /** torch's state_dict() keys in camelCase. */
  stateDictKeys: string[];
  weight: FixtureTensor | null;
  bias: FixtureTensor | null;
  train: NormStepRecord[];
  eval: NormStepRecord;
}

export interface StabilityCase {
  name: string;
  layer: NormCase['layer'];
  args: (number | number[])[];
  options: Record<string, number | boolean | null>;
  x: FixtureTensor;
  y: FixtureTensor;
}

export interface FunctionCase {
  name: string;
  op: string;
  options: Record<string, unknown>;
  inputs: Record<string, FixtureTensor>;
  g: FixtureTensor;
  y: FixtureTensor;
  grads: Record<string, FixtureTensor>;
  target?: number[];
}

export interface Fixtures {
  torch: string;
  norms: NormCase[];
  float32Stability: StabilityCase[];
  functions: FunctionCase[];
}

export function loadFixtures(): Fixtures {
  return JSON.parse(readFileSync(new URL('./fixtures/norms.json', import.meta.url), 'utf8')) as Fixtures;
}

export function fromFixture(t: FixtureTensor, dtype: 'float32' | 'float64' = 'float64', requiresGrad = false): Tensor {
  return tensor(Float64Array.from(t.data), { shape: t.shape, dtype, requiresGrad });
}

/** Elementwise |actual - expected| <= atol + rtol * |expected|, with a message naming the worst element. */
export function expectAllclose(
  actual: Tensor | null | undefined,
  expected: FixtureTensor | Tensor | null | undefined,
  label: string,
  { atol = 1e-10, rtol = 1e-8 }: { atol?: number; rtol?: number } = {},
): void {
  if (expected === null || expected === undefined) {
    expect(actual ?? null, `${label}: expected no tensor`).toBeNull();
    return;
  }
  expect(actual, `${label}: expected a tensor`).toBeTruthy();
  const a = actual!;
  const expectedShape = 'data' in expected && Array.isArray(expected.data) ? (expected as FixtureTensor).shape : (expected as Tensor).shape;
  const expectedValues = 'toFloat64Array' in expected ? expected.toFloat64Array() : Float64Array.from(expected.data);
  expect(a.shape, `${label}: shape`).toEqual(expectedShape);
  const actualValues = a.toFloat64Array();
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expectedValues.length; i++) {
    const excess = Math.abs(actualValues[i]! - expectedValues[i]!) - (atol + rtol * Math.abs(expectedValues[i]!));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    expect.fail(`${label}: element ${worst} is ${actualValues[worst]}, expected ${expectedValues[worst]} (atol ${atol}, rtol ${rtol})`);
  }
}

/** Deterministic pseudo-random doubles for property tests (mulberry32). */
export function seededValues(seed: number, count: number, scale = 1, offset = 0): Float64Array {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Float64Array.from({ length: count }, () => offset + scale * (2 * next() - 1));
}

export function product(values: readonly number[]): number {
  return values.reduce((a, b) => a * b, 1);
}

/** A float64 tensor with seeded values uniform in [offset - scale, offset + scale). */
export function seededTensor(shape: number[], seed: number, { scale = 1, offset = 0, requiresGrad = false } = {}): Tensor {
  return tensor(seededValues(seed, product(shape), scale, offset), { shape, dtype: 'float64', requiresGrad });
}
