import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatBadInputCounts, runBadInputTable, type BadInputRow } from '@normgrad/testing';
import * as ng from '../src/index.js';

const x = ng.tensor([[1, 2, 3], [4, 5, 6]]);
const x64 = ng.tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float64' });
const v = ng.tensor([1, 2, 3]);
const notATensor = [1, 2, 3] as never;
const square = (t: ng.Tensor) => t.square().sum();

/** Binary elementwise ops: a non-Tensor operand, mismatched shapes, mixed dtypes. */
const binary = (name: 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum'): BadInputRow => ({
  entryPoint: name,
  cases: {
    'wrong type': [() => ng[name](notATensor, x), () => ng[name](x, 'a' as never)],
    'wrong shape': [() => ng[name](x, ng.tensor([1, 2]))],
    'wrong dtype': [() => ng[name](x, x64)],
  },
});
const unary = (name: 'exp' | 'log' | 'sqrt' | 'abs' | 'tanh' | 'sigmoid' | 'relu' | 'neg'): BadInputRow => ({
  entryPoint: name,
  cases: { 'wrong type': [() => ng[name](notATensor), () => ng[name](3 as never)] },
});
const reduction = (name: 'sum' | 'mean' | 'max' | 'min' | 'logsumexp'): BadInputRow => ({
  entryPoint: name,
  cases: {
    'wrong type': [() => ng[name](3 as never)],
    'out of range': [() => ng[name](x, 2), () => ng[name](x, [0, 0]), () => ng[name](x, 0.5)],
    'zero-size': [() => ng[name](x, [])],
  },
});

