import { readFileSync } from 'node:fs';
import { hessian, hvp, jacfwd, jacrev, jvp, tensor, vjp, type Tensor } from '@normgrad/core';
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

/** A case of the transform fixtures (scripts/fixtures/transforms*.py): a norm, its inputs, and PyTorch's transforms of it. */
export interface TransformCase<Call> {
  name: string;
  call: Call;
  inputs: FixtureTensor[];
  tangents: FixtureTensor[];
  cotangent: FixtureTensor;
  g: FixtureTensor;
  y: FixtureTensor;
  jvp: FixtureTensor;
  vjp: FixtureTensor[];
  jacobian: FixtureTensor[];
  hvp: FixtureTensor[];
  hessian: FixtureTensor[][];
}

/** jvp, vjp, jacrev, jacfwd, hvp and hessian of `fn` (hvp and hessian of ⟨fn, g⟩) against the case's PyTorch values. */
export function expectTransformsMatch<Call>(c: TransformCase<Call>, fn: (...inputs: Tensor[]) => Tensor, tolerance: { atol: number; rtol: number }): void {
  const inputs = c.inputs.map((t) => fromFixture(t));
  const tangents = c.tangents.map((t) => fromFixture(t));
  const argnums = inputs.map((_, index) => index);
  const [y, tangent] = jvp(fn, inputs, tangents);
  expectAllclose(y, c.y, `${c.name} y (jvp)`, tolerance);
  expectAllclose(tangent, c.jvp, `${c.name} jvp`, tolerance);
  const [, pullback] = vjp(fn, ...inputs);
  pullback(fromFixture(c.cotangent)).forEach((gradient, i) => expectAllclose(gradient, c.vjp[i], `${c.name} vjp ${i}`, tolerance));
  const byReverse = jacrev(fn, { argnums })(...inputs);
  const byForward = jacfwd(fn, { argnums })(...inputs);
  c.jacobian.forEach((expected, i) => {
    expectAllclose(byReverse[i], expected, `${c.name} jacrev ${i}`, tolerance);
    expectAllclose(byForward[i], expected, `${c.name} jacfwd ${i}`, tolerance);
  });
  const g = fromFixture(c.g);
  const scalar = (...xs: Tensor[]) => fn(...xs).mul(g).sum();
  hvp(scalar, inputs, tangents).forEach((product, i) => expectAllclose(product, c.hvp[i], `${c.name} hvp ${i}`, tolerance));
  const blocks = hessian(scalar, { argnums })(...inputs);
  c.hessian.forEach((row, i) => row.forEach((expected, j) => expectAllclose(blocks[i]![j], expected, `${c.name} hessian [${i}][${j}]`, tolerance)));
}
