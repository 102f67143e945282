import * as core from '@normgrad/core';
import { grad, hvp, noGrad, tensor, valueAndGrad, type DType, type Tensor } from '@normgrad/core';
import {
  BatchNorm1d, BatchNorm2d, Conv2d, Flatten, GroupNorm, LayerNorm, Linear, MaxPool2d, ReLU, Sequential, crossEntropy, functionalCall, type Module,
} from '@normgrad/nn';
import { Adam } from '@normgrad/optim';
import {
  convnetCheckedGradients, convnetFeatures, convnetParameterNames, mlpCheckedGradients, mlpParameterNames, oneHot, perSampleLargeParameter,
  perSampleParameterNames, tinyOpsInputNames, type Input, type Workload, type WorkloadId,
} from '../workloads.js';
import type { Case, Results, System } from './system.js';

/** A function of tensors returning tensors: the unit the compiled column hands to `compile`. */
type TensorFunction = (...args: Tensor[]) => Tensor[];
/** What the compiled column does to a workload's function (eager: nothing; compiled: core's `compile`). */
type Transform = <F extends TensorFunction>(fn: F) => F;
/** core's `compile(fn, options): typeof fn` (API.md, Round 2; `refillResults` since round 2's seventh session: a build without it ignores it). */
type Compile = <F extends TensorFunction>(fn: F, options?: { refillResults?: boolean }) => F;
/** core's `vmap(f, { inDims })` (API.md, Round 2), here for a function returning several tensors. */
type Vmap = (f: TensorFunction, options: { inDims: (number | null)[] }) => TensorFunction;

/** An export of @normgrad/core that this build may not have yet (compile, vmap): the function, or null. */
function optionalCoreExport(name: 'compile' | 'vmap'): unknown {
  const found: unknown = (core as Record<string, unknown>)[name];
  return typeof found === 'function' ? found : null;
}
export const coreCompile = optionalCoreExport('compile') as Compile | null;
export const coreVmap = optionalCoreExport('vmap') as Vmap | null;
export const compileMissingNote = '@normgrad/core does not export compile in this build';
export const vmapMissingNote = '@normgrad/core does not export vmap in this build';

const toTensor = (input: Input, dtype: DType, requiresGrad = false): Tensor =>
  tensor(input.data, { shape: input.shape, dtype, requiresGrad });

const input = (workload: Workload, name: string): Input => {
  const found = workload.inputs[name];
  if (!found) throw new Error(`bench: workload ${workload.id} has no input '${name}'`);
  return found;
};

const gradOf = (t: Tensor | null, name: string): Tensor => {
  if (!t?.grad) throw new Error(`bench: normgrad produced no gradient for ${name}`);
  return t.grad;
};

/**
 * One workload for normgrad: `build(transform)` returns the iteration, a function of `inputs`
 * whose returned tensors are the results (in `names` order). The eager column builds it with the
 * identity, the compiled column with `compile`. A timed step reads every result's data, so lazily
 * fused results are computed in the step, in both columns.
 */
interface Program {
  inputs: Tensor[];
  names: string[];
  build(transform: Transform): TensorFunction;
  /** Converts the first iteration's results (default: each to a typed array under its name). */
  results?: (outputs: Tensor[]) => Results;
  /**
   * The iteration calls the transformed function several times and keeps every call's results (the
   * W11 loop), so the compiled column compiles it without `refillResults`.
   */
  keepsResults?: true;
}

const identity: Transform = (fn) => fn;

function programCase(program: Program, transform: Transform): Case {
  const iterate = program.build(transform);
  return {
    async check() {
      const outputs = iterate(...program.inputs);
      if (program.results) return program.results(outputs);
      return Object.fromEntries(program.names.map((name, i) => [name, outputs[i]!.toTypedArray()]));
    },
    step: () => iterate(...program.inputs).forEach((t) => void t.data),
    dispose() {},
  };
}

