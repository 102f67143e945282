/**
 * The public API contract of @normgrad/optim, item by item as /work/shared/API.md lists it:
 * SGD, Adam, AdamW, RMSprop and Adagrad with every option and its default, step, zeroGrad,
 * stateDict and loadStateDict, and the schedulers. Updates are compared, step for step, with a
 * plain float64 transcription of torch.optim's single-tensor update rules (_single_tensor_sgd,
 * _single_tensor_adam(w), _single_tensor_rmsprop, _single_tensor_adagrad).
 */
import { tensor, type Tensor } from '@normgrad/core';
import { describe, expect, it } from 'vitest';
import * as optim from '../src/index.js';
import { Adagrad, Adam, AdamW, RMSprop, SGD } from '../src/index.js';

const param = (values: number[]): Tensor => tensor(values, { dtype: 'float64', requiresGrad: true });

/** Gradients that change from step to step (so momentum and moments matter). */
const gradientAt = (step: number, size: number): number[] => Array.from({ length: size }, (_, i) => Math.sin(1.3 * step + 0.7 * i) + 0.1 * i);

function expectAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-12): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i]! - expected[i]!)).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(expected[i]!)));
}

interface SGDReference { lr: number; momentum: number; dampening: number; nesterov: boolean; weightDecay: number; maximize: boolean }

/** torch.optim.SGD, _single_tensor_sgd. */
function sgdReference(start: number[], steps: number, o: SGDReference): number[][] {
  const p = [...start];
  let buffer: number[] | null = null;
  const trajectory: number[][] = [];
  for (let step = 0; step < steps; step++) {
    let d = gradientAt(step, p.length).map((g) => (o.maximize ? -g : g));
    if (o.weightDecay !== 0) d = d.map((g, i) => g + o.weightDecay * p[i]!);
    if (o.momentum !== 0) {
      buffer = buffer === null ? [...d] : buffer.map((b, i) => b * o.momentum + (1 - o.dampening) * d[i]!);
      d = o.nesterov ? d.map((g, i) => g + o.momentum * buffer![i]!) : [...buffer];
    }
    for (let i = 0; i < p.length; i++) p[i] = p[i]! - o.lr * d[i]!;
    trajectory.push([...p]);
  }
  return trajectory;
}

interface AdamReference { lr: number; betas: [number, number]; eps: number; weightDecay: number; amsgrad: boolean; maximize: boolean }

/** torch.optim.Adam / AdamW, _single_tensor_adam(w). */
function adamReference(decoupled: boolean, start: number[], steps: number, o: AdamReference): number[][] {
  const p = [...start];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  const vMax = p.map(() => 0);
  const trajectory: number[][] = [];
  const [beta1, beta2] = o.betas;
  for (let step = 1; step <= steps; step++) {
    let g = gradientAt(step - 1, p.length).map((x) => (o.maximize ? -x : x));
    if (decoupled) for (let i = 0; i < p.length; i++) p[i] = p[i]! * (1 - o.lr * o.weightDecay);
    else if (o.weightDecay !== 0) g = g.map((x, i) => x + o.weightDecay * p[i]!);
    for (let i = 0; i < p.length; i++) {
      m[i] = m[i]! * beta1 + (1 - beta1) * g[i]!;
      v[i] = v[i]! * beta2 + (1 - beta2) * g[i]! * g[i]!;
    }
    const biasCorrection1 = 1 - beta1 ** step;
    const biasCorrection2Sqrt = Math.sqrt(1 - beta2 ** step);
    for (let i = 0; i < p.length; i++) {
      let second = v[i]!;
      if (o.amsgrad) {
        vMax[i] = Math.max(vMax[i]!, second);
        second = vMax[i]!;
      }
      p[i] = p[i]! - (o.lr / biasCorrection1) * (m[i]! / (Math.sqrt(second) / biasCorrection2Sqrt + o.eps));
    }
    trajectory.push([...p]);
  }
  return trajectory;
}

function run(optimizer: optim.Optimizer<optim.BaseOptions, object>, p: Tensor, steps: number): number[][] {
  const trajectory: number[][] = [];
  for (let step = 0; step < steps; step++) {
    optimizer.zeroGrad();
    p.grad = tensor(gradientAt(step, p.size), { dtype: 'float64' });
    optimizer.step();
    trajectory.push(Array.from(p.toFloat64Array()));
  }
  return trajectory;
}

