import { grad, hvp, noGrad, tensor, type DType, type Tensor } from '@normgrad/core';
import { BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm, Linear, ReLU, Sequential, crossEntropy, functionalCall, type Module } from '@normgrad/nn';
import { Adam } from '@normgrad/optim';
import { mlpCheckedGradients, mlpParameterNames, type Input, type Workload } from '../workloads.js';
import type { Case, Results, System } from './system.js';

const toTensor = (input: Input, dtype: DType, requiresGrad = false): Tensor =>
  tensor(input.data, { shape: input.shape, dtype, requiresGrad });

const input = (workload: Workload, name: string): Input => {
  const found = workload.inputs[name];
  if (!found) throw new Error(`bench: workload ${workload.id} has no input '${name}'`);
  return found;
};

const gradOf = (t: Tensor | null, name: string): Float32Array | Float64Array | Int32Array => {
  if (!t?.grad) throw new Error(`bench: normgrad produced no gradient for ${name}`);
  return t.grad.toTypedArray();
};

/** W1–W3: a norm layer, loss = sum(y·g), backward to x, weight and bias. */
function normCase(layer: Module & { weight: Tensor | null; bias: Tensor | null }, workload: Workload, dtype: DType): Case {
  noGrad(() => layer.loadStateDict({ weight: toTensor(input(workload, 'gamma'), dtype), bias: toTensor(input(workload, 'beta'), dtype) }, { strict: false }));
  const x = toTensor(input(workload, 'x'), dtype, true);
  const g = toTensor(input(workload, 'g'), dtype);
  const iterate = (): Tensor => {
    x.grad = null;
    layer.zeroGrad();
    const y = layer.forward(x);
    y.mul(g).sum().backward();
    return y;
  };
  return {
    async check() {
      const y = iterate();
      return { y: y.toTypedArray(), dx: gradOf(x, 'x'), dgamma: gradOf(layer.weight, 'weight'), dbeta: gradOf(layer.bias, 'bias') };
    },
    step: () => void iterate(),
    dispose() {},
  };
}

/** Maps normgrad's Sequential state names ('0.weight', ...) to the shared MLP names ('fc1.weight', ...). */
const sequentialNames: Record<(typeof mlpParameterNames)[number], string> = {
  'fc1.weight': '0.weight', 'fc1.bias': '0.bias', 'bn1.weight': '1.weight', 'bn1.bias': '1.bias',
  'fc2.weight': '3.weight', 'fc2.bias': '3.bias', 'bn2.weight': '4.weight', 'bn2.bias': '4.bias',
  'fc3.weight': '6.weight', 'fc3.bias': '6.bias',
};

/** The W4 network with the workload's parameters (training mode). */
function makeMlp(workload: Workload, dtype: DType): Sequential {
  const [inputs, hidden1, hidden2, classes] = workload.sizes.mlp;
  const model = new Sequential(
    new Linear(inputs, hidden1, { dtype }), new BatchNorm1d(hidden1, { dtype }), new ReLU(),
    new Linear(hidden1, hidden2, { dtype }), new BatchNorm1d(hidden2, { dtype }), new ReLU(),
    new Linear(hidden2, classes, { dtype }),
  );
  const state: Record<string, Tensor> = {};
  for (const name of mlpParameterNames) state[sequentialNames[name]] = toTensor(input(workload, name), dtype);
  noGrad(() => model.loadStateDict(state, { strict: false }));
  return model;
}

/** The W4 model, optimizer and batch; `trainStep` returns the loss tensor. Exported for the leak check. */
export function makeMlpTraining(workload: Workload, dtype: DType) {
  const model = makeMlp(workload, dtype);
  const optimizer = new Adam(model.parameters(), { lr: 1e-3 });
  const x = toTensor(input(workload, 'x'), dtype);
  const labels = workload.labels!;
  const parameters = Object.fromEntries(model.namedParameters());
  const trainStep = (): Tensor => {
    optimizer.zeroGrad();
    const loss = crossEntropy(model.forward(x), labels);
    loss.backward();
    optimizer.step();
    return loss;
  };
  const gradients = (): Results => {
    const results: Results = {};
    for (const name of mlpCheckedGradients) results[name] = gradOf(parameters[sequentialNames[name]]!, name);
    return results;
  };
  return { trainStep, gradients };
}

function mlpCase(workload: Workload, dtype: DType): Case {
  const { trainStep, gradients } = makeMlpTraining(workload, dtype);
  return {
    async check() {
      const loss = trainStep(); // gradients stay on the parameters until the next zeroGrad
      return { loss: loss.toTypedArray(), ...gradients() };
    },
    step: () => void trainStep(),
    dispose() {},
  };
}

export type HvpMethod = 'forward-over-reverse' | 'reverse-over-reverse' | 'gradient';

