import { writeFileSync } from 'node:fs';
import { ones, randn, tensor, zeros, type Tensor } from '@normgrad/core';
import { formatBadInputCounts, runBadInputTable, type BadInputRow } from '@normgrad/testing';
import { describe, expect, it } from 'vitest';
import * as nn from '../src/index.js';

/** nn's rows of the bad-input table (a new layer or functional gets a row). */
const x2 = randn([4, 3], { seed: 1 });
const x3 = randn([2, 3, 4], { seed: 2 });
const x4 = randn([2, 3, 4, 4], { seed: 3 });
const x4double = randn([2, 3, 4, 4], { seed: 3, dtype: 'float64' });
const c3 = ones([3]);
const notATensor = [1, 2, 3] as never;

/** The checks every channel norm layer (numFeatures, options with eps and momentum) makes. */
function channelNormRow(name: string, make: (numFeatures: number, options?: object) => nn.Module, input: Tensor, extra: Partial<BadInputRow['cases']> = {}): BadInputRow {
  const wrongChannels = input.reshape([input.shape[0]!, ...input.shape.slice(1)]).slice(null, [0, 2]);
  return {
    entryPoint: name,
    cases: {
      'unknown option': [() => make(3, { momentun: 0.5 })],
      'wrong type': [() => make('3' as never), () => make(3).forward(notATensor)],
      'zero-size': [() => make(0)],
      'out of range': [() => make(-1), () => make(2.5), () => make(3, { eps: -1 }), () => make(3, { momentum: 2 })],
      'non-finite': [() => make(3, { eps: NaN }), () => make(3, { momentum: NaN }), () => make(3, { eps: Infinity })],
      'wrong shape': [() => make(3).forward(wrongChannels), () => make(3).forward(randn([3]))],
      'wrong dtype': [() => make(3).forward(input.to('float64'))],
      ...extra,
    },
  };
}

