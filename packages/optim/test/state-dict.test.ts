import { describe, expect, it } from 'vitest';
import { SGD, type LRSchedulerStateDict, type OptimizerStateDict } from '../src/index.js';
import {
  copyParams,
  fixture,
  flatParams,
  makeOptimizer,
  makeParams,
  makeScheduler,
  setFixtureGrads,
  stepScheduler,
  type FixtureCase,
} from './helpers.js';

function byName(name: string): FixtureCase {
  const found = fixture.cases.find((c) => c.name === name);
  if (found === undefined) throw new Error(`no fixture case ${name}`);
  return found;
}

/** Runs `steps` steps of a fixture case from `start`, stepping the schedule per epoch; returns the trajectory. */
function run(
  testCase: FixtureCase,
  optimizer: ReturnType<typeof makeOptimizer>,
  params: ReturnType<typeof makeParams>,
  scheduler: ReturnType<typeof makeScheduler>,
  start: number,
  end: number,
): number[][] {
  const trajectory: number[][] = [];
  for (let step = start; step < end; step++) {
    setFixtureGrads(params, step);
    optimizer.step();
    trajectory.push(flatParams(params));
    stepScheduler(testCase, scheduler, step);
  }
  return trajectory;
}

const CASES = [
  'sgd momentum dampening',
  'sgd nesterov weightDecay',
  'adam amsgrad betas weightDecay',
  'adamw amsgrad',
  'sgd groups',
  'adam groups',
  'adam CosineAnnealingLR {"etaMin": 0.001, "tMax": 3}',
  'sgd LinearLR {"startFactor": 0.25, "totalIters": 4}',
  'adamw groups CosineAnnealingLR',
  'rmsprop weightDecay momentum centered maximize',
  'rmsprop groups',
  'adagrad lrDecay weightDecay initialAccumulatorValue',
  'adagrad groups',
  'sgd LambdaLR {"lrLambda": "warmup"}',
  'sgd groups LambdaLR per group',
  'sgd MultiStepLR {"gamma": 0.5, "milestones": [2, 5, 5]}',
  'sgd OneCycleLR {"maxLr": 0.2, "totalSteps": 16}',
  'adam OneCycleLR {"divFactor": 10.0, "finalDivFactor": 100.0, "maxLr": 0.2, "threePhase": true, "totalSteps": 16}',
  'rmsprop groups OneCycleLR',
  'adamw groups OneCycleLR',
  'adam ReduceLROnPlateau {"factor": 0.5, "patience": 1}',
  'adagrad groups ReduceLROnPlateau',
  'sgd CosineAnnealingWarmRestarts {"etaMin": 0.005, "t0": 2, "tMult": 2}',
  'sgd CosineAnnealingWarmRestarts fractional',
  'sgd SequentialLR {"milestones": [2, 6], "schedulers": [{"options": {"gamma": 0.9}, "type": "ExponentialLR"}, {"options": {"gamma": 0.5, "milestones": [1, 3]}, "type": "MultiStepLR"}, {"options": {"gamma": 0.7, "stepSize": 2}, "type": "StepLR"}]}',
  'sgd SequentialLR {"milestones": [3], "schedulers": [{"options": {"lrLambda": "warmup"}, "type": "LambdaLR"}, {"options": {"t0": 3, "tMult": 2}, "type": "CosineAnnealingWarmRestarts"}]}',
];

