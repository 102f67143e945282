/**
 * Every primitive on shapes large enough to reach the WebAssembly kernels and their chunked
 * staging (over 512 KiB per operand in float64), under fusion off / fusion of every size × the
 * JavaScript and WebAssembly backends: the values and gradients are bit-identical across the four
 * settings, and the VJP passes the dot-product test. The table is keyed by primitive name, and a
 * test checks that every primitive has a row.
 */
import { describe, expect, it } from 'vitest';
import * as ng from '@normgrad/core';
import type { PrimitiveName, Settings, Tensor } from '@normgrad/core';
import { checkVjp } from '@normgrad/testing';

const configurations: Partial<Settings>[] = [
  { fusion: false, elementwiseBackend: 'js' },
  { fusion: false, elementwiseBackend: 'wasm' },
  { fusion: true, fusionMinimumSize: 1, elementwiseBackend: 'js' },
  { fusion: true, fusionMinimumSize: 1, elementwiseBackend: 'wasm' },
];

const big = [96, 1000]; // 96,000 float64 elements: 750 KiB, staged in two chunks
const x = () => ng.randn(big, { dtype: 'float64', seed: 1 });
const positive = () => ng.rand(big, { dtype: 'float64', seed: 2 }).add(0.5);
const y = () => ng.randn(big, { dtype: 'float64', seed: 3 });
/** int32 positions along axis 1 of `big`, with repeats. */
const positions = () => ng.rand(big, { dtype: 'float64', seed: 8 }).mul(1000).to('int32');

interface PathCase {
  inputs: () => Tensor[];
  fn: (...inputs: Tensor[]) => Tensor;
}