/**
 * W1–W3: a norm layer in training mode, loss = sum(y·g), its gradient with respect to x, weight
 * and bias by `grad` (x does not require grad, so that `compile` traces the whole function rather
 * than running it eagerly to keep its results differentiable).
 */
function normProgram(layer: Module & { weight: Tensor | null; bias: Tensor | null }, workload: Workload, dtype: DType): Program {
  noGrad(() => layer.loadStateDict({ weight: toTensor(input(workload, 'gamma'), dtype), bias: toTensor(input(workload, 'beta'), dtype) }, { strict: false }));
  const [weight, bias] = [layer.weight!.detach(), layer.bias!.detach()];
  const loss = (x: Tensor, w: Tensor, b: Tensor, g: Tensor): Tensor => functionalCall(layer, { weight: w, bias: b }, x).mul(g).sum();
  const gradient = grad(loss, { argnums: [0, 1, 2] });
  const [x, g] = [toTensor(input(workload, 'x'), dtype), toTensor(input(workload, 'g'), dtype)];
  return {
    inputs: [x, g],
    names: ['dx', 'dgamma', 'dbeta'],
    build: (transform) => transform((xs: Tensor, gs: Tensor) => gradient(xs, weight, bias, gs)),
    // y too, from one more forward outside the timed function (it moves the running statistics once more, which no result reads)
    results: ([dx, dgamma, dbeta]) => ({
      y: noGrad(() => functionalCall(layer, { weight, bias }, x)).toTypedArray(),
      dx: dx!.toTypedArray(), dgamma: dgamma!.toTypedArray(), dbeta: dbeta!.toTypedArray(),
    }),
  };
}

/** Maps normgrad's Sequential state names ('0.weight', ...) to the shared MLP names ('fc1.weight', ...). */
const mlpSequentialNames: Record<string, string> = {
  'fc1.weight': '0.weight', 'fc1.bias': '0.bias', 'bn1.weight': '1.weight', 'bn1.bias': '1.bias', 'ln1.weight': '1.weight', 'ln1.bias': '1.bias',
  'fc2.weight': '3.weight', 'fc2.bias': '3.bias', 'bn2.weight': '4.weight', 'bn2.bias': '4.bias', 'ln2.weight': '4.weight', 'ln2.bias': '4.bias',
  'fc3.weight': '6.weight', 'fc3.bias': '6.bias',
};
const convnetSequentialNames: Record<string, string> = {
  'conv1.weight': '0.weight', 'conv1.bias': '0.bias', 'bn1.weight': '1.weight', 'bn1.bias': '1.bias',
  'conv2.weight': '4.weight', 'conv2.bias': '4.bias', 'bn2.weight': '5.weight', 'bn2.bias': '5.bias',
  'fc.weight': '9.weight', 'fc.bias': '9.bias',
};

function loadParameters(model: Module, workload: Workload, dtype: DType, names: readonly string[], sequentialNames: Record<string, string>): void {
  const state: Record<string, Tensor> = {};
  for (const name of names) state[sequentialNames[name]!] = toTensor(input(workload, name), dtype);
  noGrad(() => model.loadStateDict(state, { strict: false }));
}

/** The W4 network (BatchNorm1d) or the W11 network (LayerNorm) with the workload's parameters (training mode). */
function makeMlp(workload: Workload, dtype: DType, norm: 'batch' | 'layer' = 'batch'): Sequential {
  const [inputs, hidden1, hidden2, classes] = workload.sizes.mlp;
  const normLayer = (features: number): Module => (norm === 'batch' ? new BatchNorm1d(features, { dtype }) : new LayerNorm(features, { dtype }));
  const model = new Sequential(
    new Linear(inputs, hidden1, { dtype }), normLayer(hidden1), new ReLU(),
    new Linear(hidden1, hidden2, { dtype }), normLayer(hidden2), new ReLU(),
    new Linear(hidden2, classes, { dtype }),
  );
  loadParameters(model, workload, dtype, norm === 'batch' ? mlpParameterNames : perSampleParameterNames, mlpSequentialNames);
  return model;
}

