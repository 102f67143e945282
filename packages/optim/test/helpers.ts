import { readFileSync } from 'node:fs';
import { tensor, type DType, type Tensor } from '@normgrad/core';
import {
  Adagrad,
  Adam,
  AdamW,
  CosineAnnealingLR,
  CosineAnnealingWarmRestarts,
  ExponentialLR,
  LambdaLR,
  LinearLR,
  MultiStepLR,
  OneCycleLR,
  ReduceLROnPlateau,
  RMSprop,
  SequentialLR,
  SGD,
  StepLR,
  type LRScheduler,
  type LrLambda,
  type Optimizer,
} from '../src/index.js';

export type ParamName = 'a' | 'b' | 'c';

export interface FixtureCase {
  name: string;
  optimizer: 'SGD' | 'Adam' | 'AdamW' | 'RMSprop' | 'Adagrad';
  defaults: Record<string, unknown>;
  groups?: { params: ParamName[]; options: Record<string, unknown> }[];
  schedule?: Schedule;
  steps: number;
  /** lrs[k][g]: the lr of group g used by step k. */
  lrs: number[][];
  /** trajectory[k]: a, b, c flattened and concatenated, after step k. */
  trajectory: number[][];
  /** lastLrs[e]: scheduler.getLastLr() after its e-th step() call. */
  lastLrs?: number[][];
  finalState: Record<ParamName, Record<string, number | number[]>>;
}

export interface Schedule {
  type: string;
  options: Record<string, never>;
  stepsPerEpoch: number;
  /** ReduceLROnPlateau: the metric passed to step(metric) at each epoch. */
  metrics?: number[];
  /** CosineAnnealingWarmRestarts: step((k + 1) / stepsPerEpoch) after every optimizer step k. */
  fractional?: boolean;
}

export interface Fixture {
  torch: string;
  paramNames: ParamName[];
  initial: Record<ParamName, number[] | number[][]>;
  target: Record<ParamName, number[] | number[][]>;
  noGradSteps: Partial<Record<ParamName, number[]>>;
  cases: FixtureCase[];
}

export const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/optim.json', import.meta.url), 'utf8'),
) as Fixture;

export type Params = Record<ParamName, Tensor>;

export function makeParams(dtype: DType = 'float64'): Params {
  return {
    a: tensor(fixture.initial.a, { dtype, requiresGrad: true }),
    b: tensor(fixture.initial.b, { dtype, requiresGrad: true }),
    c: tensor(fixture.initial.c, { dtype, requiresGrad: true }),
  };
}

/** A copy of the current values of params as fresh leaves. */
export function copyParams(params: Params): Params {
  const copy = (p: Tensor): Tensor => tensor(p.toTypedArray(), { dtype: p.dtype, shape: p.shape, requiresGrad: true });
  return { a: copy(params.a), b: copy(params.b), c: copy(params.c) };
}

/** The fixture's gradient, g = 2·(p − t) + 0.1·(p·p·p), in the same order of operations as the generator. */
export function fixtureGradient(values: Float64Array, target: number[]): Float64Array {
  return values.map((p, i) => 2 * (p - target[i]!) + 0.1 * (p * p * p));
}

/** Sets every parameter's grad for step k (null where the fixture gives it none). */
export function setFixtureGrads(params: Params, step: number): void {
  for (const name of fixture.paramNames) {
    const param = params[name];
    if (fixture.noGradSteps[name]?.includes(step)) {
      param.grad = null;
      continue;
    }
    const target = fixture.target[name].flat();
    const grad = fixtureGradient(param.toFloat64Array(), target);
    param.grad = tensor(param.dtype === 'float64' ? grad : Float32Array.from(grad), { dtype: param.dtype, shape: param.shape });
  }
}

export function flatParams(params: Params): number[] {
  return fixture.paramNames.flatMap((name) => Array.from(params[name].toFloat64Array()));
}