/** Each primitive applied to large inputs, followed by elementwise work so fused chains form around it. */
const cases: Record<PrimitiveName, PathCase> = {
  neg: { inputs: () => [x()], fn: (a) => a.neg().mul(a) },
  exp: { inputs: () => [x()], fn: (a) => a.mul(0.5).exp().add(a) },
  log: { inputs: () => [positive()], fn: (a) => a.log().mul(a) },
  sqrt: { inputs: () => [positive()], fn: (a) => a.sqrt().mul(a).add(1) },
  reciprocal: { inputs: () => [positive()], fn: (a) => a.reciprocal().sub(a) },
  abs: { inputs: () => [x()], fn: (a) => a.abs().mul(a).add(a.mul(0.1)) },
  sign: { inputs: () => [x()], fn: (a) => a.sign().mul(0.3).add(a.square()) },
  sin: { inputs: () => [x()], fn: (a) => a.sin().mul(a) },
  cos: { inputs: () => [x()], fn: (a) => a.cos().add(a) },
  tanh: { inputs: () => [x()], fn: (a) => a.tanh().mul(a) },
  sigmoid: { inputs: () => [x()], fn: (a) => a.sigmoid().mul(a) },
  add: { inputs: () => [x(), y()], fn: (a, b) => a.add(b).mul(a) },
  sub: { inputs: () => [x(), y()], fn: (a, b) => a.sub(b).mul(b) },
  mul: { inputs: () => [x(), y()], fn: (a, b) => a.mul(b).add(a) },
  div: { inputs: () => [x(), positive()], fn: (a, b) => a.div(b).add(b) },
  pow: { inputs: () => [positive(), x()], fn: (a, b) => a.pow(b.mul(0.5)).add(a) },
  maximum: { inputs: () => [x(), y()], fn: (a, b) => a.maximum(b).mul(a) },
  compare: { inputs: () => [x(), y()], fn: (a, b) => a.gt(b).mul(a).add(b.le(a).mul(b)) },
  where: { inputs: () => [x(), y()], fn: (a, b) => ng.where(a.gt(0), a.mul(b), b.sub(a)).mul(a) },
  sum: { inputs: () => [x()], fn: (a) => a.mul(a).sum(0).add(a.sum(1).sum()).mul(a.sum()) },
  max: { inputs: () => [x()], fn: (a) => a.mul(2).max(1).add(a.max(0).sum()) },
  reshape: { inputs: () => [x()], fn: (a) => a.mul(a).reshape([48, 2000]).mul(3) },
  broadcastTo: { inputs: () => [ng.randn([1000], { dtype: 'float64', seed: 4 }), x()], fn: (row, a) => row.broadcastTo(big).mul(a).add(row) },
  permute: { inputs: () => [x()], fn: (a) => a.mul(2).transpose().mul(a.transpose()) },
  slice: { inputs: () => [x()], fn: (a) => a.mul(a).slice([0, 96, 2], [1, 1000]).mul(2) },
  unslice: { inputs: () => [x()], fn: (a) => a.pad([[1, 2], [3, 0]], 0.5).mul(a.pad([[1, 2], [3, 0]], 0.5)) },
  concat: { inputs: () => [x(), y()], fn: (a, b) => ng.concat([a.mul(b), b], 0).mul(2) },
  matmul: { inputs: () => [ng.randn([64, 96], { dtype: 'float64', seed: 5 }), x()], fn: (w, a) => w.matmul(a.mul(0.1)).add(1) },
  unfold: { inputs: () => [ng.randn([4, 3, 64, 64], { dtype: 'float64', seed: 6 })], fn: (a) => ng.unfold(a.mul(a), 3, { padding: 1 }).mul(2) },
  fold: {
    inputs: () => [ng.randn([2, 27, 62 * 62], { dtype: 'float64', seed: 7 })],
    fn: (columns) => ng.fold(columns.mul(columns), [64, 64], 3).mul(columns.sum().mul(1e-3)),
  },
  cast: { inputs: () => [x()], fn: (a) => a.to('float32').to('float64').mul(a) },
  argmax: { inputs: () => [x()], fn: (a) => a.gather(1, a.mul(2).argmax(1, true)).mul(a.sum(1, true)) },
  argsort: { inputs: () => [x()], fn: (a) => a.gather(1, a.mul(a).argsort(1, { descending: true })).mul(a) },
  gather: { inputs: () => [x()], fn: (a) => a.mul(a).gather(1, positions()).mul(a) },
  scatterAdd: { inputs: () => [x()], fn: (a) => ng.primitives.scatterAdd([a.mul(a), positions()], { axis: 1, shape: big }).mul(a) },
};

describe('every primitive on large inputs, under every kernel setting', () => {
  it('has a row for every primitive', () => {
    expect(Object.keys(cases).sort()).toEqual(Object.keys(ng.primitives).sort());
  });

  for (const [name, { inputs, fn }] of Object.entries(cases) as [PrimitiveName, PathCase][]) {
    it(`${name}: values and gradients bit-identical across settings, and the VJP passes the dot-product test`, () => {
      const leaves = inputs();
      const results = configurations.map((configuration) =>
        ng.withSettings(configuration, () => {
          const params = leaves.map((leaf) => ng.tensor(leaf.toFloat64Array(), { dtype: 'float64', shape: leaf.shape, requiresGrad: true }));
          const out = fn(...params);
          const cotangent = ng.randn(out.shape, { dtype: 'float64', seed: 11 });
          out.backward(cotangent);
          return [out, ...params.map((param) => param.grad!)].map((tensor) => tensor.toFloat64Array());
        }),
      );
      const [reference, ...others] = results;
      others.forEach((values, index) =>
        values.forEach((array, k) => {
          const differing = array.findIndex((value, i) => !Object.is(value, reference![k]![i]));
          expect(differing, `${JSON.stringify(configurations[index + 1])} output ${k} element ${differing}`).toBe(-1);
        }),
      );
      if (name !== 'cast') {
        const vjp = checkVjp(fn, leaves);
        expect(vjp.ok, `⟨vjp(v), t⟩ ${vjp.analytic} vs ${vjp.numeric}`).toBe(true);
      }
    });
  }
});
