/**
 * The research-kit II variants and CrossIterationBatchNorm2d under every function transform: jvp,
 * vjp, Jacobian (jacrev and jacfwd), Hessian-vector product and Hessian against PyTorch 1.13's
 * torch.autograd.functional on references in plain torch ops (scripts/fixtures/transforms_research.py),
 * float64, within 1e-10, in training and in eval where they differ.
 */
import { noGrad, type Tensor } from '@normgrad/core';
import { readFileSync } from 'node:fs';
import { describe, it } from 'vitest';
import {
  Conv2d,
  CrossIterationBatchNorm2d,
  adaptiveInstanceNorm,
  conditionalBatchNorm,
  dynamicTanh,
  evoNormB0,
  evoNormS0,
  filterResponseNorm,
  functionalCall,
  ghostBatchNorm,
  globalResponseNorm,
  iterNorm,
  linear,
  localResponseNorm,
  scaleNorm,
  spectralNormalize,
  weightNormalize,
} from '../src/index.js';
import { expectAllclose, expectTransformsMatch, fromFixture, type FixtureTensor, type TransformCase } from './helpers.js';

type Case = TransformCase<Record<string, unknown> & { norm: string }>;

const fixture = JSON.parse(readFileSync(new URL('./fixtures/transforms_research.json', import.meta.url), 'utf8')) as { cases: Case[] };
const tolerance = { atol: 1e-10, rtol: 1e-10 };
const f64 = { dtype: 'float64' } as const;

/** The normgrad variant as a function of the differentiated inputs (running statistics and u, v fresh on every call). */
function normOf(c: Case): (...inputs: Tensor[]) => Tensor {
  const call = c.call;
  const fixed = (key: string): Tensor => fromFixture(call[key] as FixtureTensor);
  const eps = call.eps as number;
  const training = call.training as boolean;
  switch (call.norm) {
    case 'ghostBatchNorm':
      return (x, weight, bias) => (training
        ? ghostBatchNorm(x!, null, null, { virtualBatchSize: call.virtualBatchSize as number, weight, bias, training, eps })
        : ghostBatchNorm(x!, fixed('runningMean'), fixed('runningVar'), { virtualBatchSize: call.virtualBatchSize as number, weight, bias, eps }));
    case 'dynamicTanh':
      return (x, alpha, weight, bias) => dynamicTanh(x!, call.normalizedShape as number[], alpha!, { weight, bias });
    case 'scaleNorm':
      return (x, scale) => scaleNorm(x!, scale!, { eps });
    case 'localResponseNorm':
      return (x) => localResponseNorm(x!, call.size as number, { alpha: call.alpha as number, beta: call.beta as number, k: call.k as number });
    case 'globalResponseNorm':
      return (x, weight, bias) => globalResponseNorm(x!, { weight, bias, eps });
    case 'filterResponseNorm':
      return (x, weight, bias, tau) => filterResponseNorm(x!, { weight, bias, tau, eps });
    case 'weightNorm':
      return (x, v, g, bias) => linear(x!, weightNormalize(v!, g!, { dim: call.dim as number }), bias);
    case 'spectralNorm':
      return (x, weight, bias) => {
        const options = { nPowerIterations: call.nPowerIterations as number, eps, updateVectors: training };
        return linear(x!, spectralNormalize(weight!, fixed('u'), fixed('v'), options), bias);
      };
    case 'evoNormB0':
      return (x, v, weight, bias) => evoNormB0(x!, training ? null : fixed('runningVar'), { v: v!, weight, bias, training, eps });
    case 'evoNormS0':
      return (x, v, weight, bias) => evoNormS0(x!, { v: v!, weight, bias, groups: call.groups as number, eps });
    case 'adaptiveInstanceNorm':
      return (content, style) => adaptiveInstanceNorm(content!, style!, { eps });
    case 'conditionalBatchNorm':
      return (x, weight, bias) => (training
        ? conditionalBatchNorm(x!, null, null, { weight: weight!, bias: bias!, training, eps })
        : conditionalBatchNorm(x!, fixed('runningMean'), fixed('runningVar'), { weight: weight!, bias: bias!, eps }));
    case 'iterNorm': {
      const options = { numGroups: call.numGroups as number, iterations: call.iterations as number, eps, training };
      return (x, weight, bias) => (training
        ? iterNorm(x!, null, null, { ...options, weight, bias })
        : iterNorm(x!, fixed('runningMean'), fixed('runningWhitening'), { ...options, weight, bias }));
    }
    case 'crossIterationBatchNorm2d':
      return (input, convWeight, weight, bias) => {
        // a fresh layer per call (a training forward updates the running statistics and the history)
        const layer = new CrossIterationBatchNorm2d(2, { producer: new Conv2d(1, 2, 1, { bias: false, ...f64 }), window: 3, eps, ...f64 });
        const history = call.history as { input: FixtureTensor; weight: FixtureTensor }[];
        layer.history = history.map((entry) => ({ input: fromFixture(entry.input), parameters: { weight: fromFixture(entry.weight) } }));
        if (!training) {
          layer.eval();
          layer.runningMean = fixed('runningMean');
          layer.runningVar = fixed('runningVar');
        }
        return functionalCall(layer, { 'producer.weight': convWeight!, weight: weight!, bias: bias! }, input!);
      };
    default:
      throw new Error(`unknown norm ${call.norm}`);
  }
}

describe('function transforms of the research variants match torch.autograd.functional on plain-op references (float64, 1e-10)', () => {
  for (const c of fixture.cases) {
    it(c.name, () => {
      const fn = normOf(c);
      expectAllclose(noGrad(() => fn(...c.inputs.map((t) => fromFixture(t)))), c.y, `${c.name} y`, tolerance);
      expectTransformsMatch(c, fn, tolerance);
    });
  }
});
