import { tensor } from '@normgrad/core';
import { describe, expect, it } from 'vitest';
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
} from '../src/index.js';

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
    expect(() => new SGD([{ params: [param()], lrr: 0.1 } as never], { lr: 0.1 })).toThrow("SGD: param group 0: unknown option 'lrr' (did you mean 'lr'?)");
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

describe('unknown option keys (one mechanism: core checkOptions, with torch names and learningRate as hints)', () => {
  const p = () => [param()];
  const sgd = () => new SGD([param()], { lr: 0.1 });
  const adam = () => new Adam([param()]);
  const cases: [string, () => unknown, string][] = [
    ['SGD', () => new SGD(p(), { lr: 0.1, momentun: 0.5 } as never), "SGD: unknown option 'momentun' (did you mean 'momentum'?)"],
    ['Adam', () => new Adam(p(), { learningRate: 0.1 } as never), "Adam: unknown option 'learningRate' (did you mean 'lr'?)"],
    ['AdamW', () => new AdamW(p(), { weight_decay: 0.1 } as never), "AdamW: unknown option 'weight_decay' (did you mean 'weightDecay'?)"],
    ['RMSprop', () => new RMSprop(p(), { centred: true } as never), "RMSprop: unknown option 'centred' (did you mean 'centered'?)"],
    ['Adagrad', () => new Adagrad(p(), { initial_accumulator_value: 0.1 } as never), "Adagrad: unknown option 'initial_accumulator_value' (did you mean 'initialAccumulatorValue'?)"],
    ['param group', () => new RMSprop([{ params: p(), learning_rate: 0.1 } as never]), "RMSprop: param group 0: unknown option 'learning_rate' (did you mean 'lr'?)"],
    ['StepLR', () => new StepLR(sgd(), { step_size: 2 } as never), "StepLR: unknown option 'step_size' (did you mean 'stepSize'?)"],
    ['ExponentialLR', () => new ExponentialLR(sgd(), { gamma: 0.5, gama: 1 } as never), "ExponentialLR: unknown option 'gama' (did you mean 'gamma'?)"],
    ['CosineAnnealingLR', () => new CosineAnnealingLR(sgd(), { T_max: 3 } as never), "CosineAnnealingLR: unknown option 'T_max' (did you mean 'tMax'?)"],
    ['LinearLR', () => new LinearLR(sgd(), { total_iters: 3 } as never), "LinearLR: unknown option 'total_iters' (did you mean 'totalIters'?)"],
    ['LambdaLR', () => new LambdaLR(sgd(), { lr_lambda: () => 1 } as never), "LambdaLR: unknown option 'lr_lambda' (did you mean 'lrLambda'?)"],
    ['MultiStepLR', () => new MultiStepLR(sgd(), { milestones: [1], gamma: 0.1, last_epoch: 2 } as never), "MultiStepLR: unknown option 'last_epoch' (did you mean 'lastEpoch'?)"],
    ['OneCycleLR', () => new OneCycleLR(adam(), { maxLr: 0.1, total_steps: 10 } as never), "OneCycleLR: unknown option 'total_steps' (did you mean 'totalSteps'?)"],
    ['ReduceLROnPlateau', () => new ReduceLROnPlateau(sgd(), { min_lr: 0.1 } as never), "ReduceLROnPlateau: unknown option 'min_lr' (did you mean 'minLr'?)"],
    ['SequentialLR', () => new SequentialLR(sgd(), { schedulers: [], milestones: [], verbose: true } as never), "SequentialLR: unknown option 'verbose'"],
    ['CosineAnnealingWarmRestarts', () => new CosineAnnealingWarmRestarts(sgd(), { T_0: 2 } as never), "CosineAnnealingWarmRestarts: unknown option 'T_0' (did you mean 't0'?)"],
  ];
  it.each(cases)('%s', (_, make, message) => {
    expect(make).toThrow(message);
  });

  it('a non-object options argument is an Error naming the optimizer', () => {
    expect(() => new Adam([param()], 0.1 as never)).toThrow('Adam: expected an options object, got number');
    expect(() => new RMSprop([param()], null as never)).toThrow('RMSprop: expected an options object, got null');
  });
});

