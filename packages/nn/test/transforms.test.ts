/**
 * Function transforms through every norm: the two open PyTorch forward-mode cases, third-order
 * derivatives in every nesting of forward and reverse mode against finite differences, forward
 * mode through BatchRenorm's stopGradient values, and functionalCall.
 */
import { arange, assignInPlace, customOp, grad, hvp, jvp, noGrad, recordStopGradients, stack, tensor, withFrozenStopGradients, type Tensor } from '@normgrad/core';
import { checkLayer } from '@normgrad/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BatchNorm1d,
  LayerNorm,
  Linear,
  ReLU,
  Sequential,
  batchNorm,
  batchRenorm,
  functionalCall,
  layerNorm,
  mseLoss,
  rmsNorm,
  switchableNorm,
  standardizeWeight,
} from '../src/index.js';
import { normSpecs, type NormProblem } from './norm-specs.js';
import { seededTensor } from './helpers.js';

const f64 = (data: number | number[] | number[][]): Tensor => tensor(data, { dtype: 'float64' });
const one = f64(1);

describe('the open PyTorch forward-mode cases', () => {
  it('nested jvp of batch norm (pytorch#196699): −0.20703015646993195, where torch gives −2.13', () => {
    const f = (t: Tensor): Tensor => {
      const x = stack(Array.from({ length: 8 }, (_, i) => t.mul(i + 1).add(t.square().mul((i % 3) - 1)).add(i))).reshape([2, 2, 2]);
      const y = batchNorm(x, null, null, { weight: f64([1.5, -0.5]), bias: f64([0.25, 1]), training: true, momentum: 0.1, eps: 0.25 });
      return y.mul(arange(1, 9, 1, { dtype: 'float64' }).reshape([2, 2, 2])).sum();
    };
    const first = (t: Tensor) => jvp(f, [t], [one])[1];
    const [, second] = jvp(first, [f64(-6)], [one]);
    expect(second.item()).toBeCloseTo(-0.20703015646993195, 12);
    // and the same second derivative by the other three nestings
    expect(grad((t: Tensor) => grad(f)(t))(f64(-6)).item()).toBeCloseTo(-0.20703015646993195, 12);
    expect(jvp((t: Tensor) => grad(f)(t), [f64(-6)], [one])[1].item()).toBeCloseTo(-0.20703015646993195, 12);
    expect(grad(first)(f64(-6)).item()).toBeCloseTo(-0.20703015646993195, 12);
  });

  it('second-order jvp of layer norm (pytorch#196700): +0.7749142079590942 (d²/dt² of −t/√(1+t²)), where torch has the sign wrong', () => {
    const f = (t: Tensor): Tensor => {
      const x = stack([t, f64(0)]).reshape([1, 2]);
      return layerNorm(x, [2], { weight: f64([1, 2]), bias: f64([0, 0]), eps: 0.25 }).sum();
    };
    const first = (t: Tensor) => jvp(f, [t], [one])[1];
    const [value, second] = jvp(first, [f64(0.7)], [one]);
    expect(value.item()).toBeCloseTo(-1 / (1 + 0.7 ** 2) ** 1.5, 12);
    expect(second.item()).toBeCloseTo(0.7749142079590942, 12);
    expect(second.item()).toBeCloseTo((3 * 0.7) / (1 + 0.7 ** 2) ** 2.5, 12);
  });
});

type Inputs = readonly Tensor[];
type Scalar = (...inputs: Tensor[]) => Tensor;

/** The directional derivative of a scalar function along `direction`, by forward ('f') or reverse ('r') mode. */
function derivative(fn: Scalar, direction: Inputs, mode: 'f' | 'r'): Scalar {
  if (mode === 'f') return (...xs) => jvp(fn, xs, direction)[1];
  const argnums = direction.map((_, index) => index);
  return (...xs) => grad(fn, { argnums, allowUnused: true })(...xs).reduce((total: Tensor, g, index) => total.add(g.mul(direction[index]!).sum()), f64(0));
}

function shiftedBy(inputs: Inputs, direction: Inputs, scale: number): Tensor[] {
  return inputs.map((input, index) => input.add(direction[index]!.mul(scale)));
}

