import { noGrad, ones, stopGradient, tensor, zeros, type Tensor } from '@normgrad/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkLayer, type CheckLayerFailure } from '../src/index.js';

/**
 * A structural layer (no @normgrad/nn): y = (x − mean_lastAxis(x) − shift) · weight + bias, where
 * `shift` is a running mean that every training forward moves (as BatchNorm's statistics).
 * `bug` switches in classic mistakes to show that checkLayer catches and locates them.
 */
class ShiftNorm {
  training = true;
  weight: Tensor;
  bias: Tensor;
  shift: Tensor;
  constructor(
    features: number,
    readonly bug: 'none' | 'detached-mean' | 'detached-weight' = 'none',
  ) {
    this.weight = ones([features], { dtype: 'float64' });
    this.bias = zeros([features], { dtype: 'float64' });
    this.shift = zeros([features], { dtype: 'float64' });
  }
  forward(x: Tensor): Tensor {
    const mean = this.bug === 'detached-mean' ? x.mean(-1, true).detach() : x.mean(-1, true);
    const weight = this.bug === 'detached-weight' ? this.weight.detach() : this.weight;
    const y = x.sub(mean).sub(this.shift).mul(weight).add(this.bias);
    if (this.training) this.shift = noGrad(() => this.shift.mul(0.5).add(x.mean(0).mul(0.5))).detach();
    return y.tanh();
  }
  train(mode = true): this {
    this.training = mode;
    return this;
  }
  eval(): this {
    return this.train(false);
  }
  namedParameters(): [string, Tensor][] {
    return [['weight', this.weight], ['bias', this.bias]];
  }
  stateDict(): Record<string, Tensor> {
    return { weight: this.weight.detach(), bias: this.bias.detach(), shift: this.shift.detach() };
  }
  loadStateDict(state: Record<string, Tensor>): void {
    if (state.shift) this.shift = state.shift.detach();
  }
}

function failureOf(run: () => unknown): CheckLayerFailure & { message: string } {
  try {
    run();
  } catch (error) {
    const failure = (error as { failure?: CheckLayerFailure }).failure;
    if (!failure) throw error;
    return { ...failure, message: (error as Error).message };
  }
  throw new Error('expected checkLayer to throw');
}

describe('checkLayer', () => {
  it('passes a correct layer to third order in both modes, with running state restored per evaluation', () => {
    const report = checkLayer((shape) => new ShiftNorm(shape[1]!), { inputShapes: [[2, 3], [3, 2]], order: 3, runs: 3 });
    expect(report.runs).toBe(3);
    expect(report.checks).toBe(3 * 2 * 3);
    expect(report.maxAbsError).toBeLessThan(1e-6);
  });

  it('finds a detached statistic and shrinks to the smallest failing shape', () => {
    const failure = failureOf(() =>
      checkLayer((shape) => new ShiftNorm(shape[1]!, 'detached-mean'), { arbitrary: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 2, max: 5 })), runs: 5 }),
    );
    expect(failure.inputShape).toEqual([1, 2]);
    expect(failure.mode).toBe('train');
    expect(failure.argument).toBe('input');
    expect(failure.order).toBe(1);
    expect(Math.abs(failure.analytic - failure.numeric)).toBeGreaterThan(1e-3);
    expect(failure.message).toMatch(/order-1 gradient check failed in 'train' mode for input shape \[1, 2\]/);
    expect(failure.message).toMatch(/d output\[\d, \d\] \/ d input\[\d, \d\]: analytic .*, numeric /);
    expect(failure.message).toMatch(/smallest failing case after \d+ shrink/);
  });

  it('names the parameter whose gradient is wrong', () => {
    const failure = failureOf(() => checkLayer((shape) => new ShiftNorm(shape[1]!, 'detached-weight'), { inputShapes: [[2, 3]], modes: ['eval'], runs: 1 }));
    expect(failure.argument).toBe('weight');
    expect(failure.mode).toBe('eval');
    expect(failure.analytic).toBe(0);
  });

  it('holds stopGradient values fixed, so a stop-gradient term is checked as autodiff defines it', () => {
    const scaleLayer = () => ({
      weight: tensor([1.5], { dtype: 'float64' }),
      forward(x: Tensor) {
        return x.mul(stopGradient(x.square().mean())).mul(this.weight);
      },
      train: () => undefined,
      eval: () => undefined,
      namedParameters(): [string, Tensor][] {
        return [['weight', this.weight]];
      },
    });
    expect(checkLayer(scaleLayer, { inputShapes: [[3], [2, 2]], order: 2, runs: 4 }).checks).toBe(4 * 2 * 2);
  });

  it('reports a layer that throws, and rejects bad options', () => {
    class Broken extends ShiftNorm {
      override forward(): Tensor {
        throw new Error('boom');
      }
    }
    expect(() => checkLayer(() => new Broken(3), { inputShapes: [[2, 3]], runs: 1 })).toThrow(
      /checkLayer: the layer threw for input shape \[2, 3\]: boom/,
    );
    expect(() => checkLayer(() => new ShiftNorm(3), { runs: 1 })).toThrow(/give inputShapes/);
    expect(() => checkLayer(() => new ShiftNorm(3), { inputShapes: [[2, 3]], order: 4 as 3 })).toThrow(/order must be 1, 2 or 3/);
    expect(() => checkLayer(() => new ShiftNorm(3), { inputShapes: [[2, 3]], dtype: 'float32' as 'float64' })).toThrow(/float64/);
  });
});