/**
 * The demo's convnet (packages/examples/src/study/model.ts) with BatchNorm, the study's default
 * first normalization: [conv 3×3 (pad 1) → BatchNorm2d → ReLU → maxpool 2] × 2 → flatten → linear.
 */
function makeConvnet(workload: Workload, dtype: DType): Sequential {
  const { channels: [channels1, channels2], classes } = workload.sizes.convnet;
  const model = new Sequential(
    new Conv2d(1, channels1, 3, { padding: 1, dtype }), new BatchNorm2d(channels1, { dtype }), new ReLU(), new MaxPool2d(2),
    new Conv2d(channels1, channels2, 3, { padding: 1, dtype }), new BatchNorm2d(channels2, { dtype }), new ReLU(), new MaxPool2d(2),
    new Flatten(), new Linear(convnetFeatures(workload.sizes), classes, { dtype }),
  );
  loadParameters(model, workload, dtype, convnetParameterNames, convnetSequentialNames);
  return model;
}

/**
 * A training step (W4, W7): zero the gradients, cross-entropy loss, backward, Adam step; the
 * results are the loss and the checked gradients (computed before the update).
 */
function trainingProgram(model: Module, workload: Workload, dtype: DType, lr: number, checked: readonly string[], sequentialNames: Record<string, string>): Program {
  const optimizer = new Adam(model.parameters(), { lr });
  const labels = workload.labels!;
  const parameters = Object.fromEntries(model.namedParameters());
  const checkedParameters = checked.map((name) => parameters[sequentialNames[name]!]!);
  return {
    inputs: [toTensor(input(workload, 'x'), dtype)],
    names: ['loss', ...checked],
    build: (transform) => transform((x: Tensor) => {
      optimizer.zeroGrad();
      const loss = crossEntropy(model.forward(x), labels);
      loss.backward();
      const gradients = checkedParameters.map((parameter, i) => gradOf(parameter, checked[i]!));
      optimizer.step();
      return [loss, ...gradients];
    }),
  };
}

/**
 * The W4 model, optimizer and batch; `trainStep` returns the loss tensor, `gradients` the checked
 * gradients the last step left on the parameters. Exported for the leak check and compile-ratio.ts.
 */
export function makeMlpTraining(workload: Workload, dtype: DType) {
  const model = makeMlp(workload, dtype);
  const program = trainingProgram(model, workload, dtype, 1e-3, mlpCheckedGradients, mlpSequentialNames);
  const iterate = program.build(identity);
  const parameters = Object.fromEntries(model.namedParameters());
  const gradients = (): Results =>
    Object.fromEntries(mlpCheckedGradients.map((name) => [name, gradOf(parameters[mlpSequentialNames[name]!]!, name).toTypedArray()]));
  return { trainStep: (): Tensor => iterate(...program.inputs)[0]!, gradients };
}

export type HvpMethod = 'forward-over-reverse' | 'reverse-over-reverse' | 'gradient';

/**
 * W8: the Hessian of the W4 loss (cross-entropy, BatchNorm on batch statistics) with respect to
 * every parameter, times the direction v: by forward-over-reverse (hvp, the jvp of the gradient)
 * or reverse-over-reverse (the gradient of ⟨gradient, v⟩). 'gradient' times one gradient of the
 * same loss, for the ratio hvp / gradient.
 */