describe('RMSprop, Adagrad and the Round 2 schedulers validate their values', () => {
  it('RMSprop and Adagrad', () => {
    expect(() => new RMSprop([param()], { alpha: -0.1 })).toThrow('RMSprop: invalid alpha -0.1 in options (expected a finite number >= 0)');
    expect(() => new RMSprop([param()], { momentum: -1 })).toThrow(/RMSprop: invalid momentum -1/);
    expect(() => new RMSprop([param()], { centered: 1 as never })).toThrow('RMSprop: invalid centered 1 in options (expected true or false)');
    expect(() => new RMSprop([{ params: [param()], eps: -1 }])).toThrow('RMSprop: invalid eps -1 in param group 0');
    expect(() => new Adagrad([param()], { lrDecay: -0.1 })).toThrow('Adagrad: invalid lrDecay -0.1 in options (expected a finite number >= 0)');
    expect(() => new Adagrad([param()], { initialAccumulatorValue: -1 })).toThrow(/Adagrad: invalid initialAccumulatorValue -1/);
    expect(() => new Adagrad([param()], { lr: Number.NaN })).toThrow(/Adagrad: invalid learning rate lr NaN/);
  });

  it('schedulers', () => {
    const sgd = () => new SGD([param()], { lr: 0.1 });
    expect(() => new LambdaLR(sgd(), { lrLambda: [() => 1, () => 1] })).toThrow('LambdaLR: expected 1 lrLambda functions (one per param group), got 2');
    expect(() => new LambdaLR(sgd(), { lrLambda: 0.5 as never })).toThrow('LambdaLR: lrLambda 0 is number, expected a function of the epoch');
    expect(() => new MultiStepLR(sgd(), { milestones: [1.5] })).toThrow('MultiStepLR: invalid milestones [1.5] (expected an array of integer epochs)');
    expect(() => new OneCycleLR(sgd(), { maxLr: 0.1 })).toThrow('OneCycleLR: give totalSteps, or epochs and stepsPerEpoch');
    expect(() => new OneCycleLR(sgd(), { maxLr: 0.1, totalSteps: 0 })).toThrow('OneCycleLR: invalid totalSteps 0 (expected a positive integer)');
    expect(() => new OneCycleLR(sgd(), { maxLr: 0.1, totalSteps: 10, pctStart: 1.5 })).toThrow('OneCycleLR: invalid pctStart 1.5');
    expect(() => new OneCycleLR(sgd(), { maxLr: 0.1, totalSteps: 10, annealStrategy: 'cosine' as never })).toThrow(`OneCycleLR: invalid annealStrategy "cosine"`);
    expect(() => new OneCycleLR(sgd(), { maxLr: [0.1, 0.2], totalSteps: 10 })).toThrow('OneCycleLR: expected 1 values for maxLr (one per param group), got 2');
    expect(() => new OneCycleLR(new Adagrad([param()]), { maxLr: 0.1, totalSteps: 10 })).toThrow('OneCycleLR: Adagrad has neither momentum nor betas; pass cycleMomentum: false');
    expect(() => new ReduceLROnPlateau(sgd(), { factor: 1 })).toThrow('ReduceLROnPlateau: invalid factor 1 (expected a number < 1)');
    expect(() => new ReduceLROnPlateau(sgd(), { mode: 'minimum' as never })).toThrow(`ReduceLROnPlateau: invalid mode "minimum"`);
    expect(() => new ReduceLROnPlateau(sgd(), { thresholdMode: 'relative' as never })).toThrow(/ReduceLROnPlateau: invalid thresholdMode/);
    expect(() => new ReduceLROnPlateau(sgd(), { patience: 1.5 })).toThrow('ReduceLROnPlateau: invalid patience 1.5 (expected an integer >= 0)');
    expect(() => new ReduceLROnPlateau(sgd(), { minLr: [0, 0] })).toThrow('ReduceLROnPlateau: expected 1 values for minLr (one per param group), got 2');
    expect(() => new ReduceLROnPlateau(sgd()).step('0.5' as never)).toThrow("ReduceLROnPlateau.step: expected the epoch's metric as a number, got string");
    expect(() => new CosineAnnealingWarmRestarts(sgd(), { t0: 0 })).toThrow('CosineAnnealingWarmRestarts: invalid t0 0 (expected a positive integer)');
    expect(() => new CosineAnnealingWarmRestarts(sgd(), { t0: 2, tMult: 1.5 })).toThrow(/CosineAnnealingWarmRestarts: invalid tMult 1.5/);
    expect(() => new CosineAnnealingWarmRestarts(sgd(), { t0: 2 }).step(-1)).toThrow('CosineAnnealingWarmRestarts.step: expected a finite epoch >= 0, got -1');
    const optimizer = sgd();
    const other = sgd();
    expect(() => new SequentialLR(optimizer, { schedulers: [new StepLR(optimizer, { stepSize: 2 }), new StepLR(other, { stepSize: 2 })], milestones: [2] })).toThrow(
      'SequentialLR: scheduler 1 (StepLR) wraps a different optimizer than the one passed in',
    );
    expect(() => new SequentialLR(optimizer, { schedulers: [new StepLR(optimizer, { stepSize: 2 })], milestones: [2] })).toThrow(
      'SequentialLR: expected 0 integer milestones (one fewer than the 1 schedulers), got [2]',
    );
  });
});