const start = [0.5, -1.25, 2];

describe('exports', () => {
  it.each(['SGD', 'Adam', 'AdamW', 'RMSprop', 'Adagrad'])('%s is a class with step, zeroGrad, stateDict, loadStateDict', (name) => {
    const Class = (optim as unknown as Record<string, unknown>)[name] as { prototype: Record<string, unknown> };
    expect(typeof Class).toBe('function');
    for (const method of ['step', 'zeroGrad', 'stateDict', 'loadStateDict']) expect(typeof Class.prototype[method]).toBe('function');
  });
});

describe('SGD(params, { lr, momentum = 0, dampening = 0, nesterov = false, weightDecay = 0, maximize = false })', () => {
  it('defaults', () => {
    const sgd = new SGD([param(start)], { lr: 0.1 });
    expect(sgd.defaults).toEqual({ lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, maximize: false });
    expect(sgd.paramGroups[0]).toMatchObject({ lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, maximize: false });
  });

  const cases: [string, Partial<SGDReference>][] = [
    ['plain', {}],
    ['momentum', { momentum: 0.9 }],
    ['momentum + dampening', { momentum: 0.9, dampening: 0.3 }],
    ['nesterov', { momentum: 0.8, nesterov: true }],
    ['weightDecay', { weightDecay: 0.05, momentum: 0.5 }],
    ['maximize', { maximize: true, momentum: 0.7, weightDecay: 0.01 }],
  ];
  it.each(cases)('step for step as torch.optim.SGD: %s', (_, overrides) => {
    const options: SGDReference = { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, maximize: false, ...overrides };
    const p = param(start);
    const actual = run(new SGD([p], options), p, 5);
    sgdReference(start, 5, options).forEach((expected, step) => expectAllClose(actual[step]!, expected));
  });
});

describe('Adam(params, { lr = 1e-3, betas = [0.9, 0.999], eps = 1e-8, weightDecay = 0, amsgrad = false, maximize = false })', () => {
  it('defaults', () => {
    const adam = new Adam([param(start)]);
    expect(adam.defaults).toEqual({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false });
    expect(new Adam([param(start)], {}).defaults.lr).toBe(1e-3);
  });

  const cases: [string, Partial<AdamReference>][] = [
    ['defaults', {}],
    ['lr, betas, eps', { lr: 0.05, betas: [0.8, 0.99], eps: 1e-6 }],
    ['weightDecay (L2, added to the gradient)', { lr: 0.01, weightDecay: 0.1 }],
    ['amsgrad', { lr: 0.01, amsgrad: true }],
    ['maximize', { lr: 0.01, maximize: true }],
  ];
  it.each(cases)('step for step as torch.optim.Adam: %s', (_, overrides) => {
    const options: AdamReference = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, ...overrides };
    const p = param(start);
    const actual = run(new Adam([p], overrides), p, 6);
    adamReference(false, start, 6, options).forEach((expected, step) => expectAllClose(actual[step]!, expected));
  });
});

describe('AdamW(params, { lr = 1e-3, betas, eps, weightDecay = 1e-2, amsgrad, maximize })', () => {
  it('defaults: those of Adam but weightDecay 1e-2', () => {
    const adamw = new AdamW([param(start)]);
    expect(adamw.defaults).toEqual({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false });
  });

  const cases: [string, Partial<AdamReference>][] = [
    ['defaults (decoupled decay 1e-2)', {}],
    ['weightDecay 0.1, lr 0.05', { lr: 0.05, weightDecay: 0.1 }],
    ['amsgrad + maximize', { lr: 0.01, amsgrad: true, maximize: true }],
    ['betas, eps', { betas: [0.5, 0.9], eps: 1e-4 }],
  ];
  it.each(cases)('step for step as torch.optim.AdamW: %s', (_, overrides) => {
    const options: AdamReference = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false, ...overrides };
    const p = param(start);
    const actual = run(new AdamW([p], overrides), p, 6);
    adamReference(true, start, 6, options).forEach((expected, step) => expectAllClose(actual[step]!, expected));
  });
});

