/**
 * Every norm's jvp, vjp, Jacobian (jacrev and jacfwd), Hessian-vector product and Hessian against
 * PyTorch 1.13's torch.autograd.functional on composite references in plain torch ops
 * (scripts/fixtures/transforms.py), float64, within 1e-10.
 */
import type { Tensor } from '@normgrad/core';
import { readFileSync } from 'node:fs';
import { describe, it } from 'vitest';
import { batchNorm, batchRenorm, groupNorm, instanceNorm, layerNorm, rmsNorm, standardizeWeight, switchableNorm } from '../src/index.js';
import { expectTransformsMatch, fromFixture, type FixtureTensor, type TransformCase } from './helpers.js';

type Case = TransformCase<Record<string, unknown> & { norm: string; eps: number }>;

const fixture = JSON.parse(readFileSync(new URL('./fixtures/transforms.json', import.meta.url), 'utf8')) as { cases: Case[] };
const tolerance = { atol: 1e-10, rtol: 1e-10 };

/** The normgrad norm as a function of the differentiated inputs (running statistics fresh on every call). */
function normOf(c: Case): (...inputs: Tensor[]) => Tensor {
  const call = c.call;
  const fixed = (key: string): Tensor => fromFixture(call[key] as FixtureTensor);
  const { eps } = call;
  switch (call.norm) {
    case 'batchNorm':
      return (x, weight, bias) => (call.training
        ? batchNorm(x!, null, null, { weight, bias, training: true, eps })
        : batchNorm(x!, fixed('runningMean'), fixed('runningVar'), { weight, bias, training: false, eps }));
    case 'layerNorm':
      return (x, weight, bias) => layerNorm(x!, call.normalizedShape as number[], { weight, bias, eps });
    case 'instanceNorm':
      return (x, weight, bias) => (call.useInputStats
        ? instanceNorm(x!, { weight, bias, eps })
        : instanceNorm(x!, { weight, bias, eps, useInputStats: false, runningMean: fixed('runningMean'), runningVar: fixed('runningVar') }));
    case 'groupNorm':
      return (x, weight, bias) => groupNorm(x!, call.groups as number, { weight, bias, eps });
    case 'rmsNorm':
      return (x, weight) => rmsNorm(x!, call.normalizedShape as number[], { weight, eps });
    case 'batchRenorm':
      return (x, weight, bias) => batchRenorm(x!, fixed('runningMean'), fixed('runningVar'), {
        weight, bias, eps, training: call.training as boolean, ...(call.training ? { rMax: call.rMax as number, dMax: call.dMax as number } : {}),
      });
    case 'switchableNorm':
      return (x, weight, bias) => switchableNorm(x!, {
        weight, bias, eps, training: call.training as boolean, meanWeights: fixed('meanWeights'), varWeights: fixed('varWeights'),
        ...(call.training ? {} : { runningMean: fixed('runningMean'), runningVar: fixed('runningVar') }),
      });
    case 'standardizeWeight':
      return (weight) => standardizeWeight(weight!, eps);
    default:
      throw new Error(`unknown norm ${call.norm}`);
  }
}

describe('function transforms of every norm match torch.autograd.functional on plain-op references (float64, 1e-10)', () => {
  for (const c of fixture.cases) {
    it(c.name, () => {
      const fn = normOf(c);
      expectTransformsMatch(c, fn, tolerance);
    });
  }
});
