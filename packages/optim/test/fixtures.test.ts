import { describe, expect, it } from 'vitest';
import {
  fixture,
  flatParams,
  makeOptimizer,
  makeParams,
  makeScheduler,
  maxRelativeError,
  setFixtureGrads,
  stepScheduler,
  type Params,
} from './helpers.js';

const RTOL = 1e-12;

describe(`torch.optim ${fixture.torch} trajectories (float64, rtol ${RTOL})`, () => {
  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_name, testCase) => {
    const params: Params = makeParams('float64');
    const optimizer = makeOptimizer(testCase, params);
    const scheduler = makeScheduler(testCase, optimizer);
    let epoch = 0;
    for (let step = 0; step < testCase.steps; step++) {
      setFixtureGrads(params, step);
      const lrs = optimizer.paramGroups.map((group) => group.lr);
      expect(maxRelativeError(lrs, testCase.lrs[step]!), `lr before step ${step}`).toBeLessThanOrEqual(RTOL);
      optimizer.step();
      const error = maxRelativeError(flatParams(params), testCase.trajectory[step]!);
      expect(error, `parameters after step ${step}`).toBeLessThanOrEqual(RTOL);
      if (stepScheduler(testCase, scheduler, step)) {
        const expected = testCase.lastLrs![epoch++]!;
        expect(maxRelativeError(scheduler.getLastLr(), expected), `getLastLr after epoch ${epoch}`).toBeLessThanOrEqual(RTOL);
      }
    }
    for (const name of fixture.paramNames) {
      const state = (optimizer.state.get(params[name]) ?? {}) as Record<string, number | Float64Array>;
      const expected = testCase.finalState[name];
      expect(Object.keys(state).sort(), `state keys of ${name}`).toEqual(Object.keys(expected).sort());
      for (const [key, value] of Object.entries(expected)) {
        const actual = state[key]!;
        if (typeof value === 'number') expect(actual, `${key} of ${name}`).toBe(value);
        else expect(maxRelativeError(actual as Float64Array, value), `${key} of ${name}`).toBeLessThanOrEqual(RTOL);
      }
    }
  });

  it('covers every option and schedule the issue lists', () => {
    const names = fixture.cases.map((c) => c.name).join('\n');
    for (const needle of ['momentum', 'dampening', 'nesterov', 'weightDecay', 'maximize', 'amsgrad', 'betas', 'eps', 'groups',
      'StepLR', 'ExponentialLR', 'CosineAnnealingLR', 'LinearLR', 'adamw',
      'rmsprop', 'alpha', 'centered', 'adagrad', 'lrDecay', 'initialAccumulatorValue',
      'LambdaLR', 'MultiStepLR', 'OneCycleLR', 'threePhase', '"linear"', 'cycleMomentum', 'ReduceLROnPlateau', '"max"', 'cooldown',
      'thresholdMode', 'minLr', 'SequentialLR', 'CosineAnnealingWarmRestarts', 'tMult', 'fractional']) {
      expect(names).toContain(needle);
    }
    expect(fixture.cases.every((c) => c.steps >= 10)).toBe(true);
  });
});