describe('schedulers', () => {
  it.each(['StepLR', 'ExponentialLR', 'CosineAnnealingLR', 'LinearLR', 'LambdaLR', 'MultiStepLR', 'OneCycleLR', 'SequentialLR',
    'CosineAnnealingWarmRestarts', 'ReduceLROnPlateau'])('%s is a class with step, getLastLr, stateDict, loadStateDict', (name) => {
    const Class = (optim as unknown as Record<string, unknown>)[name] as { prototype: Record<string, unknown> };
    expect(typeof Class).toBe('function');
    for (const method of ['step', 'getLastLr', 'stateDict', 'loadStateDict']) expect(typeof Class.prototype[method]).toBe('function');
  });
});

interface RMSpropReference { lr: number; alpha: number; eps: number; weightDecay: number; momentum: number; centered: boolean; maximize: boolean }

/** torch.optim.RMSprop, _single_tensor_rmsprop. */
function rmspropReference(start: number[], steps: number, o: RMSpropReference): number[][] {
  const p = [...start];
  const v = p.map(() => 0);
  const gAvg = p.map(() => 0);
  const b = p.map(() => 0);
  const trajectory: number[][] = [];
  for (let step = 0; step < steps; step++) {
    let g = gradientAt(step, p.length).map((x) => (o.maximize ? -x : x));
    if (o.weightDecay !== 0) g = g.map((x, i) => x + o.weightDecay * p[i]!);
    for (let i = 0; i < p.length; i++) {
      v[i] = v[i]! * o.alpha + (1 - o.alpha) * g[i]! * g[i]!;
      let avg: number;
      if (o.centered) {
        gAvg[i] = gAvg[i]! * o.alpha + (1 - o.alpha) * g[i]!;
        avg = Math.sqrt(v[i]! - gAvg[i]! * gAvg[i]!) + o.eps;
      } else {
        avg = Math.sqrt(v[i]!) + o.eps;
      }
      if (o.momentum > 0) {
        b[i] = b[i]! * o.momentum + g[i]! / avg;
        p[i] = p[i]! - o.lr * b[i]!;
      } else {
        p[i] = p[i]! - (o.lr * g[i]!) / avg;
      }
    }
    trajectory.push([...p]);
  }
  return trajectory;
}

describe('RMSprop(params, { lr = 1e-2, alpha = 0.99, eps = 1e-8, weightDecay = 0, momentum = 0, centered = false, maximize = false })', () => {
  it('defaults', () => {
    expect(new RMSprop([param(start)]).defaults).toEqual({ lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false });
  });

  const cases: [string, Partial<RMSpropReference>][] = [
    ['defaults', {}],
    ['alpha, eps', { alpha: 0.9, eps: 1e-3 }],
    ['weightDecay', { weightDecay: 0.1 }],
    ['momentum', { momentum: 0.9 }],
    ['centered', { centered: true }],
    ['centered + momentum + maximize', { centered: true, momentum: 0.5, maximize: true }],
  ];
  it.each(cases)('step for step as torch.optim.RMSprop: %s', (_, overrides) => {
    const options: RMSpropReference = { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false, ...overrides };
    const p = param(start);
    const actual = run(new RMSprop([p], overrides), p, 6);
    rmspropReference(start, 6, options).forEach((expected, step) => expectAllClose(actual[step]!, expected));
  });
});

interface AdagradReference { lr: number; lrDecay: number; weightDecay: number; initialAccumulatorValue: number; eps: number; maximize: boolean }

/** torch.optim.Adagrad, _single_tensor_adagrad. */
function adagradReference(start: number[], steps: number, o: AdagradReference): number[][] {
  const p = [...start];
  const sum = p.map(() => o.initialAccumulatorValue);
  const trajectory: number[][] = [];
  for (let step = 1; step <= steps; step++) {
    let g = gradientAt(step - 1, p.length).map((x) => (o.maximize ? -x : x));
    if (o.weightDecay !== 0) g = g.map((x, i) => x + o.weightDecay * p[i]!);
    const clr = o.lr / (1 + (step - 1) * o.lrDecay);
    for (let i = 0; i < p.length; i++) {
      sum[i] = sum[i]! + g[i]! * g[i]!;
      p[i] = p[i]! - (clr * g[i]!) / (Math.sqrt(sum[i]!) + o.eps);
    }
    trajectory.push([...p]);
  }
  return trajectory;
}

