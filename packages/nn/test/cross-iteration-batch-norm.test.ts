import { assignInPlace, concat, noGrad, randn, tensor, type Tensor } from '@normgrad/core';
import { checkLayer } from '@normgrad/testing';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BatchNorm2d, Conv2d, CrossIterationBatchNorm2d, Linear, Sequential } from '../src/index.js';
import { expectAllclose, fromFixture, type FixtureTensor } from './helpers.js';

interface Step {
  input: FixtureTensor;
  producer: Record<string, FixtureTensor>;
  weight: FixtureTensor;
  bias: FixtureTensor;
  g: FixtureTensor;
  y: FixtureTensor;
  gradInput: FixtureTensor;
  gradProducer: Record<string, FixtureTensor>;
  gradWeight: FixtureTensor;
  gradBias: FixtureTensor;
  runningMean: FixtureTensor;
  runningVar: FixtureTensor;
  /** Channels of past iterations where the reference's max(ν, μ²) guard was active. */
  clamped: number;
}

interface RunCase {
  name: string;
  inputShape: number[];
  outChannels: number;
  kernel: number;
  padding: number;
  convBias: boolean;
  window: number;
  burnIn: number;
  momentum: number | null;
  eps: number;
  steps: Step[];
  eval: { input: FixtureTensor; producer: Record<string, FixtureTensor>; weight: FixtureTensor; bias: FixtureTensor; y: FixtureTensor };
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/cross_iteration_bn.json', import.meta.url), 'utf8')) as { cases: RunCase[] };
const f64 = { dtype: 'float64' } as const;

function setValues(target: Tensor, values: FixtureTensor): void {
  noGrad(() => assignInPlace(target, fromFixture(values)));
}

function layerOf(c: RunCase): CrossIterationBatchNorm2d {
  const producer = new Conv2d(c.inputShape[1]!, c.outChannels, c.kernel, { padding: c.padding, bias: c.convBias, ...f64 });
  return new CrossIterationBatchNorm2d(c.outChannels, { producer, window: c.window, burnIn: c.burnIn, momentum: c.momentum, eps: c.eps, ...f64 });
}

describe('CrossIterationBatchNorm2d', () => {
  describe('training runs against the paper written in plain torch ops (raw moments, autograd gradients; float64)', () => {
    for (const c of fixture.cases) {
      it(c.name, () => {
        const layer = layerOf(c);
        const producer = layer.producer as Conv2d;
        let worst = 0;
        c.steps.forEach((step, index) => {
          const label = `${c.name}, step ${index + 1}`;
          setValues(producer.weight, step.producer.weight!);
          if (producer.bias) setValues(producer.bias, step.producer.bias!);
          setValues(layer.weight!, step.weight);
          setValues(layer.bias!, step.bias);
          const input = fromFixture(step.input, 'float64', true);
          const leaves = [input, producer.weight, ...(producer.bias ? [producer.bias] : []), layer.weight!, layer.bias!];
          for (const leaf of leaves) leaf.grad = null;
          const y = layer.forward(input);
          y.mul(fromFixture(step.g)).sum().backward();
          expectAllclose(y, step.y, `${label} y`);
          expectAllclose(input.grad, step.gradInput, `${label} grad input`);
          expectAllclose(producer.weight.grad, step.gradProducer.weight, `${label} grad producer.weight`);
          if (producer.bias) expectAllclose(producer.bias.grad, step.gradProducer.bias, `${label} grad producer.bias`);
          expectAllclose(layer.weight!.grad, step.gradWeight, `${label} grad weight`);
          expectAllclose(layer.bias!.grad, step.gradBias, `${label} grad bias`);
          expectAllclose(layer.runningMean, step.runningMean, `${label} runningMean`);
          expectAllclose(layer.runningVar, step.runningVar, `${label} runningVar`);
          const expected = Float64Array.from(step.y.data);
          y.toFloat64Array().forEach((value, i) => (worst = Math.max(worst, Math.abs(value - expected[i]!))));
        });
        expect(layer.history.length).toBe(Math.min(c.window - 1, c.steps.length - c.burnIn));
        layer.eval();
        setValues(producer.weight, c.eval.producer.weight!);
        if (producer.bias) setValues(producer.bias, c.eval.producer.bias!);
        setValues(layer.weight!, c.eval.weight);
        setValues(layer.bias!, c.eval.bias);
        expectAllclose(layer.forward(fromFixture(c.eval.input)), c.eval.y, `${c.name} eval y`);
        expect(worst).toBeLessThan(1e-12);
        expect(c.steps.some((step) => step.clamped > 0), 'the max(ν, μ²) guard is exercised').toBe(true);
      });
    }
  });

  function pair(window: number, burnIn = 0): { cibn: CrossIterationBatchNorm2d; conv: Conv2d; bn: BatchNorm2d } {
    const conv = new Conv2d(2, 3, 2, f64);
    const cibn = new CrossIterationBatchNorm2d(3, { producer: conv, window, burnIn, ...f64 });
    noGrad(() => {
      assignInPlace(cibn.weight!, randn([3], { ...f64, seed: 3 }).mul(0.3).add(1));
      assignInPlace(cibn.bias!, randn([3], { ...f64, seed: 4 }).mul(0.3));
    });
    const bn = new BatchNorm2d(3, f64);
    noGrad(() => {
      assignInPlace(bn.weight!, cibn.weight!);
      assignInPlace(bn.bias!, cibn.bias!);
    });
    return { cibn, conv, bn };
  }

  /** Max |a − b| over the output and the gradients of sum(y · g) w.r.t. input, conv weight and bias, weight, bias. */
  function difference(run: (input: Tensor) => Tensor, other: (input: Tensor) => Tensor, input: Tensor, leaves: [Tensor[], Tensor[]]): number {
    const g = randn([2, 3, 2, 2], { ...f64, seed: 9 });
    const results = [run, other].map((f, i) => {
      const x = input.detach();
      x.requiresGrad = true;
      const y = f(x);
      y.mul(g).sum().backward();
      const values = [y, x.grad!, ...leaves[i]!.map((p) => p.grad!)];
      for (const p of leaves[i]!) p.grad = null;
      return values.map((t) => t.toFloat64Array());
    });
    let worst = 0;
    results[0]!.forEach((a, k) => a.forEach((value, i) => (worst = Math.max(worst, Math.abs(value - results[1]![k]![i]!)))));
    return worst;
  }

  it('with window 1 (and during burnIn) equals Conv2d + BatchNorm2d bit for bit in output, gradients and running statistics', () => {
    for (const [window, burnIn] of [[1, 0], [4, 3]] as const) {
      const { cibn, conv, bn } = pair(window, burnIn);
      for (let step = 0; step < 3; step++) {
        const input = randn([2, 2, 3, 3], { ...f64, seed: 20 + step }).add(0.5);
        const worst = difference((x) => cibn.forward(x), (x) => bn.forward(conv.forward(x)), input, [
          [conv.weight, conv.bias!, cibn.weight!, cibn.bias!],
          [conv.weight, conv.bias!, bn.weight!, bn.bias!],
        ]);
        expect(worst).toBe(0);
        expect(cibn.runningMean!.toFloat64Array()).toEqual(bn.runningMean!.toFloat64Array());
        expect(cibn.runningVar!.toFloat64Array()).toEqual(bn.runningVar!.toFloat64Array());
        noGrad(() => assignInPlace(conv.weight, conv.weight.mul(0.9).add(0.05)));
      }
      expect(cibn.history).toHaveLength(0);
    }
  });

  it('with unchanged parameters and the same batch every iteration normalizes as BatchNorm2d (compensation zero, equal statistics)', () => {
    const { cibn, conv, bn } = pair(4);
    const input = randn([2, 2, 3, 3], { ...f64, seed: 30 }).mul(2).add(3);
    const expected = bn.forward(conv.forward(input)).toFloat64Array();
    for (let step = 0; step < 5; step++) {
      const y = cibn.forward(input).toFloat64Array();
      y.forEach((value, i) => expect(Math.abs(value - expected[i]!)).toBeLessThan(1e-14));
    }
    expect(cibn.history).toHaveLength(3);
  });

  it('closed form for a linear producer and a repeated batch: μ̄ = μ_t, σ̄² = (Var_t + max(Var_p + 2 Cov(x_p, Δx) − (Δμ)², 0)) / 2', () => {
    // x = conv(input; θ) is linear in the weight, so with the same input the compensation sees Δx = x_t − x_p exactly
    const { cibn, conv } = pair(2);
    const input = randn([2, 2, 3, 3], { ...f64, seed: 31 }).add(1);
    const past = noGrad(() => conv.forward(input));
    cibn.forward(input);
    noGrad(() => assignInPlace(conv.weight, conv.weight.add(randn(conv.weight.shape, { ...f64, seed: 32 }).mul(0.1))));
    const y = cibn.forward(input);
    const expected = noGrad(() => {
      const x = conv.forward(input);
      const axes = [0, 2, 3];
      const change = x.sub(past);
      const pastVariance = past.sub(past.mean(axes, true)).square().mean(axes, true);
      const covariance = past.sub(past.mean(axes, true)).mul(change).mean(axes, true);
      const compensated = pastVariance.add(covariance.mul(2)).sub(change.mean(axes, true).square()).maximum(0);
      const variance = x.sub(x.mean(axes, true)).square().mean(axes, true).add(compensated).div(2);
      return x.sub(x.mean(axes, true)).div(variance.add(cibn.eps).sqrt()).mul(cibn.weight!.reshape([1, 3, 1, 1])).add(cibn.bias!.reshape([1, 3, 1, 1]));
    });
    expectAllclose(y, expected, 'closed form', { atol: 1e-13, rtol: 0 });
  });

  it('checkLayer to order 3 in train and eval (past statistics are stopGradient constants), forward mode too', () => {
    // A fixed history of two past iterations (other parameters, other inputs), shared by every fresh layer.
    const conv0 = new Conv2d(1, 2, 1, f64);
    const prepared = new CrossIterationBatchNorm2d(2, { producer: conv0, window: 3, ...f64 });
    for (let step = 0; step < 2; step++) {
      noGrad(() => assignInPlace(conv0.weight, randn(conv0.weight.shape, { ...f64, seed: 40 + step }).mul(0.5)));
      prepared.forward(randn([2, 1, 1, 2], { ...f64, seed: 50 + step }).add(0.5));
    }
    const report = checkLayer(
      () => {
        const layer = new CrossIterationBatchNorm2d(2, { producer: new Conv2d(1, 2, 1, f64), window: 3, ...f64 });
        layer.history = prepared.history;
        return layer;
      },
      { inputShapes: [[2, 1, 1, 2]], order: 3, runs: 1, warmupForwards: 1, forwardAd: true },
    );
    expect(report.checks).toBe(6);
  });

  it('float32 at mean 1e4, spread 1: within 1e-5 of float64 on the same data (raw moments E[x²] − E[x]² would lose every digit)', () => {
    // An exact producer: channel 0 of the input near 1e4, channel 1 small multiples of 2^-6, and a 1x1
    // convolution whose changing weights are multiples of 2^-4 (2^-3), so every product and sum is a float32 number.
    const data = Array.from({ length: 5 }, (_, step) => {
      const large = randn([2, 1, 3, 3], { dtype: 'float64', seed: 70 + step }).add(1e4).to('float32').to('float64');
      const sixtyFourths = randn([2, 1, 3, 3], { dtype: 'float64', seed: 80 + step }).toFloat64Array().map((value) => Math.round(value * 64) / 64);
      const small = tensor(sixtyFourths, { shape: [2, 1, 3, 3], dtype: 'float64' });
      return concat([large, small], 1);
    });
    const run = (dtype: 'float32' | 'float64'): Float64Array[] => {
      const conv = new Conv2d(2, 2, 1, { dtype, bias: false });
      const layer = new CrossIterationBatchNorm2d(2, { producer: conv, window: 3, dtype });
      return data.map((input, step) => {
        noGrad(() => assignInPlace(conv.weight, tensor([[[[1]], [[(step % 3) / 16]]], [[[2]], [[1 - step / 8]]]], { dtype })));
        return layer.forward(input.to(dtype)).toFloat64Array();
      });
    };
    const [single, double] = [run('float32'), run('float64')];
    let worst = 0;
    single.forEach((y, step) => y.forEach((value, i) => (worst = Math.max(worst, Math.abs(value - double[step]![i]!)))));
    expect(worst).toBeLessThan(1e-5);
  });

  it('inside a Sequential, with a state dict that carries iterations (for burnIn) but not the history', () => {
    const model = new Sequential(new CrossIterationBatchNorm2d(3, { producer: new Conv2d(2, 3, 2, f64), window: 2, burnIn: 1, ...f64 }));
    model.forward(randn([2, 2, 3, 3], { ...f64, seed: 80 }));
    const keys = Object.keys(model.stateDict()).sort();
    expect(keys).toEqual(['0.bias', '0.iterations', '0.numBatchesTracked', '0.producer.bias', '0.producer.weight', '0.runningMean', '0.runningVar', '0.weight'].sort());
    expect(String(model)).toContain('(0): CrossIterationBatchNorm2d(\n    3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True, window=2, burn_in=1\n    (producer): Conv2d(2, 3');
  });

  it('rejects bad options, producers and inputs with errors naming the layer', () => {
    const conv = new Conv2d(2, 3, 2, f64);
    const make = (options: object) => () => new CrossIterationBatchNorm2d(3, { producer: conv, ...options } as never);
    expect(() => new CrossIterationBatchNorm2d(3, undefined as never)).toThrow(/^CrossIterationBatchNorm2d: options with producer/);
    expect(make({ windw: 2 })).toThrow(/^CrossIterationBatchNorm2d: unknown option 'windw' \(did you mean 'window'\?\)/);
    expect(make({ window: 0 })).toThrow(/^CrossIterationBatchNorm2d: window must be a positive integer, got 0/);
    expect(make({ burnIn: -1 })).toThrow(/^CrossIterationBatchNorm2d: burnIn must be an integer >= 0, got -1/);
    expect(make({ eps: -1 })).toThrow(/^CrossIterationBatchNorm2d: eps must be/);
    expect(make({ momentum: 2 })).toThrow(/^CrossIterationBatchNorm2d: momentum must be in \[0, 1\] or null, got 2/);
    expect(make({ producer: null })).toThrow(/^CrossIterationBatchNorm2d: options.producer must be the Module/);
    expect(make({ producer: new BatchNorm2d(3) })).toThrow(/^CrossIterationBatchNorm2d: the producer must hold no buffers .* runningMean, runningVar/);
    expect(() => new CrossIterationBatchNorm2d(0, { producer: conv })).toThrow(/^CrossIterationBatchNorm2d: numFeatures must be a positive integer, got 0/);
    const layer = new CrossIterationBatchNorm2d(4, { producer: conv, ...f64 });
    expect(() => layer.forward(randn([2, 2, 3, 3], f64))).toThrow(/^CrossIterationBatchNorm2d: expected 4 channels \(numFeatures\) on axis 1, got input of shape \[2, 3, 2, 2\]/);
    const flat = new CrossIterationBatchNorm2d(3, { producer: new Linear(2, 3, f64), ...f64 });
    expect(() => flat.forward(randn([2, 2], f64))).toThrow(/^CrossIterationBatchNorm2d: expected the producer to return a 4D \(N, C, H, W\) tensor, got 2D output of shape \[2, 3\]/);
    const single = new CrossIterationBatchNorm2d(3, { producer: new Conv2d(2, 3, 3, f64), ...f64 });
    expect(() => single.forward(randn([1, 2, 3, 3], f64))).toThrow(/^CrossIterationBatchNorm2d: Expected more than 1 value per channel when training/);
    const float32 = new CrossIterationBatchNorm2d(3, { producer: conv });
    expect(() => float32.forward(randn([2, 2, 3, 3], f64))).toThrow(/^CrossIterationBatchNorm2d: weight has dtype float32 but the input has dtype float64/);
    const recorded = new CrossIterationBatchNorm2d(3, { producer: conv, window: 2, ...f64 });
    recorded.forward(randn([2, 2, 3, 3], f64));
    const other = new CrossIterationBatchNorm2d(3, { producer: new Conv2d(2, 3, 1, f64), window: 2, ...f64 });
    other.history = recorded.history;
    expect(() => other.forward(randn([2, 2, 3, 3], f64))).toThrow(/^CrossIterationBatchNorm2d: the producer's parameters \(weight \[3, 2, 1, 1\], bias \[3\]\) differ from those of the stored iterations \(weight \[3, 2, 2, 2\], bias \[3\]\); call resetHistory\(\)/);
  });

  it('without running statistics eval normalizes with the batch (as BatchNorm2d); without affine there are no weight and bias', () => {
    const conv = new Conv2d(2, 3, 2, f64);
    const layer = new CrossIterationBatchNorm2d(3, { producer: conv, window: 2, trackRunningStats: false, affine: false, ...f64 });
    const bn = new BatchNorm2d(3, { trackRunningStats: false, affine: false, ...f64 });
    const input = randn([2, 2, 3, 3], { ...f64, seed: 90 });
    layer.forward(input);
    layer.eval();
    bn.eval();
    expect(layer.namedParameters().map(([name]) => name)).toEqual(['producer.weight', 'producer.bias']);
    const y = layer.forward(input.add(1)).toFloat64Array();
    const expected = bn.forward(conv.forward(input.add(1))).toFloat64Array();
    y.forEach((value, i) => expect(Math.abs(value - expected[i]!)).toBeLessThanOrEqual(1e-15));
  });

  it('an empty batch returns an empty output and records nothing', () => {
    const layer = new CrossIterationBatchNorm2d(3, { producer: new Conv2d(2, 3, 2, f64), window: 3, ...f64 });
    const y = layer.forward(randn([0, 2, 3, 3], f64));
    expect(y.shape).toEqual([0, 3, 2, 2]);
    expect(layer.history).toHaveLength(0);
    expect(layer.iterations).toBe(0);
    expect(layer.numBatchesTracked).toBe(0);
  });
});