export function makeOptimizer(testCase: FixtureCase, params: Params): Optimizer<{ lr: number }, object> {
  const input = testCase.groups?.map((group) => ({ params: group.params.map((name) => params[name]), ...group.options })) ??
    fixture.paramNames.map((name) => params[name]);
  const options = testCase.defaults as never;
  switch (testCase.optimizer) {
    case 'SGD':
      return new SGD(input as never, options);
    case 'Adam':
      return new Adam(input as never, options);
    case 'AdamW':
      return new AdamW(input as never, options);
    case 'RMSprop':
      return new RMSprop(input as never, options);
    case 'Adagrad':
      return new Adagrad(input as never, options);
  }
}

/** LambdaLR's functions by the names the fixture uses (the generator has the same table). */
export const LR_LAMBDAS: Record<string, LrLambda> = {
  power: (epoch) => 0.9 ** epoch,
  warmup: (epoch) => Math.min(1.0, (epoch + 1) / 3),
};

export type FixtureScheduler = LRScheduler | ReduceLROnPlateau;

function buildScheduler(schedule: Pick<Schedule, 'type' | 'options'>, optimizer: Optimizer<{ lr: number }, object>): FixtureScheduler {
  const o = schedule.options as Record<string, unknown> & Record<string, never>;
  switch (schedule.type) {
    case 'StepLR':
      return new StepLR(optimizer, { stepSize: o.stepSize, gamma: o.gamma });
    case 'ExponentialLR':
      return new ExponentialLR(optimizer, { gamma: o.gamma });
    case 'CosineAnnealingLR':
      return new CosineAnnealingLR(optimizer, { tMax: o.tMax, etaMin: o.etaMin });
    case 'LinearLR':
      return new LinearLR(optimizer, { startFactor: o.startFactor, endFactor: o.endFactor, totalIters: o.totalIters });
    case 'LambdaLR': {
      const names = o.lrLambda as string | string[];
      return new LambdaLR(optimizer, { lrLambda: Array.isArray(names) ? names.map((name) => LR_LAMBDAS[name]!) : LR_LAMBDAS[names]! });
    }
    case 'MultiStepLR':
      return new MultiStepLR(optimizer, o);
    case 'OneCycleLR':
      return new OneCycleLR(optimizer, o);
    case 'ReduceLROnPlateau':
      return new ReduceLROnPlateau(optimizer, o);
    case 'CosineAnnealingWarmRestarts':
      return new CosineAnnealingWarmRestarts(optimizer, o);
    case 'SequentialLR': {
      const inner = (o.schedulers as Schedule[]).map((spec) => buildScheduler(spec, optimizer) as LRScheduler);
      return new SequentialLR(optimizer, { schedulers: inner, milestones: o.milestones });
    }
    default:
      throw new Error(`unknown schedule ${schedule.type}`);
  }
}

export function makeScheduler(testCase: FixtureCase, optimizer: Optimizer<{ lr: number }, object>): FixtureScheduler | null {
  return testCase.schedule === undefined ? null : buildScheduler(testCase.schedule, optimizer);
}

/** Steps the schedule after optimizer step k as the generator does; returns whether it stepped. */
export function stepScheduler(testCase: FixtureCase, scheduler: FixtureScheduler | null, step: number): boolean {
  const schedule = testCase.schedule;
  if (scheduler === null || schedule === undefined) return false;
  if (schedule.fractional === true) {
    (scheduler as CosineAnnealingWarmRestarts).step((step + 1) / schedule.stepsPerEpoch);
    return true;
  }
  if ((step + 1) % schedule.stepsPerEpoch !== 0) return false;
  if (scheduler instanceof ReduceLROnPlateau) scheduler.step(schedule.metrics![(step + 1) / schedule.stepsPerEpoch - 1]!);
  else scheduler.step();
  return true;
}

/** Largest |actual − expected| / |expected| (absolute where expected is 0). */
export function maxRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const error = Math.abs(actual[i]! - e) / (e === 0 ? 1 : Math.abs(e));
    if (!(error <= worst)) worst = error;
  }
  return worst;
}