/**
 * D³s[u, v, w] of s = ⟨norm(inputs), g⟩ in every nesting of the two modes, against central
 * differences of D²s[u, v] (forward-over-forward) along w. Returns the largest relative error.
 */
function thirdOrderAllModes(problem: NormProblem, seed: number): { error: number; scale: number; worst: string } {
  const { fn, inputs } = problem;
  const out = fn(...inputs);
  const g = seededTensor(out.shape, seed + 1);
  const s: Scalar = (...xs) => fn(...xs).mul(g).sum();
  const [u, v, w] = [2, 3, 4].map((k) => inputs.map((input, index) => seededTensor(input.shape, seed * 11 + k * 101 + index)));
  const second = derivative(derivative(s, u!, 'f'), v!, 'f');
  const h = 1e-4;
  const numeric = (second(...shiftedBy(inputs, w!, h)).item() - second(...shiftedBy(inputs, w!, -h)).item()) / (2 * h);
  let error = 0;
  let worst = '';
  for (const modes of ['fff', 'ffr', 'frf', 'rff', 'frr', 'rfr', 'rrf', 'rrr'] as const) {
    const [inner, middle, outer] = [...modes] as ('f' | 'r')[];
    const third = derivative(derivative(derivative(s, u!, inner!), v!, middle!), w!, outer!);
    const analytic = third(...inputs).item();
    const relative = Math.abs(analytic - numeric) / (1 + Math.abs(numeric));
    if (relative > error) [error, worst] = [relative, `${modes}: ${analytic} vs ${numeric}`];
  }
  return { error, scale: Math.abs(numeric), worst };
}

describe('third derivatives of every norm in every nesting of forward and reverse mode (float64, finite differences)', () => {
  for (const spec of normSpecs) {
    for (const mode of spec.modes) {
      it(`${spec.name} (${mode})`, () => {
        fc.assert(
          fc.property(spec.config, fc.integer({ min: 0, max: 1e6 }), (config, seed) => {
            const problem = spec.build(config, mode, seed);
            const { error, worst } = thirdOrderAllModes(problem, seed);
            expect(error, `${problem.description}: ${worst}`).toBeLessThan(1e-6);
          }),
          { numRuns: 3, seed: 1201 },
        );
      });
    }
  }

  const x = seededTensor([3, 2, 4], 5, { scale: 2, offset: 0.3 });
  const weight = seededTensor([2], 6, { scale: 0.5, offset: 1 });
  const bias = seededTensor([2], 7, { scale: 0.5 });
  const research: [string, NormProblem][] = [
    ['rmsNorm', { description: 'rmsNorm', inputs: [x, seededTensor([4], 8, { offset: 1 })], fn: (xi, wi) => rmsNorm(xi, [4], { weight: wi!, eps: 1e-3 }) }],
    ['switchableNorm (train)', {
      description: 'switchableNorm',
      inputs: [x, weight, bias, f64([0.2, 0.5, 0.3])],
      fn: (xi, wi, bi, mix) => switchableNorm(xi, { meanWeights: mix!, varWeights: f64([0.6, 0.1, 0.3]), weight: wi!, bias: bi!, training: true, eps: 1e-3 }),
    }],
    // rMax = 1, dMax = 0 clip r and d to the constants 1 and 0, so finite differences see them fixed
    ['batchRenorm (train)', { description: 'batchRenorm', inputs: [x, weight, bias], fn: (xi, wi, bi) => batchRenorm(xi, f64([0.1, -0.2]), f64([1.5, 0.7]), { weight: wi!, bias: bi!, training: true, rMax: 1, dMax: 0 }) }],
    ['standardizeWeight', { description: 'standardizeWeight', inputs: [seededTensor([3, 2, 2, 2], 9)], fn: (wi) => standardizeWeight(wi!) }],
  ];
  for (const [name, problem] of research) {
    it(name, () => {
      const { error, scale, worst } = thirdOrderAllModes(problem, 3);
      expect(scale).toBeGreaterThan(1e-3);
      expect(error, worst).toBeLessThan(1e-6);
    });
  }
});

