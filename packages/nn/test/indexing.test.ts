import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { grad, gradcheck, gradgradcheck, manualSeed, noGrad, randn, tensor, type Tensor } from '@normgrad/core';
import { installMatchers } from '@normgrad/testing/vitest';
import { Embedding, crossEntropy, embedding, type Reduction } from '../src/index.js';

installMatchers();

interface FixtureTensor {
  shape: number[];
  data: number[];
}

interface GradientRecord {
  g: FixtureTensor;
  y: FixtureTensor;
  grads: FixtureTensor[];
  v?: FixtureTensor[];
  hvp?: FixtureTensor[];
}

interface CrossEntropyCase extends GradientRecord {
  name: string;
  logits: FixtureTensor;
  target: FixtureTensor;
  weight: FixtureTensor | null;
  ignoreIndex?: number;
  labelSmoothing: number;
  reduction: Reduction;
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/indexing.json', import.meta.url), 'utf8')) as {
  torch: string;
  crossEntropy: CrossEntropyCase[];
  crossEntropyProbabilities: CrossEntropyCase[];
  embedding: ({ paddingIdx: number | null; weight: FixtureTensor; indices: FixtureTensor } & GradientRecord)[];
};

const float64 = (t: FixtureTensor): Tensor => tensor(Float64Array.from(t.data), { shape: t.shape });
const int32 = (t: FixtureTensor): Tensor => tensor(Int32Array.from(t.data), { shape: t.shape });
const tight = { rtol: 1e-12, atol: 1e-14 };

/** y, the gradients of sum(y · g) and, when recorded, the Hessian-vector products d⟨∇, v⟩/dx. */
function expectGradients(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], record: GradientRecord, label: string): void {
  expect(fn(...inputs), `${label} y`).toBeAllclose(record.y.data, tight);
  const argnums = inputs.map((_, index) => index);
  const gradients = (...args: Tensor[]) => grad((...xs: Tensor[]) => fn(...xs).mul(float64(record.g)).sum(), { argnums })(...args);
  gradients(...inputs).forEach((gradient, index) => expect(gradient, `${label} gradient ${index}`).toBeAllclose(record.grads[index]!.data, tight));
  if (record.hvp) {
    const inner = (...args: Tensor[]) => gradients(...args).reduce((total: Tensor, gradient, index) => total.add(gradient.mul(float64(record.v![index]!)).sum()), tensor(0, { dtype: 'float64' }));
    grad(inner, { argnums })(...inputs).forEach((hvp, index) => expect(hvp, `${label} hvp ${index}`).toBeAllclose(record.hvp![index]!.data, { rtol: 1e-10, atol: 1e-13 }));
  }
}

describe(`crossEntropy matches PyTorch ${fixture.torch} F.cross_entropy (float64): values, gradients, second derivatives`, () => {
  it.each(fixture.crossEntropy.map((c) => [c.name, c] as const))('class indices: %s', (_, c) => {
    const options = { reduction: c.reduction, weight: c.weight ? float64(c.weight) : null, ignoreIndex: c.ignoreIndex!, labelSmoothing: c.labelSmoothing };
    const target = int32(c.target);
    expectGradients((logits) => crossEntropy(logits, target, options), [float64(c.logits)], c, c.name);
  });

  it.each(fixture.crossEntropyProbabilities.map((c) => [c.name, c] as const))('class probabilities: %s (differentiable in the target too)', (_, c) => {
    const options = { reduction: c.reduction, weight: c.weight ? float64(c.weight) : null, labelSmoothing: c.labelSmoothing };
    expectGradients((logits, target) => crossEntropy(logits, target!, options), [float64(c.logits), float64(c.target)], c, c.name);
  });

  it('every target form gives the same loss: int32 tensor, Int32Array, number[] and a float tensor of indices', () => {
    const c = fixture.crossEntropy.find((item) => item.name === 'withDefaultIgnored_weight_smoothing0.1_mean')!;
    const options = { weight: float64(c.weight!), labelSmoothing: 0.1 };
    const logits = float64(c.logits);
    const forms = [int32(c.target), Int32Array.from(c.target.data), c.target.data, float64(c.target)];
    for (const target of forms) expect(crossEntropy(logits, target, options)).toBeAllclose(c.y.data, tight);
  });
});