const rows: BadInputRow[] = [
  channelNormRow('BatchNorm1d', (n, o) => new nn.BatchNorm1d(n, o), x3),
  channelNormRow('BatchNorm2d', (n, o) => new nn.BatchNorm2d(n, o), x4),
  channelNormRow('BatchRenorm1d', (n, o) => new nn.BatchRenorm1d(n, o), x3, { 'out of range': [() => new nn.BatchRenorm1d(3, { rMax: 0.5 }), () => new nn.BatchRenorm1d(3, { dMax: -1 }), () => new nn.BatchRenorm1d(3, { warmupSteps: -1 })] }),
  channelNormRow('BatchRenorm2d', (n, o) => new nn.BatchRenorm2d(n, o), x4),
  channelNormRow('InstanceNorm1d', (n, o) => new nn.InstanceNorm1d(n, { affine: true, ...o }), x3),
  channelNormRow('InstanceNorm2d', (n, o) => new nn.InstanceNorm2d(n, { affine: true, ...o }), x4),
  channelNormRow('SwitchableNorm1d', (n, o) => new nn.SwitchableNorm1d(n, o), x3),
  channelNormRow('SwitchableNorm2d', (n, o) => new nn.SwitchableNorm2d(n, o), x4),
  channelNormRow('GhostBatchNorm2d', (n, o) => new nn.GhostBatchNorm2d(n, { virtualBatchSize: 2, ...o }), x4),
  channelNormRow('EvoNorm2dB0', (n, o) => new nn.EvoNorm2dB0(n, o), x4),
  { entryPoint: 'FilterResponseNorm2d', cases: { 'zero-size': [() => new nn.FilterResponseNorm2d(0)], 'out of range': [() => new nn.FilterResponseNorm2d(3, { eps: -1 })], 'wrong shape': [() => new nn.FilterResponseNorm2d(2).forward(x4)], 'wrong dtype': [() => new nn.FilterResponseNorm2d(3).forward(x4double)] } },
  { entryPoint: 'DynamicTanh', cases: { 'wrong shape': [() => new nn.DynamicTanh(5).forward(x3)], 'non-finite': [() => new nn.DynamicTanh(4, { alphaInit: NaN })] } },
  { entryPoint: 'functionalCall', cases: { 'wrong type': [() => nn.functionalCall(new nn.Linear(3, 2), 3 as never, x2)], 'out of range': [() => nn.functionalCall(new nn.Linear(3, 2), { wieght: ones([2, 3]) }, x2)] } },
  {
    entryPoint: 'LayerNorm',
    cases: {
      'unknown option': [() => new nn.LayerNorm(4, { bais: false } as never)],
      'zero-size': [() => new nn.LayerNorm([])],
      'out of range': [() => new nn.LayerNorm(0), () => new nn.LayerNorm(4, { eps: -1 })],
      'non-finite': [() => new nn.LayerNorm(4, { eps: NaN })],
      'wrong shape': [() => new nn.LayerNorm(5).forward(x3)],
      'wrong dtype': [() => new nn.LayerNorm(4).forward(x3.to('float64'))],
    },
  },
  {
    entryPoint: 'RMSNorm',
    cases: {
      'unknown option': [() => new nn.RMSNorm(4, { epsilon: 1e-6 } as never)],
      'out of range': [() => new nn.RMSNorm(0), () => new nn.RMSNorm(4, { eps: -1 })],
      'wrong shape': [() => new nn.RMSNorm(5).forward(x3)],
      'wrong dtype': [() => new nn.RMSNorm(4).forward(x3.to('float64'))],
    },
  },
  {
    entryPoint: 'GroupNorm',
    cases: {
      'unknown option': [() => new nn.GroupNorm(1, 3, { afine: true } as never)],
      'out of range': [() => new nn.GroupNorm(2, 3), () => new nn.GroupNorm(0, 3), () => new nn.GroupNorm(1, 3, { eps: -1 })],
      'wrong shape': [() => new nn.GroupNorm(1, 4).forward(x4)],
      'wrong dtype': [() => new nn.GroupNorm(1, 3).forward(x4double)],
    },
  },
  {
    entryPoint: 'Linear',
    cases: {
      'unknown option': [() => new nn.Linear(3, 2, { bais: false } as never)],
      'out of range': [() => new nn.Linear(-1, 2), () => new nn.Linear(2.5, 2)],
      'wrong shape': [() => new nn.Linear(5, 2).forward(x2)],
      'wrong dtype': [() => new nn.Linear(3, 2).forward(x2.to('float64'))],
    },
  },
  {
    entryPoint: 'Conv2d',
    cases: {
      'unknown option': [() => new nn.Conv2d(3, 2, 3, { dilaton: 2 } as never)],
      'out of range': [() => new nn.Conv2d(3, 2, 0), () => new nn.Conv2d(3, 2, 3, { stride: 0 }), () => new nn.Conv2d(3, 2, 3, { padding: -1 })],
      'wrong shape': [() => new nn.Conv2d(2, 2, 3).forward(x4), () => new nn.Conv2d(3, 2, 5).forward(x4)],
      'wrong dtype': [() => new nn.Conv2d(3, 2, 3).forward(x4double)],
    },
  },
  { entryPoint: 'batchNorm', cases: { 'unknown option': [() => nn.batchNorm(x3, null, null, { trainig: true } as never)], 'wrong shape': [() => nn.batchNorm(x3, zeros([2]), ones([2]), { training: true }), () => nn.batchNorm(randn([3]), null, null, { training: true })], 'out of range': [() => nn.batchNorm(x3, null, null, { training: true, momentum: 2 }), () => nn.batchNorm(randn([1, 3]), null, null, { training: true })], 'non-finite': [() => nn.batchNorm(x3, null, null, { training: true, eps: NaN })], 'wrong dtype': [() => nn.batchNorm(x3, null, null, { training: true, weight: ones([3], { dtype: 'float64' }) })] } },
  { entryPoint: 'instanceNorm', cases: { 'wrong shape': [() => nn.instanceNorm(x2), () => nn.instanceNorm(x3, { weight: ones([2]) })], 'non-finite': [() => nn.instanceNorm(x3, { eps: NaN })], 'out of range': [() => nn.instanceNorm(randn([2, 3, 1]))] } },
  { entryPoint: 'layerNorm', cases: { 'unknown option': [() => nn.layerNorm(x3, [4], { epsilon: 1e-5 } as never)], 'wrong shape': [() => nn.layerNorm(x3, [3]), () => nn.layerNorm(x3, [4], { weight: c3 })], 'zero-size': [() => nn.layerNorm(x3, [])], 'non-finite': [() => nn.layerNorm(x3, [4], { eps: NaN })], 'wrong dtype': [() => nn.layerNorm(x3, [4], { weight: ones([4], { dtype: 'float64' }) })] } },
  { entryPoint: 'groupNorm', cases: { 'out of range': [() => nn.groupNorm(x4, 2)], 'wrong shape': [() => nn.groupNorm(x4, 3, { weight: ones([2]) })], 'non-finite': [() => nn.groupNorm(x4, 3, { eps: NaN })] } },
  { entryPoint: 'rmsNorm', cases: { 'wrong shape': [() => nn.rmsNorm(x3, [3])], 'out of range': [() => nn.rmsNorm(x3, [4], { eps: -1 })] } },
  { entryPoint: 'batchRenorm', cases: { 'out of range': [() => nn.batchRenorm(x3, zeros([3]), ones([3]), { training: true, rMax: 0.5 })], 'wrong shape': [() => nn.batchRenorm(x3, zeros([2]), ones([2]))], 'wrong type': [() => nn.batchRenorm(x3, null as never, null as never)] } },
  { entryPoint: 'switchableNorm', cases: { 'wrong shape': [() => nn.switchableNorm(x3, { meanWeights: ones([4]), varWeights: ones([3]) }), () => nn.switchableNorm(x2, { meanWeights: ones([3]), varWeights: ones([3]) })], 'out of range': [() => nn.switchableNorm(randn([2, 3, 1]), { meanWeights: ones([3]), varWeights: ones([3]) })] } },
  { entryPoint: 'linear', cases: { 'wrong shape': [() => nn.linear(x2, ones([2, 4]))], 'wrong dtype': [() => nn.linear(x2, ones([2, 3], { dtype: 'float64' }))] } },
  { entryPoint: 'conv2d', cases: { 'wrong shape': [() => nn.conv2d(x4, ones([2, 2, 3, 3])), () => nn.conv2d(x3, ones([2, 3, 3, 3]))] } },
  { entryPoint: 'maxPool2d', cases: { 'unknown option': [() => nn.maxPool2d(x4, 2, { ceil_mode: true } as never)], 'out of range': [() => nn.maxPool2d(x4, 0), () => nn.maxPool2d(x4, 5)], 'wrong shape': [() => nn.maxPool2d(x2, 2)] } },
  { entryPoint: 'dropout', cases: { 'out of range': [() => nn.dropout(x2, 1.5), () => nn.dropout(x2, -0.1)], 'non-finite': [() => nn.dropout(x2, NaN)] } },
  { entryPoint: 'mseLoss', cases: { 'wrong shape': [() => nn.mseLoss(x2, ones([4]))], 'out of range': [() => nn.mseLoss(x2, x2, { reduction: 'avg' } as never)] } },
  { entryPoint: 'crossEntropy', cases: { 'unknown option': [() => nn.crossEntropy(x2, [0, 1, 2, 0], { reduce: 'sum' } as never)], 'wrong shape': [() => nn.crossEntropy(x2, [0, 1]), () => nn.crossEntropy(x3.reshape([24]), [0])], 'out of range': [() => nn.crossEntropy(x2, [0, 1, 2, 3]), () => nn.crossEntropy(x2, [0, 1, 2, -1])] } },
  {
    entryPoint: 'avgPool2d',
    cases: {
      'unknown option': [() => nn.avgPool2d(x4, 2, { ceil_mode: true } as never)],
      'wrong type': [() => nn.avgPool2d(x4, 2, { ceilMode: 'yes' } as never), () => nn.avgPool2d(x4, 2, { countIncludePad: 1 } as never)],
      'out of range': [() => nn.avgPool2d(x4, 0), () => nn.avgPool2d(x4, 2, { divisorOverride: 0 }), () => nn.avgPool2d(x4, 2, { divisorOverride: 1.5 })],
      'wrong shape': [() => nn.avgPool2d(x2, 2)],
    },
  },
  {
    entryPoint: 'MultiheadAttention',
    cases: {
      'unknown option': [() => new nn.MultiheadAttention(4, 2, { batch_first: true } as never), () => new nn.MultiheadAttention(4, 2).attention(randn([3, 4]), randn([3, 4]), randn([3, 4]), { mask: null } as never)],
      'wrong type': [() => new nn.MultiheadAttention('4' as never, 2), () => new nn.MultiheadAttention(4, 2).forward(notATensor, notATensor, notATensor)],
      'out of range': [() => new nn.MultiheadAttention(4, 3), () => new nn.MultiheadAttention(4, 0), () => new nn.MultiheadAttention(-4, 2)],
      'wrong shape': [() => new nn.MultiheadAttention(4, 2).forward(randn([3, 5]), randn([3, 5]), randn([3, 5])), () => new nn.MultiheadAttention(4, 2).forward(randn([3, 2, 4]), randn([5, 3, 4]), randn([5, 3, 4]))],
    },
  },
  {
    entryPoint: 'CrossIterationBatchNorm2d',
    cases: {
      'unknown option': [() => new nn.CrossIterationBatchNorm2d(3, { producer: new nn.Conv2d(3, 3, 1), windw: 2 } as never)],
      'wrong type': [() => new nn.CrossIterationBatchNorm2d(3, {} as never), () => new nn.CrossIterationBatchNorm2d(3, { producer: new nn.Conv2d(3, 3, 1) }).forward(notATensor)],
      'out of range': [() => new nn.CrossIterationBatchNorm2d(3, { producer: new nn.Conv2d(3, 3, 1), window: 0 }), () => new nn.CrossIterationBatchNorm2d(3, { producer: new nn.Conv2d(3, 3, 1), eps: -1 })],
      'wrong shape': [() => new nn.CrossIterationBatchNorm2d(4, { producer: new nn.Conv2d(3, 3, 1) }).forward(x4)],
    },
  },
  {
    entryPoint: 'stackModuleState',
    cases: {
      'zero-size': [() => nn.stackModuleState([])],
      'wrong type': [() => nn.stackModuleState([new nn.Linear(2, 3), 'model' as never])],
      'wrong shape': [() => nn.stackModuleState([new nn.Linear(2, 3), new nn.Linear(3, 3)])],
    },
  },
  {
    entryPoint: 'functionalCallWithBuffers',
    cases: {
      'unknown option': [() => nn.functionalCallWithBuffers(new nn.Linear(2, 3), { weight: zeros([3, 2]), bias: zeros([3]), bais: zeros([3]) } as never, {}, randn([1, 2]))],
      'wrong shape': [() => nn.functionalCallWithBuffers(new nn.Linear(2, 3), { weight: zeros([2, 2]), bias: zeros([3]) }, {}, randn([1, 2]))],
    },
  },
  {
    entryPoint: 'loadStateDict',
    cases: {
      'unknown option': [() => new nn.Linear(2, 3).loadStateDict(new nn.Linear(2, 3).stateDict(), { stirct: true } as never)],
      'wrong type': [() => new nn.Linear(2, 3).loadStateDict([] as never), () => new nn.Linear(2, 3).loadStateDict(null as never), () => new nn.Linear(2, 3).loadStateDict({ weight: 1, bias: tensor([0, 0, 0]) } as never), () => new nn.Linear(2, 3).loadStateDict(JSON.parse(JSON.stringify(new nn.Linear(2, 3).stateDict())) as never)],
      'wrong shape': [() => new nn.Linear(2, 3).loadStateDict({ weight: zeros([2, 2]), bias: zeros([3]) })],
      'out of range': [() => new nn.BatchNorm1d(2).loadStateDict({ ...new nn.BatchNorm1d(2).stateDict(), numBatchesTracked: tensor(2.5, { dtype: 'float64' }) })],
      'non-finite': [() => new nn.BatchNorm1d(2).loadStateDict({ ...new nn.BatchNorm1d(2).stateDict(), numBatchesTracked: tensor(NaN, { dtype: 'float64' }) })],
      'zero-size': [() => new nn.Linear(2, 3).loadStateDict({})],
    },
  },
];

describe('bad-input table: every public entry point of nn × kinds of bad input', () => {
  it('each call throws an Error whose message starts with the entry point', () => {
    const report = runBadInputTable(rows);
    if (process.env.NORMGRAD_BAD_INPUT_TABLE) writeFileSync(process.env.NORMGRAD_BAD_INPUT_TABLE, `${formatBadInputCounts(report)}\n\ntotal ${report.total}\n`);
    expect(report.failures).toEqual([]);
  });
});