describe('stopGradient holds in forward mode', () => {
  it("BatchRenorm's r and d carry no tangent: jvp equals central differences with r and d held at their values", () => {
    const x = seededTensor([4, 2, 3], 11, { scale: 2, offset: 0.5 });
    const t = seededTensor([4, 2, 3], 12);
    const stats = () => [f64([0.3, -0.4]), f64([0.5, 3])] as const; // clipping active in both channels
    const renorm = (xi: Tensor) => {
      const [mean, variance] = stats();
      return batchRenorm(xi, mean, variance, { training: true, rMax: 1.5, dMax: 0.5 });
    };
    const [, tangent] = jvp(renorm, [x], [t]);
    const [, frozen] = recordStopGradients(() => renorm(x));
    expect(frozen.length).toBe(2);
    const h = 1e-6;
    const at = (scale: number) => withFrozenStopGradients(frozen, () => renorm(x.add(t.mul(scale))));
    const numeric = at(h).sub(at(-h)).div(2 * h);
    const gap = tangent.sub(numeric).abs().max().item();
    expect(gap).toBeLessThan(1e-7);
    // with r and d moving (no freezing) the directional derivative differs: the check can fail
    const moving = renorm(x.add(t.mul(h))).sub(renorm(x.add(t.mul(-h)))).div(2 * h);
    expect(tangent.sub(moving).abs().max().item()).toBeGreaterThan(1e-3);
  });
});

