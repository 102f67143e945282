import { readFileSync } from 'node:fs';
import { grad, gradcheck, gradgradcheck, noGrad, tensor, type Tensor } from '@normgrad/core';
import { describe, expect, it } from 'vitest';
import { MultiheadAttention, Sequential, type MultiheadAttentionOptions } from '../src/index.js';
import { expectAllclose, fromFixture, seededTensor, type FixtureTensor } from './helpers.js';

interface AttentionCase {
  name: string;
  embedDim: number;
  numHeads: number;
  options: MultiheadAttentionOptions;
  averageAttnWeights: boolean;
  selfAttention: boolean;
  inputs: Record<string, FixtureTensor>;
  masks: { attn_mask?: FixtureTensor; key_padding_mask?: FixtureTensor };
  params: Record<string, FixtureTensor>;
  output: FixtureTensor;
  weights: FixtureTensor;
  g: FixtureTensor;
  gWeights: FixtureTensor;
  grads: Record<string, FixtureTensor>;
  v: Record<string, FixtureTensor>;
  secondGrads: Record<string, FixtureTensor>;
}
const fixtures = JSON.parse(readFileSync(new URL('./fixtures/attention.json', import.meta.url), 'utf8')) as { cases: AttentionCase[] };

/** The layer with PyTorch's parameters, and the masks and options of the call. */
function setUp(c: AttentionCase) {
  const layer = new MultiheadAttention(c.embedDim, c.numHeads, { ...c.options, dtype: 'float64' });
  layer.loadStateDict(Object.fromEntries(Object.entries(c.params).map(([k, t]) => [k, fromFixture(t)])));
  const masks = {
    attnMask: c.masks.attn_mask ? fromFixture(c.masks.attn_mask) : null,
    keyPaddingMask: c.masks.key_padding_mask ? fromFixture(c.masks.key_padding_mask) : null,
    averageAttnWeights: c.averageAttnWeights,
  };
  return { layer, inputNames: Object.keys(c.inputs), paramNames: Object.keys(c.params), masks };
}

describe('MultiheadAttention against PyTorch 1.13 nn.MultiheadAttention (float64)', () => {
  for (const c of fixtures.cases) {
    it(`${c.name}: output, weights, first and second derivatives`, () => {
      const { layer, inputNames, paramNames, masks } = setUp(c);
      const inputs = inputNames.map((n) => fromFixture(c.inputs[n]!));
      const paramValues = paramNames.map((n) => fromFixture(c.params[n]!));
      const g = fromFixture(c.g);
      const gWeights = fromFixture(c.gWeights);
      // f(inputs..., params...): the layer's parameters replaced by the arguments
      const attend = (...args: Tensor[]): { output: Tensor; weights: Tensor } => {
        const ins = args.slice(0, inputNames.length);
        const ps = args.slice(inputNames.length);
        layer.inProjWeight = ps[paramNames.indexOf('inProjWeight')]!;
        if (layer.inProjBias) layer.inProjBias = ps[paramNames.indexOf('inProjBias')]!;
        layer.outProj.weight = ps[paramNames.indexOf('outProj.weight')]!;
        if (layer.outProj.bias) layer.outProj.bias = ps[paramNames.indexOf('outProj.bias')]!;
        const [query, key, value] = c.selfAttention ? [ins[0]!, ins[0]!, ins[0]!] : (ins as [Tensor, Tensor, Tensor]);
        return layer.attention(query, key, value, masks);
      };
      const all = [...inputs, ...paramValues];
      const { output, weights } = noGrad(() => attend(...all));
      expectAllclose(output, c.output, `${c.name} output`, { atol: 1e-12, rtol: 1e-10 });
      expectAllclose(weights, c.weights, `${c.name} weights`, { atol: 1e-12, rtol: 1e-10 });
      const names = [...inputNames, ...paramNames];
      const argnums = names.map((_, i) => i);
      const first = grad((...args: Tensor[]) => {
        const r = attend(...args);
        return r.output.mul(g).sum().add(r.weights.mul(gWeights).sum());
      }, { argnums });
      const grads = first(...all) as Tensor[];
      names.forEach((n, i) => expectAllclose(grads[i], c.grads[n], `${c.name} d/d${n}`, { atol: 1e-12, rtol: 1e-10 }));
      const v = names.map((n) => fromFixture(c.v[n]!));
      const inner = (...args: Tensor[]): Tensor => (first(...args) as Tensor[]).map((d, i) => d.mul(v[i]!).sum()).reduce((a, b) => a.add(b));
      const second = grad(inner, { argnums, allowUnused: true })(...all) as Tensor[]; // the output bias enters linearly
      names.forEach((n, i) => expectAllclose(second[i], c.secondGrads[n], `${c.name} second derivative d/d${n}`, { atol: 1e-11, rtol: 1e-9 }));
    });
  }
});

