/**
 * An ensemble trained in one call: 4 BatchNorm MLPs, each with its own batch, trained by vmap over
 * their stacked parameters and buffers (stackModuleState + functionalCallWithBuffers) with one Adam
 * on the stacked parameters, equal 4 separate trainings step for step: losses, parameters and
 * running statistics (float64).
 */
import * as ng from '@normgrad/core';
import type { Tensor } from '@normgrad/core';
import { BatchNorm1d, Linear, ReLU, Sequential, functionalCallWithBuffers, mseLoss, stackModuleState, type Module } from '@normgrad/nn';
import { describe, expect, it } from 'vitest';
import { Adam } from '../src/index.js';

const members = 4;
const steps = 4;

function mlp(): Module {
  const f64 = { dtype: 'float64' } as const;
  return new Sequential(new Linear(3, 6, f64), new BatchNorm1d(6, f64), new ReLU(), new Linear(6, 2, f64));
}

function maxDifference(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  return a.sub(b).abs().max().item();
}

describe('an ensemble of BatchNorm MLPs trained by vmap', () => {
  it('equals separate trainings step for step', () => {
    ng.manualSeed(7);
    const models = Array.from({ length: members }, mlp);
    // each member's own batch of 5
    const xs = ng.randn([members, 5, 3], { dtype: 'float64', seed: 1 });
    const ys = ng.randn([members, 5, 2], { dtype: 'float64', seed: 2 });
    const [params, buffers] = stackModuleState(models);
    const template = mlp();

    // separately: each model trains on its batch with its own Adam
    const separateLosses: number[][] = models.map((model, m) => {
      const optimizer = new Adam(model.parameters(), { lr: 0.05 });
      const x = xs.narrow(0, m, 1).squeeze(0);
      const y = ys.narrow(0, m, 1).squeeze(0);
      return Array.from({ length: steps }, () => {
        optimizer.zeroGrad();
        const loss = mseLoss(model.forward(x), y);
        loss.backward();
        optimizer.step();
        return loss.item();
      });
    });

    // together: one vmap of valueAndGrad per step, one Adam over the stacked parameters
    const paramNames = Object.keys(params);
    const bufferNames = Object.keys(buffers);
    const memberLoss = (...args: Tensor[]): Tensor => {
      const p = Object.fromEntries(paramNames.map((name, index) => [name, args[index]!]));
      const b = Object.fromEntries(bufferNames.map((name, index) => [name, args[paramNames.length + index]!]));
      const [x, y] = args.slice(paramNames.length + bufferNames.length) as [Tensor, Tensor];
      return mseLoss(functionalCallWithBuffers(template, p, b, x), y);
    };
    const argnums = paramNames.map((_, index) => index);
    const step = ng.vmap((...args: Tensor[]) => {
      const [loss, gradients] = ng.valueAndGrad(memberLoss, { argnums })(...args);
      return [loss, ...gradients];
    });
    const optimizer = new Adam(Object.values(params), { lr: 0.05 });
    const stackedParams = Object.values(params);
    for (let k = 0; k < steps; k++) {
      optimizer.zeroGrad();
      const [losses, ...gradients] = step(...stackedParams, ...Object.values(buffers), xs, ys);
      stackedParams.forEach((param, index) => (param.grad = gradients[index]!));
      optimizer.step();
      const expected = ng.tensor(separateLosses.map((perStep) => perStep[k]!), { dtype: 'float64' });
      expect(maxDifference(losses!, expected), `losses at step ${k}`).toBeLessThan(1e-12);
    }

    // the separately trained models' state, stacked, equals the ensemble's
    const [trainedParams, trainedBuffers] = stackModuleState(models);
    for (const name of paramNames) expect(maxDifference(params[name]!, trainedParams[name]!), name).toBeLessThan(1e-12);
    for (const name of bufferNames) expect(maxDifference(buffers[name]!, trainedBuffers[name]!), name).toBeLessThan(1e-12);
    // the running statistics moved away from their initial zeros and ones
    expect(buffers['1.runningMean']!.abs().max().item()).toBeGreaterThan(1e-3);
  });
});