describe('stateDict / loadStateDict round trip mid-trajectory', () => {
  it.each(CASES.flatMap((name) => (['float64', 'float32'] as const).map((dtype) => [name, dtype] as const)))(
    '%s (%s)',
    (name, dtype) => {
      const testCase = byName(name);
      const split = 5;
      const reference = makeParams(dtype);
      const referenceOptimizer = makeOptimizer(testCase, reference);
      const referenceScheduler = makeScheduler(testCase, referenceOptimizer);
      const expected = run(testCase, referenceOptimizer, reference, referenceScheduler, 0, testCase.steps).slice(split);

      const first = makeParams(dtype);
      const firstOptimizer = makeOptimizer(testCase, first);
      const firstScheduler = makeScheduler(testCase, firstOptimizer);
      run(testCase, firstOptimizer, first, firstScheduler, 0, split);
      const saved = JSON.parse(JSON.stringify({
        optimizer: firstOptimizer.stateDict(),
        scheduler: firstScheduler?.stateDict() ?? null,
      })) as { optimizer: OptimizerStateDict; scheduler: LRSchedulerStateDict | null };

      // A fresh optimizer (built with the case's initial options) over copies of the parameters.
      const resumed = copyParams(first);
      const resumedOptimizer = makeOptimizer(testCase, resumed);
      const resumedScheduler = makeScheduler(testCase, resumedOptimizer);
      resumedOptimizer.loadStateDict(saved.optimizer);
      if (resumedScheduler !== null) resumedScheduler.loadStateDict(saved.scheduler as never);
      const actual = run(testCase, resumedOptimizer, resumed, resumedScheduler, split, testCase.steps);
      expect(actual).toEqual(expected);
    },
  );

  it('produces plain data: numbers, booleans and number arrays only, not tensors or typed arrays', () => {
    const params = makeParams('float32');
    const optimizer = makeOptimizer(byName('adam amsgrad betas weightDecay'), params);
    setFixtureGrads(params, 0);
    optimizer.step();
    const stateDict = optimizer.stateDict();
    const isPlain = (value: unknown): boolean =>
      typeof value === 'number' || typeof value === 'boolean' || value === null || typeof value === 'string' ||
      (Array.isArray(value) && value.every(isPlain)) ||
      (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype && Object.values(value as object).every(isPlain));
    expect(isPlain(stateDict)).toBe(true);
    expect(JSON.parse(JSON.stringify(stateDict))).toEqual(stateDict);
    expect(stateDict.paramGroups[0]).toMatchObject({ lr: 0.05, betas: [0.5, 0.9], amsgrad: true, params: [0, 1, 2] });
    expect(Object.keys(stateDict.state[0]!).sort()).toEqual(['expAvg', 'expAvgSq', 'maxExpAvgSq', 'step']);
    expect(stateDict.state[1]!.expAvg).toHaveLength(6);
  });

  it('is a snapshot: later steps do not change a saved state dict', () => {
    const params = makeParams();
    const optimizer = new SGD([params.a], { lr: 0.1, momentum: 0.9 });
    setFixtureGrads(params, 0);
    optimizer.step();
    const saved = optimizer.stateDict();
    const before = JSON.stringify(saved);
    optimizer.step();
    optimizer.paramGroups[0]!.lr = 7;
    expect(JSON.stringify(saved)).toBe(before);
  });

  it('restores group options, lr included', () => {
    const params = makeParams();
    const source = new SGD([params.a, params.b], { lr: 0.1, momentum: 0.9 });
    source.paramGroups[0]!.lr = 0.025;
    const target = new SGD(Object.values(copyParams(params)).slice(0, 2), { lr: 1, momentum: 0.5, nesterov: true });
    target.loadStateDict(JSON.parse(JSON.stringify(source.stateDict())) as OptimizerStateDict);
    expect(target.paramGroups[0]).toMatchObject({ lr: 0.025, momentum: 0.9, nesterov: false });
  });

  it('rejects a state dict that does not fit the optimizer', () => {
    const params = makeParams();
    const source = new SGD([params.a, params.b], { lr: 0.1, momentum: 0.9 });
    setFixtureGrads(params, 0);
    source.step();
    const saved = source.stateDict();
    expect(() => new SGD([params.a], { lr: 0.1 }).loadStateDict(saved)).toThrow(/SGD\.loadStateDict: param group 0 has 1 parameters/);
    expect(() => new SGD([{ params: [params.a] }, { params: [params.b] }], { lr: 0.1 }).loadStateDict(saved)).toThrow(
      /SGD\.loadStateDict: the state dict has 1 param groups, the optimizer has 2/,
    );
    expect(() => new SGD([params.b, params.a], { lr: 0.1 }).loadStateDict(saved)).toThrow(
      /state 'momentumBuffer' of parameter 0 has 3 values, the parameter \(shape \[2, 3\]\) has 6/,
    );
  });
});