describe('crossEntropy validates its options and targets', () => {
  const logits = tensor([[1, 2, 3], [0, 0, 1]], { dtype: 'float64' });

  it('unknown options, bad values, bad weights', () => {
    expect(() => crossEntropy(logits, [0, 1], { ignoreIdx: 1 } as never)).toThrow("crossEntropy: unknown option 'ignoreIdx' (did you mean 'ignoreIndex'?)");
    expect(() => crossEntropy(logits, [0, 1], { reduction: 'avg' as never })).toThrow('crossEntropy: reduction must be \'mean\', \'sum\' or \'none\', got "avg"');
    expect(() => crossEntropy(logits, [0, 1], { labelSmoothing: 1.5 })).toThrow('crossEntropy: labelSmoothing must be a number in [0, 1], got 1.5');
    expect(() => crossEntropy(logits, [0, 1], { ignoreIndex: 0.5 })).toThrow('crossEntropy: ignoreIndex must be an integer, got 0.5');
    expect(() => crossEntropy(logits, [0, 1], { weight: tensor([1, 2], { dtype: 'float64' }) })).toThrow('crossEntropy: weight must be a tensor of shape [3] (one per class) for logits of shape [2, 3], got shape [2]');
    expect(() => crossEntropy(logits, [0, 1], { weight: tensor([1, 2, 3]) })).toThrow(/^crossEntropy: weight has dtype float32 but the input has dtype float64/);
    expect(() => crossEntropy(logits.to('int32'), [0, 1])).toThrow('crossEntropy: logits must be float32 or float64, got an int32 tensor of shape [2, 3]');
  });

  it('targets: out of range, fractional, wrong shape; ignored ones may be anything equal to ignoreIndex', () => {
    expect(() => crossEntropy(logits, [0, -1])).toThrow('crossEntropy: target[1] = -1 is not a class index in [0, 3) for logits of shape [2, 3] (nor ignoreIndex -100)');
    expect(() => crossEntropy(logits, tensor([0, 1.5]))).toThrow('crossEntropy: target[1] = 1.5 is not a class index in [0, 3)');
    expect(() => crossEntropy(logits, tensor([[0, 1]], { dtype: 'int32' }))).toThrow('crossEntropy: target must hold 2 class indices (shape [2]) for logits of shape [2, 3], got shape [1, 2]');
    expect(() => crossEntropy(logits, tensor([[0.5, 0.5]], { dtype: 'float64' }))).toThrow('crossEntropy: probability targets must have the logits\' shape [2, 3], got [1, 2]');
    expect((crossEntropy(logits, [-1, 2], { ignoreIndex: -1, reduction: 'none' }).toArray() as number[])[0]).toBe(0);
    // every target ignored: 'mean' is 0/0 (NaN, as PyTorch)
    expect(Number.isNaN(crossEntropy(logits, [-100, -100]).item())).toBe(true);
  });

  it('gradcheck and gradgradcheck with weight, ignored targets and label smoothing, in the logits and the weight', () => {
    const x = randn([4, 3], { dtype: 'float64', seed: 5 });
    const w = tensor([0.5, 1.5, 2], { dtype: 'float64' });
    const fn = (logits: Tensor, weight: Tensor) => crossEntropy(logits, [2, -100, 0, 1], { weight, labelSmoothing: 0.2 });
    expect(gradcheck(fn, [x, w]).ok).toBe(true);
    expect(gradgradcheck(fn, [x, w]).ok).toBe(true);
  });
});

describe(`Embedding matches PyTorch ${fixture.torch} (float64)`, () => {
  it.each(fixture.embedding.map((c) => [String(c.paddingIdx), c] as const))('F.embedding with paddingIdx %s: rows and weight gradient', (_, c) => {
    const indices = int32(c.indices);
    expectGradients((weight) => embedding(indices, weight, { paddingIdx: c.paddingIdx }), [float64(c.weight)], c, `paddingIdx ${c.paddingIdx}`);
  });

  it('the layer: N(0, 1) initialization with the padding row zero, output shape [...indices, dim], no gradient into the padding row', () => {
    manualSeed(7);
    const layer = new Embedding(10, 4, { paddingIdx: -2, dtype: 'float64' });
    expect(layer.paddingIdx).toBe(8);
    expect(layer.weight.shape).toEqual([10, 4]);
    expect(layer.weight.requiresGrad).toBe(true);
    expect(layer.weight.isLeaf).toBe(true);
    expect(layer.weight.slice(8).toArray()).toEqual([0, 0, 0, 0]);
    expect(Math.abs(layer.weight.slice(3).sum().item())).toBeGreaterThan(0);
    const big = new Embedding(200, 50);
    expect(big.weight.dtype).toBe('float32');
    expect(big.weight.mean().item()).toBeCloseTo(0, 1);
    expect(big.weight.std().item()).toBeCloseTo(1, 1);
    const indices = tensor([[8, 1], [1, 8], [0, 8]], { dtype: 'int32' });
    const out = layer.forward(indices);
    expect(out.shape).toEqual([3, 2, 4]);
    out.mul(out).sum().backward();
    expect(layer.weight.grad!.slice(8).toArray()).toEqual([0, 0, 0, 0]);
    expect(layer.weight.grad!.slice(1)).toBeAllclose(layer.weight.slice(1).mul(4), tight);
    expect(Object.keys(layer.stateDict())).toEqual(['weight']);
    manualSeed(7);
    expect(new Embedding(10, 4, { paddingIdx: -2, dtype: 'float64' }).weight).toBeAllclose(layer.weight, { rtol: 0, atol: 0 });
  });

  it('validates its arguments', () => {
    expect(() => new Embedding(0, 3)).toThrow('Embedding: numEmbeddings must be a positive integer, got 0');
    expect(() => new Embedding(5, 3, { paddingIdx: 5 })).toThrow('Embedding: paddingIdx must be an integer in [-5, 5) (within numEmbeddings 5), got 5');
    expect(() => new Embedding(5, 3, { padding_idx: 1 } as never)).toThrow("Embedding: unknown option 'padding_idx'");
    expect(() => new Embedding(5, 3, { dtype: 'int32' })).toThrow('Embedding: dtype must be \'float32\' or \'float64\', got "int32"');
    const layer = new Embedding(5, 3);
    expect(() => layer.forward(tensor([1, 2]))).toThrow("Embedding: indices must be an int32 tensor (tensor(…, { dtype: 'int32' })), got a float32 tensor of shape [2]");
    expect(() => layer.forward(tensor([1, 5], { dtype: 'int32' }))).toThrow('Embedding: index 5 is out of range for axis 0 of extent 5 (input shape [5, 3]) (indices of shape [2], weight [5, 3])');
    expect(() => embedding(tensor([0], { dtype: 'int32' }), noGrad(() => randn([5])))).toThrow('embedding: weight must be a 2-D tensor (numEmbeddings, embeddingDim), got shape [5]');
  });
});
