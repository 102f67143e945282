import { tensor } from '@normgrad/core';
import { describe, expect, it } from 'vitest';
import { Adam, CosineAnnealingLR, ExponentialLR, LinearLR, SGD, StepLR } from '../src/index.js';

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
});