/**
 * W8: the Hessian of the W4 loss (cross-entropy, BatchNorm on batch statistics) with respect to
 * every parameter, times the direction v: by forward-over-reverse (hvp, the jvp of the gradient)
 * or reverse-over-reverse (the gradient of ⟨gradient, v⟩). 'gradient' times one gradient of the
 * same loss, for the ratio hvp / gradient; its check still returns the hvp (by forward-over-reverse).
 */
function hvpCase(workload: Workload, dtype: DType, method: HvpMethod): Case {
  const model = makeMlp(workload, dtype);
  const names = mlpParameterNames.map((name) => sequentialNames[name]);
  const params = Object.fromEntries(model.namedParameters());
  const primals = names.map((name) => params[name]!.detach());
  const directions = mlpParameterNames.map((name) => toTensor(input(workload, `v.${name}`), dtype));
  const x = toTensor(input(workload, 'x'), dtype);
  const labels = workload.labels!;
  const loss = (...ps: Tensor[]): Tensor => crossEntropy(functionalCall(model, Object.fromEntries(names.map((name, i) => [name, ps[i]!])), x), labels);
  const argnums = names.map((_, i) => i);
  const gradient = grad(loss, { argnums });
  const alongDirections = (...ps: Tensor[]): Tensor =>
    gradient(...ps).reduce((total: Tensor | null, g, i) => (total === null ? g.mul(directions[i]!).sum() : total.add(g.mul(directions[i]!).sum())), null)!;
  const byMethod: Record<HvpMethod, () => Tensor[]> = {
    'forward-over-reverse': () => hvp(loss, primals, directions),
    'reverse-over-reverse': () => grad(alongDirections, { argnums })(...primals),
    gradient: () => gradient(...primals),
  };
  const run = byMethod[method];
  return {
    async check() {
      const products = method === 'gradient' ? byMethod['forward-over-reverse']() : run();
      const results: Results = {};
      mlpParameterNames.forEach((name, i) => {
        if ((mlpCheckedGradients as readonly string[]).includes(name)) results[`hvp.${name}`] = products[i]!.toTypedArray();
      });
      return results;
    },
    // results may be lazily fused: read their data, as the peers' steps compute theirs
    step: () => run().forEach((t) => void t.data),
    dispose() {},
  };
}

function matmulCase(workload: Workload, dtype: DType): Case {
  const a = toTensor(input(workload, 'a'), dtype);
  const b = toTensor(input(workload, 'b'), dtype);
  return {
    async check() {
      return { c: a.matmul(b).toTypedArray() };
    },
    step: () => void a.matmul(b),
    dispose() {},
  };
}

function elementwiseCase(workload: Workload, dtype: DType): Case {
  const [a, b, c] = ['a', 'b', 'c'].map((name) => toTensor(input(workload, name), dtype)) as [Tensor, Tensor, Tensor];
  const iterate = (): [Tensor, Tensor] => {
    const y = a.mul(b).add(c);
    return [y, y.sum()];
  };
  return {
    async check() {
      const [y, total] = iterate();
      return { y: y.toTypedArray(), sum: total.toTypedArray() };
    },
    // y is a lazily fused result: read its data, as the peers' steps compute y too
    step: () => void iterate()[0].data,
    dispose() {},
  };
}

/** normgrad through its public API (@normgrad/nn layers and loss, @normgrad/optim's Adam; W8 by forward-over-reverse hvp). */
export function normgradSystem(dtype: DType): System {
  return {
    name: dtype === 'float32' ? 'normgrad' : `normgrad-${dtype === 'float64' ? 'f64' : dtype}`,
    skipReason: () => null,
    async prepare(workload) {
      const { sizes } = workload;
      switch (workload.id) {
        case 'W1': return normCase(new BatchNorm2d(sizes.batchNorm[1], { dtype }), workload, dtype);
        case 'W2': return normCase(new LayerNorm(sizes.layerNorm[1], { dtype }), workload, dtype);
        case 'W3': return normCase(new GroupNorm(sizes.groups, sizes.groupNorm[1], { dtype }), workload, dtype);
        case 'W4': return mlpCase(workload, dtype);
        case 'W5': return matmulCase(workload, dtype);
        case 'W6': return elementwiseCase(workload, dtype);
        case 'W8': return hvpCase(workload, dtype, 'forward-over-reverse');
      }
    },
    async shutdown() {},
  };
}

/** W8 only, float32: the Hessian-vector product by another method, or one gradient for the ratio. */
export function normgradHvpSystem(method: Exclude<HvpMethod, 'forward-over-reverse'>): System {
  return {
    name: method === 'gradient' ? 'normgrad-gradient' : 'normgrad-ror',
    skipReason: (workload) => (workload === 'W8' ? null : 'W8 only'),
    async prepare(workload) {
      return hvpCase(workload, 'float32', method);
    },
    async shutdown() {},
  };
}
