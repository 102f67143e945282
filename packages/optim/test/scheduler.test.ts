import { tensor } from '@normgrad/core';
import { describe, expect, it } from 'vitest';
import {
  Adam,
  CosineAnnealingLR,
  CosineAnnealingWarmRestarts,
  ExponentialLR,
  LambdaLR,
  LinearLR,
  OneCycleLR,
  ReduceLROnPlateau,
  SGD,
  StepLR,
  type ReduceLROnPlateauStateDict,
} from '../src/index.js';

const param = () => tensor([1, 2], { dtype: 'float64', requiresGrad: true });

describe('LR schedulers', () => {
  it('record initialLr, apply the epoch-0 value at construction, and step per epoch', () => {
    const optimizer = new SGD([{ params: [param()] }, { params: [param()], lr: 0.4 }], { lr: 0.1 });
    const scheduler = new LinearLR(optimizer, { startFactor: 0.5, totalIters: 2 });
    expect(optimizer.paramGroups.map((g) => g.initialLr)).toEqual([0.1, 0.4]);
    expect(scheduler.getLastLr()).toEqual([0.05, 0.2]);
    scheduler.stepLr(); // alias of step()
    expect(scheduler.lastEpoch).toBe(1);
    expect(scheduler.getLastLr()).toEqual([0.07500000000000001, 0.30000000000000004]);
    scheduler.step();
    scheduler.step();
    expect(scheduler.getLastLr()).toEqual([0.1, 0.4]);
    expect(optimizer.paramGroups.map((g) => g.lr)).toEqual([0.1, 0.4]);
  });

  it('getLastLr returns a copy', () => {
    const scheduler = new ExponentialLR(new Adam([param()], { lr: 0.1 }), { gamma: 0.5 });
    scheduler.getLastLr()[0] = 99;
    expect(scheduler.getLastLr()).toEqual([0.1]);
  });

  it('StepLR decays at multiples of stepSize', () => {
    const optimizer = new SGD([param()], { lr: 1 });
    const scheduler = new StepLR(optimizer, { stepSize: 3, gamma: 0.5 });
    const seen: number[] = [];
    for (let epoch = 0; epoch < 7; epoch++) {
      seen.push(optimizer.paramGroups[0]!.lr);
      scheduler.step();
    }
    expect(seen).toEqual([1, 1, 1, 0.5, 0.5, 0.5, 0.25]);
  });

  it('CosineAnnealingLR follows the closed form over a period, and resumes from lastEpoch (PyTorch branch)', () => {
    const optimizer = new SGD([param()], { lr: 0.1 });
    const scheduler = new CosineAnnealingLR(optimizer, { tMax: 10, etaMin: 0.001 });
    const closedForm = (epoch: number) => 0.001 + ((0.1 - 0.001) * (1 + Math.cos((Math.PI * epoch) / 10))) / 2;
    for (let epoch = 1; epoch <= 20; epoch++) {
      scheduler.step();
      expect(optimizer.paramGroups[0]!.lr).toBeCloseTo(closedForm(epoch), 14);
    }
    const resumedOptimizer = new SGD([param()], { lr: 0.1 });
    resumedOptimizer.paramGroups[0]!.initialLr = 0.1;
    const resumed = new CosineAnnealingLR(resumedOptimizer, { tMax: 10, etaMin: 0.001, lastEpoch: 3 });
    expect(resumed.lastEpoch).toBe(4);
    expect(resumed.getLastLr()[0]).toBeCloseTo(closedForm(4), 15);
    resumed.step();
    expect(resumed.getLastLr()[0]).toBeCloseTo(closedForm(5), 15);
  });

  it('state dict round trip continues the same schedule', () => {
    const make = () => {
      const optimizer = new SGD([param()], { lr: 0.2 });
      return { optimizer, scheduler: new CosineAnnealingLR(optimizer, { tMax: 4 }) };
    };
    const reference = make();
    const expected: number[] = [];
    for (let epoch = 0; epoch < 9; epoch++) {
      reference.scheduler.step();
      if (epoch >= 3) expected.push(reference.scheduler.getLastLr()[0]!);
    }
    const first = make();
    for (let epoch = 0; epoch < 3; epoch++) first.scheduler.step();
    const saved = JSON.parse(JSON.stringify({ o: first.optimizer.stateDict(), s: first.scheduler.stateDict() }));
    const second = make();
    second.optimizer.loadStateDict(saved.o);
    second.scheduler.loadStateDict(saved.s);
    const actual: number[] = [];
    for (let epoch = 3; epoch < 9; epoch++) {
      second.scheduler.step();
      actual.push(second.scheduler.getLastLr()[0]!);
    }
    expect(actual).toEqual(expected);
  });

  it('LambdaLR: stateDict holds the counters but not the functions; a rebuilt scheduler continues', () => {
    const make = () => {
      const optimizer = new SGD([param()], { lr: 0.5 });
      return new LambdaLR(optimizer, { lrLambda: (epoch) => 1 / (1 + epoch) });
    };
    const first = make();
    for (let epoch = 0; epoch < 3; epoch++) first.step();
    const saved = JSON.parse(JSON.stringify(first.stateDict()));
    expect(Object.keys(saved).sort()).toEqual(['baseLrs', 'lastEpoch', 'lastLr', 'stepCount']);
    const second = make();
    second.loadStateDict(saved);
    first.step();
    second.step();
    expect(second.getLastLr()).toEqual(first.getLastLr());
    expect(second.getLastLr()).toEqual([0.5 / 5]);
  });

  it('OneCycleLR cycles SGD momentum and Adam beta1, and refuses to step past totalSteps', () => {
    const sgd = new SGD([param()], { lr: 0.1 });
    const schedule = new OneCycleLR(sgd, { maxLr: 1, totalSteps: 4, pctStart: 0.5, annealStrategy: 'linear' });
    expect(sgd.paramGroups[0]).toMatchObject({ lr: 0.04, momentum: 0.95, initialLr: 0.04 });
    schedule.step();
    expect(sgd.paramGroups[0]!.lr).toBe(1);
    expect(sgd.paramGroups[0]!.momentum).toBe(0.85);
    const adam = new Adam([param()], { betas: [0.5, 0.9] });
    new OneCycleLR(adam, { maxLr: 1, totalSteps: 4 });
    expect(adam.paramGroups[0]!.betas).toEqual([0.95, 0.9]);
    schedule.step();
    schedule.step();
    schedule.step();
    expect(() => schedule.step()).toThrow('OneCycleLR: tried to step 6 times; the specified number of total steps is 4');
  });

  it('ReduceLROnPlateau: a JSON round trip of its state keeps the infinite starting best', () => {
    const make = () => new ReduceLROnPlateau(new SGD([param()], { lr: 1 }), { patience: 1, factor: 0.5 });
    const fresh = make();
    const saved = JSON.parse(JSON.stringify(fresh.stateDict())) as ReduceLROnPlateauStateDict;
    expect(saved.best).toBe('Infinity');
    const loaded = make();
    loaded.best = 0;
    loaded.loadStateDict(saved);
    expect(loaded.best).toBe(Infinity);
    const metrics = [1, 2, 3, 0.5, 0.6, 0.7];
    for (const metric of metrics) {
      fresh.step(metric);
      loaded.step(metric);
    }
    expect(fresh.getLastLr()).toEqual([0.25]);
    expect(loaded.getLastLr()).toEqual([0.25]);
    expect(() => loaded.loadStateDict({ ...saved, numBadEpochs: 'x' as never })).toThrow('ReduceLROnPlateau.loadStateDict: numBadEpochs is x, expected a number');
  });

  it('CosineAnnealingWarmRestarts restarts at t0, t0 + t0·tMult, ...', () => {
    const optimizer = new SGD([param()], { lr: 1 });
    const schedule = new CosineAnnealingWarmRestarts(optimizer, { t0: 2, tMult: 2 });
    const restarts: number[] = [];
    for (let epoch = 1; epoch <= 14; epoch++) {
      schedule.step();
      if (schedule.getLastLr()[0] === 1) restarts.push(epoch);
    }
    expect(restarts).toEqual([2, 6, 14]);
    schedule.step(6.5);
    expect(schedule.tCur).toBe(0.5);
    expect(schedule.tI).toBe(8);
    expect(schedule.lastEpoch).toBe(6);
  });
});
