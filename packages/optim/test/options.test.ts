import { tensor } from '@normgrad/core';
import { describe, expect, it } from 'vitest';
import { Adam, AdamW, CosineAnnealingLR, LinearLR, SGD, StepLR } from '../src/index.js';

const param = () => tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });

describe('option validation', () => {
  it('SGD', () => {
    expect(() => new SGD([param()], { lr: -0.1 })).toThrow('SGD: invalid learning rate lr -0.1 in options (expected a finite number >= 0)');
    expect(() => new SGD([param()], { lr: Number.NaN })).toThrow(/SGD: invalid learning rate lr NaN/);
    expect(() => new SGD([param()], { lr: 0.1, momentum: -0.5 })).toThrow(/SGD: invalid momentum -0.5/);
    expect(() => new SGD([param()], { lr: 0.1, weightDecay: -1e-4 })).toThrow(/SGD: invalid weightDecay -0.0001/);
    expect(() => new SGD([param()], { lr: 0.1, nesterov: true })).toThrow(
      'SGD: nesterov momentum requires momentum > 0 and dampening = 0 (got momentum 0, dampening 0) in options',
    );
    expect(() => new SGD([param()], { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true })).toThrow(
      /SGD: nesterov momentum requires momentum > 0 and dampening = 0 \(got momentum 0.9, dampening 0.1\)/,
    );
    expect(() => new SGD([param()], { lr: 0.1, momentum: 0.9, nesterov: true })).not.toThrow();
  });

  it('Adam and AdamW', () => {
    expect(() => new Adam([param()], { lr: -1 })).toThrow('Adam: invalid learning rate lr -1 in options (expected a finite number >= 0)');
    expect(() => new Adam([param()], { betas: [1, 0.999] })).toThrow(
      'Adam: invalid beta parameter at index 0: 1 in options (expected 0 <= beta < 1)',
    );
    expect(() => new Adam([param()], { betas: [0.9, -0.1] })).toThrow(/Adam: invalid beta parameter at index 1: -0.1/);
    expect(() => new AdamW([param()], { betas: [0.9, 1.5] })).toThrow(/AdamW: invalid beta parameter at index 1: 1.5/);
    expect(() => new Adam([param()], { eps: -1e-8 })).toThrow(/Adam: invalid eps -1e-8/);
    expect(() => new AdamW([param()], { weightDecay: -0.01 })).toThrow(/AdamW: invalid weightDecay -0.01/);
    expect(() => new Adam([param()], { betas: [0, 0] })).not.toThrow();
  });

  it('validates per-group overrides and names the group', () => {
    expect(() => new SGD([{ params: [param()] }, { params: [param()], lr: -2 }], { lr: 0.1 })).toThrow(
      'SGD: invalid learning rate lr -2 in param group 1 (expected a finite number >= 0)',
    );
    expect(() => new Adam([{ params: [param()], betas: [0.9, 1] }])).toThrow(/Adam: invalid beta parameter at index 1: 1 in param group 0/);
    expect(() => new SGD([{ params: [param()], momentum: 0.9, nesterov: true, dampening: 0.5 }], { lr: 0.1 })).toThrow(
      /nesterov momentum requires .* in param group 0/,
    );
    expect(() => new SGD([{ params: [param()], lrr: 0.1 } as never], { lr: 0.1 })).toThrow("SGD: param group 0 has unknown option 'lrr'");
  });

  it('checks the parameter list', () => {
    expect(() => new SGD([], { lr: 0.1 })).toThrow('SGD: got an empty parameter list');
    const shared = param();
    expect(() => new SGD([{ params: [shared] }, { params: [shared] }], { lr: 0.1 })).toThrow(
      'SGD: some parameters appear in more than one parameter group (param group 1)',
    );
    expect(() => new SGD([shared, shared], { lr: 0.1 })).toThrow(/more than one parameter group/);
    expect(() => new Adam([param().mul(2)])).toThrow(/Adam: param group 0, parameter 0 \(shape \[3\]\) is not a leaf tensor/);
    expect(() => new Adam([[1, 2, 3]] as never)).toThrow(/Adam: param group 0 must be an object with a 'params' field|not a Tensor/);
  });

  it('a gradient of the wrong shape is refused when assigned (core checks Tensor.grad), so step never sees one', () => {
    const p = param();
    expect(() => (p.grad = tensor([1, 2], { dtype: 'float64' }))).toThrow(
      'Tensor.grad: assigned a float64 gradient of shape [2] to a float64 tensor of shape [3]; it must match both',
    );
  });

  it('schedulers', () => {
    const optimizer = new SGD([param()], { lr: 0.1 });
    expect(() => new StepLR(optimizer, { stepSize: 0 })).toThrow('StepLR: invalid stepSize 0 (expected a positive integer)');
    expect(() => new CosineAnnealingLR(optimizer, { tMax: 2.5 })).toThrow(/CosineAnnealingLR: invalid tMax 2.5/);
    expect(() => new LinearLR(optimizer, { startFactor: 0 })).toThrow('LinearLR: invalid startFactor 0 (expected 0 < startFactor <= 1)');
    expect(() => new LinearLR(optimizer, { endFactor: 1.5 })).toThrow(/LinearLR: invalid endFactor 1.5/);
    const fresh = new SGD([param()], { lr: 0.1 });
    expect(() => new StepLR(fresh, { stepSize: 2, lastEpoch: 3 })).toThrow(/StepLR: param group 0 has no initialLr/);
  });
});