describe('functionalCall', () => {
  const build = () => new Sequential(new Linear(3, 4, { dtype: 'float64' }), new BatchNorm1d(4, { dtype: 'float64' }), new ReLU(), new Linear(4, 1, { dtype: 'float64' }));
  const x = seededTensor([6, 3], 21);
  const y = seededTensor([6, 1], 22);

  it('runs the module with substituted parameters, restores its own afterwards, and grad through params equals backward', () => {
    const model = build();
    const named = model.namedParameters();
    const originals = named.map(([, p]) => p);
    const params = Object.fromEntries(named.map(([name, p]) => [name, p.detach().mul(1.5)]));
    const output = functionalCall(model, params, x);
    model.namedParameters().forEach(([, p], index) => expect(p).toBe(originals[index]));
    const reference = build();
    noGrad(() => reference.namedParameters().forEach(([name, p]) => assignInPlace(p, params[name]!)));
    expect(Array.from(output.toFloat64Array())).toEqual(Array.from(reference.forward(x).toFloat64Array()));
    const names = named.map(([name]) => name);
    const loss = (...ps: Tensor[]) => mseLoss(functionalCall(model, Object.fromEntries(names.map((n, i) => [n, ps[i]!])), x), y);
    const gradients = grad(loss, { argnums: names.map((_, i) => i) })(...names.map((n) => params[n]!));
    mseLoss(reference.forward(x), y).backward();
    reference.parameters().forEach((p, index) => expect(gradients[index]!.sub(p.grad!).abs().max().item()).toBeLessThan(1e-12));
  });

  it('makes hvp over a network’s parameters possible: hvp equals finite differences of the gradient', () => {
    const model = build().eval();
    const names = model.namedParameters().map(([name]) => name);
    const loss = (...ps: Tensor[]) => mseLoss(functionalCall(model, Object.fromEntries(names.map((n, i) => [n, ps[i]!])), x), y);
    const ps = model.parameters().map((p) => p.detach());
    const vs = ps.map((p, i) => seededTensor(p.shape, 30 + i));
    const products = hvp(loss, ps, vs);
    const h = 1e-5;
    const gradientAt = (scale: number) => grad(loss, { argnums: names.map((_, i) => i) })(...ps.map((p, i) => p.add(vs[i]!.mul(scale))));
    const [plus, minus] = [gradientAt(h), gradientAt(-h)];
    products.forEach((product, i) => expect(product.sub(plus[i]!.sub(minus[i]!).div(2 * h)).abs().max().item()).toBeLessThan(1e-6));
  });

  it('substitutes buffers too (eval mode normalizes with the given running statistics)', () => {
    const model = build().eval();
    const mean = seededTensor([4], 40);
    const variance = seededTensor([4], 41, { scale: 0.2, offset: 1 });
    const output = functionalCall(model, { '1.runningMean': mean, '1.runningVar': variance }, x);
    const reference = build().eval();
    noGrad(() => {
      model.parameters().forEach((p, index) => assignInPlace(reference.parameters()[index]!, p));
      assignInPlace((reference.modules()[2] as BatchNorm1d).runningMean!, mean);
      assignInPlace((reference.modules()[2] as BatchNorm1d).runningVar!, variance);
    });
    expect(output.sub(reference.forward(x)).abs().max().item()).toBe(0);
  });

  it('never writes into the caller’s buffers: a training-mode update of a substituted buffer is an Error naming it; an omitted buffer is the module’s own, updated as usual', () => {
    const model = build().train();
    const mean = seededTensor([4], 40);
    const before = Array.from(mean.toFloat64Array());
    expect(() => functionalCall(model, { '1.runningMean': mean }, x)).toThrow(/^functionalCall: the forward wrote into buffer '1\.runningMean'/);
    expect(Array.from(mean.toFloat64Array())).toEqual(before);
    const bn = model.modules()[2] as BatchNorm1d;
    expect(bn.runningMean).not.toBe(mean);
    const ownBefore = Array.from(bn.runningMean!.toFloat64Array());
    functionalCall(model, {}, x);
    expect(Array.from(bn.runningMean!.toFloat64Array())).not.toEqual(ownBefore);
  });

  it('restores the module when the forward throws, and rejects unknown names, shapes and non-tensors', () => {
    const model = build();
    const weight = model.namedParameters()[0]![1];
    expect(() => functionalCall(model, { '0.weight': seededTensor([4, 3], 1) }, seededTensor([2, 5], 2))).toThrow();
    expect(model.namedParameters()[0]![1]).toBe(weight);
    expect(() => functionalCall(model, { '0.weigth': weight }, x)).toThrow(/^functionalCall: unknown .*'0\.weigth'.*did you mean '0\.weight'/);
    expect(() => functionalCall(model, { '0.weight': seededTensor([3, 4], 1) }, x)).toThrow(/^functionalCall: params\['0\.weight'\] is float64 \[3, 4\] but the module's parameter is float64 \[4, 3\]/);
    expect(() => functionalCall(model, { '0.weight': 3 as unknown as Tensor }, x)).toThrow(/^functionalCall: params\['0\.weight'\] must be a Tensor, got number/);
  });

  it('replaces a tied tensor in every field that holds it', () => {
    const shared = new Linear(2, 2, { bias: false, dtype: 'float64' });
    const model = new Sequential(shared, new ReLU(), shared);
    expect(model.namedParameters().map(([name]) => name)).toEqual(['0.weight']);
    const w = f64([[1, 0], [0, 2]]);
    const input = f64([[1, 3]]);
    expect(functionalCall(model, { '0.weight': w }, input).toArray()).toEqual([[1, 12]]);
  });
});

describe('checkLayer({ forwardAd })', () => {
  it('checks forward mode of LayerNorm to second order', () => {
    const report = checkLayer(() => new LayerNorm([3], { dtype: 'float64' }), { inputShapes: [[2, 3]], order: 2, modes: ['train'], forwardAd: true, runs: 2 });
    expect(report.checks).toBe(4);
  });

  it('fails a layer whose forward-mode rule is wrong, naming forward mode; reverse mode alone passes it', () => {
    // x³ with a JVP rule of 2x² (instead of 3x²)
    const cube = customOp({
      name: 'cube',
      forward: (x) => tensor(Array.from({ length: x.size }, (_, i) => (x.data[x.offset + i] ?? 0) ** 3), { dtype: 'float64', shape: x.shape }).data,
      vjp: (g, [x]) => [g.mul(x!.square()).mul(3)],
      jvp: ([t], [x]) => t!.mul(x!.square()).mul(2),
    });
    class Cube extends LayerNorm {
      override forward(x: Tensor): Tensor {
        return cube(super.forward(x).clone()); // clone: a contiguous input for the raw forward
      }
    }
    const options = { inputShapes: [[2, 3]], modes: ['train'] as const, runs: 1 };
    expect(checkLayer(() => new Cube([3], { dtype: 'float64' }), options).checks).toBe(1);
    expect(() => checkLayer(() => new Cube([3], { dtype: 'float64' }), { ...options, forwardAd: true })).toThrow(/^checkLayer: order-1 forward-mode \(jvp\) gradient check failed/);
  });
});