describe('Adagrad(params, { lr = 1e-2, lrDecay = 0, weightDecay = 0, initialAccumulatorValue = 0, eps = 1e-10, maximize = false })', () => {
  it('defaults, and state from construction as PyTorch', () => {
    const p = param(start);
    const adagrad = new Adagrad([p], { initialAccumulatorValue: 0.5 });
    expect(adagrad.defaults).toEqual({ lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0.5, eps: 1e-10, maximize: false });
    expect(adagrad.stateDict().state).toEqual({ 0: { step: 0, sum: [0.5, 0.5, 0.5] } });
  });

  const cases: [string, Partial<AdagradReference>][] = [
    ['defaults', {}],
    ['lrDecay', { lr: 0.1, lrDecay: 0.2 }],
    ['weightDecay', { weightDecay: 0.1 }],
    ['initialAccumulatorValue, eps', { initialAccumulatorValue: 0.3, eps: 1e-3 }],
    ['maximize', { maximize: true, lrDecay: 0.1 }],
  ];
  it.each(cases)('step for step as torch.optim.Adagrad: %s', (_, overrides) => {
    const options: AdagradReference = { lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10, maximize: false, ...overrides };
    const p = param(start);
    const actual = run(new Adagrad([p], overrides), p, 6);
    adagradReference(start, 6, options).forEach((expected, step) => expectAllClose(actual[step]!, expected));
  });
});

describe('optimizer.step(), zeroGrad(), stateDict(), loadStateDict(sd)', () => {
  it('step() skips parameters without a gradient; zeroGrad() sets every grad to null', () => {
    const a = param([1, 2]);
    const b = param([3]);
    const sgd = new SGD([a, b], { lr: 0.5 });
    a.grad = tensor([1, 1], { dtype: 'float64' });
    sgd.step();
    expect(a.toArray()).toEqual([0.5, 1.5]);
    expect(b.toArray()).toEqual([3]);
    sgd.zeroGrad();
    expect(a.grad).toBeNull();
    expect(b.grad).toBeNull();
  });

  it('step() updates the parameter in place (the same Tensor)', () => {
    const p = param([1]);
    const before = p;
    const adam = new Adam([p], { lr: 0.1 });
    p.grad = tensor([1], { dtype: 'float64' });
    adam.step();
    expect(p).toBe(before);
    expect(p.item()).toBeCloseTo(0.9, 8); // 1 − 0.1 · 1 / (1 + 1e-8)
  });

  for (const [name, make] of [
    ['SGD', (p: Tensor) => new SGD([p], { lr: 0.1, momentum: 0.9 })],
    ['Adam', (p: Tensor) => new Adam([p], { lr: 0.05, amsgrad: true })],
    ['AdamW', (p: Tensor) => new AdamW([p], { lr: 0.05 })],
    ['RMSprop', (p: Tensor) => new RMSprop([p], { momentum: 0.5, centered: true })],
    ['Adagrad', (p: Tensor) => new Adagrad([p], { lrDecay: 0.1, initialAccumulatorValue: 0.1 })],
  ] as const) {
    it(`${name}: a stateDict (through JSON) loaded into a fresh optimizer continues the exact trajectory`, () => {
      const p = param(start);
      const optimizer = make(p);
      run(optimizer as unknown as optim.Optimizer<optim.BaseOptions, object>, p, 3);
      const saved = JSON.parse(JSON.stringify(optimizer.stateDict())) as optim.OptimizerStateDict;
      expect(saved.paramGroups).toHaveLength(1);
      expect(saved.paramGroups[0]!.params).toEqual([0]);
      expect(Object.keys(saved.state)).toEqual(['0']);
      const continued: number[][] = [];
      for (let step = 3; step < 6; step++) {
        p.grad = tensor(gradientAt(step, 3), { dtype: 'float64' });
        optimizer.step();
        continued.push(Array.from(p.toFloat64Array()));
      }

      const q = param(start);
      const resumed = make(q);
      run(resumed as unknown as optim.Optimizer<optim.BaseOptions, object>, q, 3);
      const fresh = param(Array.from(q.toFloat64Array()));
      const loaded = make(fresh);
      loaded.loadStateDict(saved);
      for (let step = 3; step < 6; step++) {
        fresh.grad = tensor(gradientAt(step, 3), { dtype: 'float64' });
        loaded.step();
        expectAllClose(fresh.toFloat64Array(), continued[step - 3]!);
      }
    });
  }

  it('loadStateDict restores group options such as lr', () => {
    const source = new SGD([param([1])], { lr: 0.25 });
    const target = new SGD([param([1])], { lr: 0.1 });
    target.loadStateDict(source.stateDict());
    expect(target.paramGroups[0]!.lr).toBe(0.25);
  });
});