function hvpProgram(workload: Workload, dtype: DType, method: HvpMethod): Program {
  const model = makeMlp(workload, dtype);
  const names = mlpParameterNames.map((name) => mlpSequentialNames[name]!);
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
  const byMethod: Record<HvpMethod, TensorFunction> = {
    'forward-over-reverse': (...ps) => hvp(loss, ps, directions),
    'reverse-over-reverse': (...ps) => grad(alongDirections, { argnums })(...ps),
    gradient: (...ps) => gradient(...ps),
  };
  const prefix = method === 'gradient' ? 'gradient' : 'hvp';
  return {
    inputs: primals,
    names: mlpParameterNames.map((name) => `${prefix}.${name}`),
    build: (transform) => transform(byMethod[method]),
    results: (outputs) => {
      const results: Results = {};
      mlpParameterNames.forEach((name, i) => {
        if ((mlpCheckedGradients as readonly string[]).includes(name)) results[`${prefix}.${name}`] = outputs[i]!.toTypedArray();
      });
      return results;
    },
  };
}

function matmulProgram(workload: Workload, dtype: DType): Program {
  return {
    inputs: [toTensor(input(workload, 'a'), dtype), toTensor(input(workload, 'b'), dtype)],
    names: ['c'],
    build: (transform) => transform((a: Tensor, b: Tensor) => [a.matmul(b)]),
  };
}

/** W6: y = a·b + c and its sum; the step reads y's data, as the peers compute y too. */
function elementwiseProgram(workload: Workload, dtype: DType): Program {
  return {
    inputs: ['a', 'b', 'c'].map((name) => toTensor(input(workload, name), dtype)),
    names: ['y', 'sum'],
    build: (transform) => transform((a: Tensor, b: Tensor, c: Tensor) => {
      const y = a.mul(b).add(c);
      return [y, y.sum()];
    }),
  };
}

/**
 * W10, per-op overhead: h₀ = x; h_{k+1} = tanh(h_k·a + b)·c for k < blocks (4 ops each: mul, add,
 * tanh, mul); loss = sum(h_blocks); its value and gradient with respect to x, a, b and c.
 */
function tinyOpsProgram(workload: Workload, dtype: DType): Program {
  const { blocks } = workload.sizes.tinyOps;
  const chain = (x: Tensor, a: Tensor, b: Tensor, c: Tensor): Tensor => {
    let h = x;
    for (let k = 0; k < blocks; k++) h = h.mul(a).add(b).tanh().mul(c);
    return h.sum();
  };
  const lossAndGradient = valueAndGrad(chain, { argnums: [0, 1, 2, 3] });
  return {
    inputs: tinyOpsInputNames.map((name) => toTensor(input(workload, name), dtype)),
    names: ['loss', 'dx', 'da', 'db', 'dc'],
    build: (transform) => transform((x: Tensor, a: Tensor, b: Tensor, c: Tensor) => {
      const [loss, gradients] = lossAndGradient(x, a, b, c);
      return [loss, ...gradients];
    }),
  };
}

export type PerSampleMethod = 'loop' | 'vmap';

/**
 * W11, per-sample gradients: for every example i of the batch, the gradient of
 * −Σ onehot_i · logSoftmax(model(x_i)) (the cross-entropy of one example, written with a one-hot
 * target so that it vmaps) with respect to every parameter of the LayerNorm MLP.
 * 'loop': one gradient per example (the compiled column compiles that per-example gradient and
 * replays it for each example); 'vmap': vmap(gradient) over the batch, one call returning the
 * stacked (batch, ...shape) gradient of every parameter.
 */