const rows: BadInputRow[] = [
  {
    entryPoint: 'tensor',
    cases: {
      'unknown option': [() => ng.tensor([1], { dtpye: 'float64' } as never)],
      'wrong type': [() => ng.tensor('abc' as never), () => ng.tensor([1, 'a'] as never), () => ng.tensor([1], { requiresGrad: 1 } as never)],
      'wrong dtype': [() => ng.tensor([1], { dtype: 'int8' } as never)],
      'wrong shape': [() => ng.tensor([[1], [1, 2]]), () => ng.tensor(new Float32Array(6), { shape: [4] })],
      'out of range': [() => { let deep: ng.NestedArray = 1; for (let i = 0; i < 100; i++) deep = [deep]; return ng.tensor(deep); }],
    },
  },
  ...(['zeros', 'ones'] as const).map((name): BadInputRow => ({
    entryPoint: name,
    cases: {
      'unknown option': [() => ng[name]([2], { dtpye: 'float64' } as never)],
      'wrong type': [() => ng[name](3 as never), () => ng[name]([2], 'float64' as never)],
      'non-finite': [() => ng[name]([Infinity]), () => ng[name]([NaN])],
      'out of range': [() => ng[name]([-1]), () => ng[name]([1e6, 1e6])],
      'wrong dtype': [() => ng[name]([2], { dtype: 'float16' } as never)],
    },
  })),
  {
    entryPoint: 'full',
    cases: {
      'unknown option': [() => ng.full([2], 1, { requires_grad: true } as never)],
      'wrong type': [() => ng.full([2], 'a' as never)],
      'out of range': [() => ng.full([1e5, 1e5], 0)],
      'wrong dtype': [() => ng.full([2], 1, { dtype: 'int8' } as never)],
    },
  },
  ...(['zerosLike', 'onesLike'] as const).map((name): BadInputRow => ({
    entryPoint: name,
    cases: { 'unknown option': [() => ng[name](x, { dtpye: 'float64' } as never)], 'wrong type': [() => ng[name](notATensor)] },
  })),
  { entryPoint: 'fullLike', cases: { 'unknown option': [() => ng.fullLike(x, 1, { foo: 1 } as never)], 'wrong type': [() => ng.fullLike(notATensor, 1), () => ng.fullLike(x, 'a' as never)] } },
  {
    entryPoint: 'arange',
    cases: {
      'unknown option': [() => ng.arange(3, { dtpye: 'float64' } as never)],
      'wrong type': [() => ng.arange('3' as never)],
      'non-finite': [() => ng.arange(Infinity), () => ng.arange(0, NaN)],
      'out of range': [() => ng.arange(0, 1, 0), () => ng.arange(0, 1e10, 1)],
    },
  },
  {
    entryPoint: 'eye',
    cases: { 'unknown option': [() => ng.eye(2, { foo: 1 } as never)], 'wrong type': [() => ng.eye('2' as never)], 'out of range': [() => ng.eye(-1), () => ng.eye(2.5), () => ng.eye(1e5)], 'non-finite': [() => ng.eye(NaN)] },
  },
  ...(['randn', 'rand'] as const).map((name): BadInputRow => ({
    entryPoint: name,
    cases: {
      'unknown option': [() => ng[name]([2], { sed: 1 } as never)],
      'wrong type': [() => ng[name]([2], { seed: 'a' } as never)],
      'non-finite': [() => ng[name]([2], { seed: NaN }), () => ng[name]([2], { seed: Infinity })],
      'out of range': [() => ng[name]([1e5, 1e5]), () => ng[name]([2], { seed: 1.5 })],
      'wrong dtype': [() => ng[name]([2], { dtype: 'int32x' } as never)],
    },
  })),
  { entryPoint: 'manualSeed', cases: { 'non-finite': [() => ng.manualSeed(NaN)], 'wrong type': [() => ng.manualSeed('a' as never)] } },
  ...(['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum'] as const).map(binary),
  ...(['exp', 'log', 'sqrt', 'abs', 'tanh', 'sigmoid', 'relu', 'neg'] as const).map(unary),
  ...(['sum', 'mean', 'max', 'min', 'logsumexp'] as const).map(reduction),
  ...(['var', 'std'] as const).map((name): BadInputRow => ({
    entryPoint: name,
    cases: {
      'unknown option': [() => (name === 'var' ? x.var(0, { corection: 1 } as never) : x.std(0, { keepdim: true } as never))],
      'out of range': [() => x[name](5), () => x[name](0, { correction: -1 })],
      'non-finite': [() => x[name](0, { correction: NaN })],
      'zero-size': [() => x[name]([])],
    },
  })),
  {
    entryPoint: 'moments',
    cases: { 'unknown option': [() => ng.moments(x, 0, { correction: 0, keepdims: true } as never)], 'out of range': [() => ng.moments(x, 3)], 'zero-size': [() => ng.moments(x, [])] },
  },
  ...(['softmax', 'logSoftmax'] as const).map((name): BadInputRow => ({ entryPoint: name, cases: { 'out of range': [() => ng[name](x, 2), () => ng[name](x, -3)] } })),
  { entryPoint: 'clamp', cases: { 'non-finite': [() => ng.clamp(x, NaN)], 'wrong type': [() => ng.clamp(x, 'a' as never), () => ng.clamp(notATensor, 0)], 'zero-size': [() => ng.clamp(x)] } },
  { entryPoint: 'where', cases: { 'wrong shape': [() => ng.where(ng.tensor([1, 0]), x, x)], 'wrong type': [() => ng.where(notATensor, x, x)] } },
  { entryPoint: 'reshape', cases: { 'wrong shape': [() => x.reshape([4])], 'out of range': [() => x.reshape([-1, -1])], 'wrong type': [() => x.reshape('6' as never)] } },
  { entryPoint: 'permute', cases: { 'wrong shape': [() => x.permute([0])], 'out of range': [() => x.permute([0, 2])] } },
  { entryPoint: 'transpose', cases: { 'out of range': [() => x.transpose(0, 5)] } },
  { entryPoint: 'broadcastTo', cases: { 'wrong shape': [() => x.broadcastTo([3, 3])] } },
  { entryPoint: 'unsqueeze', cases: { 'out of range': [() => x.unsqueeze(4)] } },
  { entryPoint: 'squeeze', cases: { 'out of range': [() => x.squeeze(3)] } },
  { entryPoint: 'flatten', cases: { 'out of range': [() => x.flatten(0, 4)] } },
  { entryPoint: 'slice', cases: { 'out of range': [() => x.slice([0, 1], [0, 1], [0, 1])], 'wrong type': [() => x.slice('a' as never)] } },
  { entryPoint: 'narrow', cases: { 'out of range': [() => x.narrow(1, 2, 5), () => x.narrow(3, 0, 1)] } },
  { entryPoint: 'pad', cases: { 'wrong shape': [() => x.pad([[1, 1], [1, 1], [1, 1]])], 'out of range': [() => x.pad([[-1, 0], [0, 0]])] } },
  { entryPoint: 'concat', cases: { 'wrong shape': [() => ng.concat([x, v], 0)], 'wrong dtype': [() => ng.concat([x, x64], 0)], 'zero-size': [() => ng.concat([], 0)] } },
  { entryPoint: 'stack', cases: { 'wrong shape': [() => ng.stack([x, v], 0)], 'zero-size': [() => ng.stack([], 0)] } },
  { entryPoint: 'matmul', cases: { 'wrong shape': [() => x.matmul(x), () => ng.matmul(ng.tensor(2), v)], 'wrong dtype': [() => x.matmul(x64.transpose())], 'wrong type': [() => x.matmul(notATensor)] } },
  { entryPoint: 'item', cases: { 'wrong shape': [() => x.item()] } },
  {
    entryPoint: 'backward',
    cases: {
      'unknown option': [() => ng.tensor(2, { requiresGrad: true }).square().backward(undefined, { createGraf: true } as never)],
      'wrong type': [() => ng.tensor(2, { requiresGrad: true }).square().backward({ createGraph: true } as never), () => ng.tensor(2, { requiresGrad: true }).square().backward(undefined, { retainGraph: 1 } as never)],
      'wrong shape': [() => ng.tensor([1, 2], { requiresGrad: true }).square().backward(), () => ng.tensor([1, 2], { requiresGrad: true }).square().backward(ng.tensor([1]))],
      'wrong dtype': [() => ng.tensor([1, 2], { requiresGrad: true }).square().backward(ng.tensor([1, 1], { dtype: 'float64' }))],
    },
  },
  {
    entryPoint: 'Tensor.grad',
    cases: {
      'wrong type': [() => { ng.zeros([3]).grad = notATensor; }],
      'wrong dtype': [() => { ng.zeros([3], { dtype: 'float64' }).grad = ng.zeros([3]); }],
      'wrong shape': [() => { ng.zeros([3]).grad = ng.zeros([2]); }],
    },
  },
  {
    entryPoint: 'gradcheck',
    cases: {
      'unknown option': [() => ng.gradcheck(square, [x64], { epsilon: 1e-6 } as never)],
      'wrong type': [() => ng.gradcheck(square, x64 as never), () => ng.gradcheck(() => 3 as never, [x64])],
      'out of range': [() => ng.gradcheck(square, [x64], { eps: 0 }), () => ng.gradcheck(square, [x64], { atol: -1 })],
      'non-finite': [() => ng.gradcheck(square, [x64], { eps: NaN })],
    },
  },
  {
    entryPoint: 'gradgradcheck',
    cases: {
      'unknown option': [() => ng.gradgradcheck(square, [x64], { epsilon: 1e-6 } as never)],
      'wrong type': [() => ng.gradgradcheck(square, x64 as never)],
      'zero-size': [() => ng.gradgradcheck(square, [])],
    },
  },
  { entryPoint: 'toDot', cases: { 'unknown option': [() => ng.toDot(square(x64), { name: 'g' } as never)], 'wrong type': [() => ng.toDot(notATensor), () => ng.toDot(square(x64), { names: { a: 1 } } as never)], 'out of range': [() => ng.toDot(square(x64), { graphName: 'a b' })] } },
  { entryPoint: 'customOp', cases: { 'wrong type': [() => ng.customOp({ name: 'f' } as never)] } },
  { entryPoint: 'setMatmulBackend', cases: { 'out of range': [() => ng.setMatmulBackend('gpu' as never)] } },
  { entryPoint: 'setMatmulThreads', cases: { 'out of range': [() => ng.setMatmulThreads(4 as never)] } },
  { entryPoint: 'setElementwiseFusion', cases: { 'unknown option': [() => ng.setElementwiseFusion(true, { minSize: 4 } as never)], 'wrong type': [() => ng.setElementwiseFusion('yes' as never)], 'out of range': [() => ng.setElementwiseFusion(true, { minimumSize: 0 })] } },
  { entryPoint: 'setElementwiseBackend', cases: { 'out of range': [() => ng.setElementwiseBackend('gpu' as never)] } },
  { entryPoint: 'assignInPlace', cases: { 'wrong shape': [() => ng.assignInPlace(ng.zeros([3]), ng.zeros([2]))], 'wrong type': [() => ng.assignInPlace(ng.zeros([3]), notATensor)] } },
  { entryPoint: 'withSettings', cases: { 'unknown option': [() => ng.withSettings({ fusin: true } as never, () => 1)], 'wrong type': [() => ng.withSettings({ fusion: 'yes' } as never, () => 1), () => ng.withSettings({}, 3 as never)], 'out of range': [() => ng.withSettings({ matmulThreads: 3 } as never, () => 1)] } },
  { entryPoint: 'compile', cases: { 'wrong type': [() => ng.compile(42 as never), () => ng.compile((t: ng.Tensor) => t)(notATensor), () => ng.compile((t: ng.Tensor) => new Map([['t', t]]))(x)] } },
  { entryPoint: 'traceGuard', cases: { 'wrong type': [() => ng.traceGuard(true as never)] } },
  {
    entryPoint: 'traceEffect',
    cases: {
      'wrong type': [() => ng.traceEffect('count' as never), () => ng.traceEffect(() => {}, { arrays: [new Float32Array(2)] } as never)],
      'unknown option': [() => ng.traceEffect(() => {}, { array: [] } as never)],
    },
  },
  { entryPoint: 'writeStorage', cases: { 'wrong shape': [() => ng.writeStorage(x.data.data, () => {}, { target: v.data, reads: [] })] } },
  {
    entryPoint: 'branchOnValues',
    cases: { 'wrong type': [() => ng.branchOnValues(notATensor, () => true), () => ng.branchOnValues(x, 1 as never), () => ng.branchOnValues(x, () => 1 as never)] },
  },
  { entryPoint: 'grad', cases: { 'unknown option': [() => ng.grad(square, { argnum: 0 } as never)], 'wrong type': [() => ng.grad(square)(notATensor), () => ng.grad((r: { w: ng.Tensor }) => r.w.sum())({ w: 3 } as never)], 'out of range': [() => ng.grad(square, { argnums: 1 })(x64)] } },
  {
    entryPoint: 'sumFloat64',
    cases: {
      'wrong type': [() => ng.sumFloat64(3 as never), () => ng.sumFloat64(ng.tensor([1, 2], { dtype: 'int32' }))],
      'out of range': [() => ng.sumFloat64(ng.zeros([2, 3]), 2)],
    },
  },
  { entryPoint: 'valueAndGrad', cases: { 'unknown option': [() => ng.valueAndGrad(square, { argnum: 0 } as never)] } },
  { entryPoint: 'jvp', cases: { 'wrong type': [() => ng.jvp(3 as never, [x64], [x64])], 'wrong shape': [() => ng.jvp(square, [x64], [v.to('float64')])], 'zero-size': [() => ng.jvp(square, [x64], [] as never)] } },
  { entryPoint: 'vjp', cases: { 'wrong type': [() => ng.vjp(3 as never, x64)] } },
  { entryPoint: 'hvp', cases: { 'zero-size': [() => ng.hvp(square, [x64], [] as never)] } },
  { entryPoint: 'jacrev', cases: { 'unknown option': [() => ng.jacrev(square, { argnum: 0 } as never)] } },
  { entryPoint: 'jacfwd', cases: { 'unknown option': [() => ng.jacfwd(square, { argnum: 0 } as never)] } },
  { entryPoint: 'hessian', cases: { 'unknown option': [() => ng.hessian(square, { argnum: 0 } as never)] } },
  {
    entryPoint: 'vmap',
    cases: {
      'unknown option': [() => ng.vmap(square, { inDim: 0 } as never)],
      'wrong type': [
        () => ng.vmap(3 as never), () => ng.vmap(square, { inDims: 'first' } as never), () => ng.vmap(square)(notATensor as never),
        () => ng.vmap((r: { a: ng.Tensor; n: number }) => r.a, { inDims: [{ a: 0, n: 0 }] })({ a: x64, n: 2 }),
      ],
      'out of range': [() => ng.vmap(square, { inDims: 2 })(x64), () => ng.vmap(square, { randomness: 'sometimes' } as never)],
      'zero-size': [() => ng.vmap(square)(ng.zeros([0, 2])), () => ng.vmap(square, { inDims: null })(x64)],
      'wrong shape': [
        () => ng.vmap((a: ng.Tensor, b: ng.Tensor) => a.add(b))(ng.zeros([2, 3]), ng.zeros([3, 3])),
        // records: a key without an axis, an array of another length, a record result of another shape
        () => ng.vmap((r: { a: ng.Tensor; b: ng.Tensor }) => r.a, { inDims: [{ a: 0 }] })({ a: x64, b: x64 }),
        () => ng.vmap((r: ng.Tensor[]) => r[0]!, { inDims: [[0, 0, 0]] })([x64, x64]),
        () => ng.vmap((t: ng.Tensor) => ({ y: t }), { outDims: { z: 0 } })(x64),
      ],
    },
  },
  { entryPoint: 'checkOptions', cases: { 'wrong type': [() => ng.checkOptions('checkOptions', 3, [])] } },
];

describe('bad-input table: every public entry point of core × kinds of bad input', () => {
  it('each call throws an Error whose message starts with the entry point', () => {
    const report = runBadInputTable(rows);
    if (process.env.NORMGRAD_BAD_INPUT_TABLE) writeFileSync(process.env.NORMGRAD_BAD_INPUT_TABLE, `${formatBadInputCounts(report)}\n\ntotal ${report.total}\n`);
    expect(report.failures).toEqual([]);
    expect(report.total).toBeGreaterThan(150);
  });
});
