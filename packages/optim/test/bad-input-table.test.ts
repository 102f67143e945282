import { writeFileSync } from 'node:fs';
import { zeros } from '@normgrad/core';
import { formatBadInputCounts, runBadInputTable, type BadInputRow } from '@normgrad/testing';
import { describe, expect, it } from 'vitest';
import { Adam, AdamW, CosineAnnealingLR, ExponentialLR, LinearLR, SGD, StepLR } from '../src/index.js';

/** optim's rows of the bad-input table (unknown option keys of optimizers and schedulers are the optim engineer's change). */
const param = () => zeros([3], { dtype: 'float64', requiresGrad: true });
const sgd = () => new SGD([param()], { lr: 0.1 });

const optimizerRow = (name: 'SGD' | 'Adam' | 'AdamW'): BadInputRow => {
  const make = (options: object) => (name === 'SGD' ? new SGD([param()], { lr: 0.1, ...options }) : name === 'Adam' ? new Adam([param()], options) : new AdamW([param()], options));
  const makeWith = (params: unknown) => (name === 'SGD' ? new SGD(params as never, { lr: 0.1 }) : name === 'Adam' ? new Adam(params as never) : new AdamW(params as never));
  return {
    entryPoint: name,
    cases: {
      'wrong type': [() => makeWith([1, 2]), () => makeWith(3), () => make({ lr: '0.1' })],
      'zero-size': [() => makeWith([])],
      'out of range': [() => make({ lr: -1 }), () => make({ weightDecay: -1 })],
      'non-finite': [() => make({ lr: NaN }), () => make({ lr: Infinity })],
    },
  };
};

const rows: BadInputRow[] = [
  optimizerRow('SGD'),
  optimizerRow('Adam'),
  optimizerRow('AdamW'),
  { entryPoint: 'StepLR', cases: { 'out of range': [() => new StepLR(sgd(), { stepSize: 0 }), () => new StepLR(sgd(), { stepSize: 1.5 })], 'non-finite': [() => new StepLR(sgd(), { stepSize: 1, gamma: NaN })] } },
  { entryPoint: 'ExponentialLR', cases: { 'non-finite': [() => new ExponentialLR(sgd(), { gamma: NaN })] } },
  { entryPoint: 'CosineAnnealingLR', cases: { 'out of range': [() => new CosineAnnealingLR(sgd(), { tMax: 0 })], 'non-finite': [() => new CosineAnnealingLR(sgd(), { tMax: 10, etaMin: NaN })] } },
  { entryPoint: 'LinearLR', cases: { 'out of range': [() => new LinearLR(sgd(), { startFactor: 0 } as never)] } },
];

describe('bad-input table: every public entry point of optim × kinds of bad input', () => {
  it('each call throws an Error whose message starts with the entry point', () => {
    const report = runBadInputTable(rows);
    if (process.env.NORMGRAD_BAD_INPUT_TABLE) writeFileSync(process.env.NORMGRAD_BAD_INPUT_TABLE, `${formatBadInputCounts(report)}\n\ntotal ${report.total}\n`);
    expect(report.failures).toEqual([]);
  });
});