function perSampleProgram(workload: Workload, dtype: DType, method: PerSampleMethod): Program {
  const model = makeMlp(workload, dtype, 'layer');
  const names = perSampleParameterNames.map((name) => mlpSequentialNames[name]!);
  const params = Object.fromEntries(model.namedParameters());
  const primals = names.map((name) => params[name]!.detach());
  const batch = workload.sizes.perSampleBatch;
  const [features, , , classes] = workload.sizes.mlp;
  const x = input(workload, 'x');
  const targets = oneHot(workload.labels!, classes);
  const argnums = names.map((_, i) => i);
  const exampleLoss = (...args: Tensor[]): Tensor => {
    const ps = args.slice(0, names.length);
    const [xi, ti] = args.slice(names.length) as [Tensor, Tensor];
    const logits = functionalCall(model, Object.fromEntries(names.map((name, i) => [name, ps[i]!])), xi.reshape([1, features]));
    return logits.logSoftmax(-1).mul(ti.reshape([1, classes])).sum().neg();
  };
  const gradient: TensorFunction = grad(exampleLoss, { argnums });
  const shapes = primals.map((p) => p.shape);
  const sizes = shapes.map((shape) => shape.reduce((product, extent) => product * extent, 1));
  /** Per-sample results from one (batch, parameter size) array per parameter. */
  const stackedResults = (perParameter: (Float32Array | Float64Array)[]): Results => {
    const results: Results = {};
    perSampleParameterNames.forEach((name, p) => {
      const stacked = perParameter[p]!;
      if (name !== perSampleLargeParameter) {
        results[`ps.${name}`] = stacked;
        return;
      }
      const norms = new Float64Array(batch);
      for (let i = 0; i < batch; i++) {
        let squares = 0;
        for (let j = i * sizes[p]!; j < (i + 1) * sizes[p]!; j++) squares += stacked[j]! ** 2;
        norms[i] = Math.sqrt(squares);
      }
      results[`ps.${name}.norm`] = norms;
    });
    return results;
  };
  const arrayOf = (length: number): Float32Array | Float64Array => (dtype === 'float64' ? new Float64Array(length) : new Float32Array(length));
  if (method === 'loop') {
    const examples = Array.from({ length: batch }, (_, i) => [
      tensor(x.data.subarray(i * features, (i + 1) * features), { shape: [features], dtype }),
      tensor(targets.subarray(i * classes, (i + 1) * classes), { shape: [classes], dtype }),
    ]);
    return {
      inputs: primals,
      names: perSampleParameterNames.map((name) => `ps.${name}`),
      keepsResults: true,
      build: (transform) => {
        const exampleGradient = transform(gradient);
        return (...ps) => examples.flatMap(([xi, ti]) => exampleGradient(...ps, xi!, ti!));
      },
      results: (outputs) => {
        const perParameter = sizes.map((size) => arrayOf(batch * size));
        outputs.forEach((output, k) => perParameter[k % names.length]!.set(output.toTypedArray() as Float32Array | Float64Array, Math.floor(k / names.length) * sizes[k % names.length]!));
        return stackedResults(perParameter);
      },
    };
  }
  if (!coreVmap) throw new Error(`bench: ${vmapMissingNote}`);
  const perSample = coreVmap(gradient, { inDims: [...names.map(() => null), 0, 0] });
  return {
    inputs: [...primals, toTensor(x, dtype), tensor(targets, { shape: [batch, classes], dtype })],
    names: perSampleParameterNames.map((name) => `ps.${name}`),
    build: (transform) => transform(perSample),
    results: (outputs) => stackedResults(outputs.map((output) => output.toTypedArray() as Float32Array | Float64Array)),
  };
}

/** The program of a workload for the eager and compiled columns (float32 or float64). */
function workloadProgram(workload: Workload, dtype: DType): Program {
  const { sizes } = workload;
  switch (workload.id) {
    case 'W1': return normProgram(new BatchNorm2d(sizes.batchNorm[1], { dtype }), workload, dtype);
    case 'W2': return normProgram(new LayerNorm(sizes.layerNorm[1], { dtype }), workload, dtype);
    case 'W3': return normProgram(new GroupNorm(sizes.groups, sizes.groupNorm[1], { dtype }), workload, dtype);
    case 'W4': return trainingProgram(makeMlp(workload, dtype), workload, dtype, 1e-3, mlpCheckedGradients, mlpSequentialNames);
    case 'W5': return matmulProgram(workload, dtype);
    case 'W6': return elementwiseProgram(workload, dtype);
    case 'W7': case 'W7b': return trainingProgram(makeConvnet(workload, dtype), workload, dtype, 2e-3, convnetCheckedGradients, convnetSequentialNames);
    case 'W8': return hvpProgram(workload, dtype, 'forward-over-reverse');
    case 'W10': return tinyOpsProgram(workload, dtype);
    case 'W11': return perSampleProgram(workload, dtype, 'loop');
  }
}

