import { noGrad, type Tensor } from '@normgrad/core';
import { describe, expect, it } from 'vitest';
import { avgPool2d, conv2d, crossEntropy, linear, logSoftmax, maxPool2d, mseLoss, softmax, type Reduction } from '../src/index.js';
import { assignInPlace } from '@normgrad/core';
import { expectAllclose, fromFixture, loadFixtures, type FunctionCase, type NormStepRecord } from './helpers.js';
import { buildNormLayer, type NormLayer } from './layers-from-fixtures.js';

const fixtures = loadFixtures();

function runStep(layer: NormLayer, step: NormStepRecord, label: string): void {
  layer.zeroGrad();
  const x = fromFixture(step.x, 'float64', true);
  const y = layer.forward(x);
  y.mul(fromFixture(step.g)).sum().backward();
  expectAllclose(y, step.y, `${label} y`);
  expectAllclose(x.grad, step.gradInput, `${label} gradInput`);
  expectAllclose(layer.weight?.grad, step.gradWeight, `${label} gradWeight`);
  expectAllclose(layer.bias?.grad, step.gradBias, `${label} gradBias`);
  if (step.runningMean) {
    const withStats = layer as NormLayer & { runningMean: Tensor | null; runningVar: Tensor | null; numBatchesTracked: number };
    expectAllclose(withStats.runningMean, step.runningMean, `${label} runningMean`);
    expectAllclose(withStats.runningVar, step.runningVar, `${label} runningVar`);
    expect(withStats.numBatchesTracked, `${label} numBatchesTracked`).toBe(step.numBatchesTracked);
  } else {
    expect('runningMean' in layer ? layer.runningMean : null, `${label}: no running statistics`).toBeNull();
  }
}

describe(`norm layers match PyTorch ${fixtures.torch} (float64)`, () => {
  it.each(fixtures.norms.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const layer = buildNormLayer(c);
    noGrad(() => {
      if (c.weight) assignInPlace(layer.weight!, fromFixture(c.weight));
      if (c.bias) assignInPlace(layer.bias!, fromFixture(c.bias));
    });
    expect(Object.keys(layer.stateDict()), 'state dict keys').toEqual(c.stateDictKeys);
    expect(layer.weight === null).toBe(c.weight === null);
    expect(layer.bias === null).toBe(c.bias === null);
    layer.train();
    c.train.forEach((step, i) => runStep(layer, step, `${c.name} train step ${i + 1}`));
    layer.eval();
    runStep(layer, c.eval, `${c.name} eval`);
  });
});

describe('norm layers in float32 stay accurate for a large mean and a small spread', () => {
  it.each(fixtures.float32Stability.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const layer = buildNormLayer(c, 'float32');
    const y = layer.forward(fromFixture(c.x, 'float32'));
    expect(y.dtype).toBe('float32');
    // ulp(1e4) in float32 is ~1e-3, so the stored mean alone is off by up to ~5e-4 of a unit spread
    expectAllclose(y, c.y, `${c.name} y`, { atol: 5e-3, rtol: 0 });
  });
});

type Inputs = Record<string, Tensor>;
type Pair = number | [number, number];
const poolOptions = (c: FunctionCase) => ({ stride: (c.options.stride as Pair | undefined) ?? null, padding: (c.options.padding as Pair | undefined) ?? 0 });
const functionsByOp: Record<string, (inputs: Inputs, c: FunctionCase) => Tensor> = {
  linear: ({ x, weight, bias }) => linear(x!, weight!, bias ?? null),
  conv2d: ({ x, weight, bias }, c) =>
    conv2d(x!, weight!, bias ?? null, { stride: c.options.stride as number | [number, number], padding: c.options.padding as number | [number, number] }),
  maxPool2d: ({ x }, c) => maxPool2d(x!, c.options.kernelSize as number | [number, number], poolOptions(c)),
  avgPool2d: ({ x }, c) => avgPool2d(x!, c.options.kernelSize as number | [number, number], poolOptions(c)),
  logSoftmax: ({ x }, c) => logSoftmax(x!, c.options.axis as number),
  softmax: ({ x }, c) => softmax(x!, c.options.axis as number),
  crossEntropy: ({ logits }, c) => crossEntropy(logits!, c.target!, { reduction: c.options.reduction as Reduction }),
  mseLoss: ({ input, target }, c) => mseLoss(input!, target!, { reduction: c.options.reduction as Reduction }),
};

describe(`functions match PyTorch ${fixtures.torch} (float64)`, () => {
  it.each(fixtures.functions.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const fn = functionsByOp[c.op];
    expect(fn, `no function for op ${c.op}`).toBeDefined();
    const inputs: Inputs = Object.fromEntries(Object.entries(c.inputs).map(([name, t]) => [name, fromFixture(t, 'float64', true)]));
    const y = fn!(inputs, c);
    expectAllclose(y, c.y, `${c.name} y`);
    y.mul(fromFixture(c.g)).sum().backward();
    for (const [name, expected] of Object.entries(c.grads)) expectAllclose(inputs[name]!.grad, expected, `${c.name} grad ${name}`);
  });
});