describe('MultiheadAttention layer', () => {
  const f64 = { dtype: 'float64' } as const;

  it('has PyTorch\'s state-dict keys and initialization: Xavier-uniform inProjWeight, zero biases', () => {
    const layer = new MultiheadAttention(8, 2, f64);
    expect(Object.keys(layer.stateDict())).toEqual(['inProjWeight', 'inProjBias', 'outProj.weight', 'outProj.bias']);
    const bound = Math.sqrt(6 / (8 + 24));
    const w = layer.inProjWeight.toFloat64Array();
    expect(layer.inProjWeight.shape).toEqual([24, 8]);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(bound / 2);
    expect([...layer.inProjBias!.toFloat64Array(), ...layer.outProj.bias!.toFloat64Array()].every((b) => b === 0)).toBe(true);
    expect(Object.keys(new MultiheadAttention(8, 2, { bias: false }).stateDict())).toEqual(['inProjWeight', 'outProj.weight']);
  });

  it('forward is attention().output; no key and value means self-attention; batchFirst transposes the layout', () => {
    const layer = new MultiheadAttention(4, 2, f64);
    const x = seededTensor([3, 2, 4], 11);
    const mask = tensor([[0, 1, 1], [0, 0, 1], [0, 0, 0]], f64);
    expect(layer.forward(x).toFloat64Array()).toEqual(layer.attention(x, x, x).output.toFloat64Array());
    expect(layer.forward(x, x, x, null, mask).toFloat64Array()).toEqual(layer.attention(x, x, x, { attnMask: mask }).output.toFloat64Array());
    const batchFirst = new MultiheadAttention(4, 2, { batchFirst: true, ...f64 });
    batchFirst.loadStateDict(layer.stateDict());
    expectAllclose(batchFirst.forward(x.transpose(0, 1)).transpose(0, 1), layer.forward(x), 'batchFirst', { atol: 1e-15, rtol: 0 });
  });

  it('a key every query ignores (padding) has zero weight and gets no gradient', () => {
    const layer = new MultiheadAttention(4, 1, f64);
    const query = seededTensor([2, 1, 4], 3);
    const memory = seededTensor([3, 1, 4], 4, { requiresGrad: true });
    const { output, weights } = layer.attention(query, memory, memory, { keyPaddingMask: tensor([[0, 0, 1]], f64) });
    expect(Array.from(weights.toFloat64Array()).filter((_, i) => i % 3 === 2)).toEqual([0, 0]);
    output.sum().backward();
    expect(Array.from(memory.grad!.narrow(0, 2, 1).toFloat64Array())).toEqual([0, 0, 0, 0]);
  });

  it('gradcheck and gradgradcheck of masked self-attention', () => {
    const layer = new MultiheadAttention(4, 2, f64);
    const mask = tensor([[0, 1], [0, 0]], f64);
    const fn = (x: Tensor): Tensor => layer.forward(x, x, x, null, mask);
    const inputs = [seededTensor([2, 1, 4], 5, { requiresGrad: true })];
    expect(gradcheck(fn, inputs).ok).toBe(true);
    expect(gradgradcheck(fn, inputs).ok).toBe(true);
  });

  it('prints as PyTorch: no settings, the outProj child', () => {
    expect(String(new Sequential(new MultiheadAttention(6, 2)))).toBe(
      'Sequential(\n  (0): MultiheadAttention(\n    (outProj): Linear(in_features=6, out_features=6, bias=True)\n  )\n)',
    );
  });

  it('bad input is an Error naming MultiheadAttention and the values', () => {
    expect(() => new MultiheadAttention(6, 4)).toThrow(/^MultiheadAttention: numHeads must be a positive integer dividing embedDim 6, got 4/);
    expect(() => new MultiheadAttention(0, 1)).toThrow(/^MultiheadAttention: embedDim must be a positive integer, got 0/);
    expect(() => new MultiheadAttention(4, 2, { dropout: 0.1 } as MultiheadAttentionOptions)).toThrow(/^MultiheadAttention: .*dropout/);
    expect(() => new MultiheadAttention(4, 2, { batchFirst: 1 } as unknown as MultiheadAttentionOptions)).toThrow(/^MultiheadAttention: batchFirst must be a boolean, got 1/);
    const layer = new MultiheadAttention(4, 2, f64);
    const x = seededTensor([3, 2, 4], 1);
    expect(() => layer.forward(seededTensor([3, 2, 5], 1))).toThrow(/^MultiheadAttention: expected query, key and value of shape \(L, N, E\) with E = embedDim 4, got query of shape \[3, 2, 5\]/);
    expect(() => layer.forward(x, seededTensor([5, 3, 4], 2), seededTensor([5, 3, 4], 3))).toThrow(/^MultiheadAttention: key and value must have the same length and query's batch size/);
    expect(() => layer.forward(x, x, x, tensor([[0, 1]], f64))).toThrow(/^MultiheadAttention: keyPaddingMask must have shape \[2, 3\], got \[1, 2\]/);
    expect(() => layer.forward(x, x, x, null, tensor([[0, 1]], f64))).toThrow(/^MultiheadAttention: attnMask must have shape \[3, 3\] or \[4, 3, 3\], got \[1, 2\]/);
    expect(() => layer.forward(x, x, x, null, seededTensor([3, 3], 9))).toThrow(/^MultiheadAttention: the mask must hold only 0 and 1/);
    expect(() => layer.attention(x, x, x, { needWeights: true } as never)).toThrow(/^MultiheadAttention: .*needWeights/);
  });
});