/** normgrad through its public API (@normgrad/nn layers and loss, @normgrad/optim's Adam; W8 by forward-over-reverse hvp; W11 by a loop). */
export function normgradSystem(dtype: DType): System {
  return {
    name: dtype === 'float32' ? 'normgrad' : `normgrad-${dtype === 'float64' ? 'f64' : dtype}`,
    skipReason: () => null,
    prepare: async (workload) => programCase(workloadProgram(workload, dtype), identity),
    async shutdown() {},
  };
}

/**
 * The compiled column's transform: `compile` with `refillResults` (each call refills the previous
 * call's result tensors, as a training loop that drops them lets it), or plain `compile` for an
 * iteration that keeps the results of several calls.
 */
function compiledTransform(compile: Compile, program: Program): Transform {
  return program.keepsResults ? (fn) => compile(fn) : (fn) => compile(fn, { refillResults: true });
}

/** The same programs as `normgradSystem('float32')`, each iteration function passed through `compile` (skipped with a note where core has none). */
export function normgradCompiledSystem(compile: Compile | null = coreCompile): System {
  return {
    name: 'normgrad-compiled',
    skipReason: () => (compile ? null : compileMissingNote),
    prepare: async (workload) => {
      const program = workloadProgram(workload, 'float32');
      return programCase(program, compiledTransform(compile!, program));
    },
    async shutdown() {},
  };
}

/** W8 only, float32: the Hessian-vector product by another method, or one gradient for the ratio. */
export function normgradHvpSystem(method: Exclude<HvpMethod, 'forward-over-reverse'>): System {
  return {
    name: method === 'gradient' ? 'normgrad-gradient' : 'normgrad-ror',
    skipReason: (workload: WorkloadId) => (workload === 'W8' ? null : 'W8 only'),
    async prepare(workload) {
      const benchCase = programCase(hvpProgram(workload, 'float32', method), identity);
      // one gradient is timed; what is compared is the hvp (forward-over-reverse), as for every W8 column
      if (method === 'gradient') benchCase.check = programCase(hvpProgram(workload, 'float32', 'forward-over-reverse'), identity).check;
      return benchCase;
    },
    async shutdown() {},
  };
}

/** W11 only, float32: the per-sample gradients by vmap(grad) (skipped with a note where core has no vmap). */
export function normgradVmapSystem(vmapAvailable: boolean = coreVmap !== null): System {
  return {
    name: 'normgrad-vmap',
    skipReason: (workload: WorkloadId) => (workload !== 'W11' ? 'W11 only' : vmapAvailable ? null : vmapMissingNote),
    prepare: async (workload) => programCase(perSampleProgram(workload, 'float32', 'vmap'), identity),
    async shutdown() {},
  };
}

/** W11 only, float32: vmap(grad) passed through `compile` with `refillResults` (skipped with a note where core has no vmap or compile). */
export function normgradVmapCompiledSystem(compile: Compile | null = coreCompile, vmapAvailable: boolean = coreVmap !== null): System {
  return {
    name: 'normgrad-vmap-compiled',
    skipReason: (workload: WorkloadId) => (workload !== 'W11' ? 'W11 only' : !vmapAvailable ? vmapMissingNote : compile ? null : compileMissingNote),
    prepare: async (workload) => {
      const program = perSampleProgram(workload, 'float32', 'vmap');
      return programCase(program, compiledTransform(compile!, program));
    },
    async shutdown() {},
  };
}
