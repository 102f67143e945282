import { mlpCheckedGradients, mlpParameterNames, oneHot, tinyOpsInputNames, type Input, type MlpParameterName, type Workload } from '../workloads.js';
import { notWrittenForPeer, peerWorkloads, type Case, type Results, type System } from './system.js';

type Jax = typeof import('@jax-js/jax');
type JaxArray = import('@jax-js/jax').Array;
type Params = Record<MlpParameterName, JaxArray>;

/*
 * jax-js moves arrays: passing an array to any function consumes one reference, `a.ref` adds one.
 * Inputs kept across iterations are therefore passed as `a.ref`, and every output is disposed
 * (dataSync() also consumes its array).
 */

const eps = 1e-5;

/** (x − mean)·rsqrt(var + eps) over `axes` (biased variance), keeping dims; consumes x. */
function standardize(jax: Jax, x: JaxArray, axes: number[]): JaxArray {
  const np = jax.numpy;
  const mean = np.mean(x.ref, axes, { keepdims: true });
  const centred = x.sub(mean);
  const variance = np.mean(np.square(centred.ref), axes, { keepdims: true });
  return centred.mul(np.reciprocal(np.sqrt(variance.add(eps))));
}

const make = (jax: Jax, input: Input): JaxArray => jax.numpy.array(input.data).reshape(input.shape);

/** W1–W3: loss = sum(norm(x)·g), differentiated by jit(valueAndGrad) w.r.t. x, gamma and beta. */
function normCase(jax: Jax, workload: Workload, normalize: (x: JaxArray, gamma: JaxArray, beta: JaxArray) => JaxArray): Case {
  const { numpy: np } = jax;
  const [x, g, gamma, beta] = ['x', 'g', 'gamma', 'beta'].map((name) => make(jax, workload.inputs[name]!)) as JaxArray[] as [JaxArray, JaxArray, JaxArray, JaxArray];
  const loss = (xs: JaxArray, gs: JaxArray, bs: JaxArray, cotangent: JaxArray): JaxArray => np.sum(normalize(xs, gs, bs).mul(cotangent));
  const lossAndGradients = jax.jit(jax.valueAndGrad(loss, { argnums: [0, 1, 2] }));
  const forward = jax.jit(normalize);
  const iterate = () => lossAndGradients(x.ref, gamma.ref, beta.ref, g.ref);
  return {
    async check() {
      const y = forward(x.ref, gamma.ref, beta.ref);
      const [value, [dx, dgamma, dbeta]] = iterate();
      value.dispose();
      return { y: y.dataSync() as Float32Array, dx: dx.dataSync() as Float32Array, dgamma: dgamma.dataSync() as Float32Array, dbeta: dbeta.dataSync() as Float32Array };
    },
    async step() {
      const [value, gradients] = iterate();
      await jax.blockUntilReady([value, ...gradients]);
      value.dispose();
      gradients.forEach((gradient) => gradient.dispose());
    },
    dispose() {
      [x, g, gamma, beta].forEach((array) => array.dispose());
      lossAndGradients.dispose();
      forward.dispose();
    },
  };
}

function batchNorm(jax: Jax, workload: Workload): Case {
  const c = workload.sizes.batchNorm[1];
  return normCase(jax, workload, (x, gamma, beta) => standardize(jax, x, [0, 2, 3]).mul(gamma.reshape([1, c, 1, 1])).add(beta.reshape([1, c, 1, 1])));
}

function layerNorm(jax: Jax, workload: Workload): Case {
  return normCase(jax, workload, (x, gamma, beta) => standardize(jax, x, [1]).mul(gamma).add(beta));
}

function groupNorm(jax: Jax, workload: Workload): Case {
  const [n, c, h, w] = workload.sizes.groupNorm;
  const groups = workload.sizes.groups;
  return normCase(jax, workload, (x, gamma, beta) =>
    standardize(jax, x.reshape([n, groups, (c / groups) * h * w]), [2])
      .reshape([n, c, h, w])
      .mul(gamma.reshape([1, c, 1, 1]))
      .add(beta.reshape([1, c, 1, 1])));
}

function mlp(jax: Jax, workload: Workload): Case {
  const { numpy: np, nn } = jax;
  const classes = workload.sizes.mlp[3];
  const [beta1, beta2, adamEps, lr] = [0.9, 0.999, 1e-8, 1e-3];
  const x = make(jax, workload.inputs['x']!);
  const targets = np.array(oneHot(workload.labels!, classes)).reshape([workload.sizes.batch, classes]);
  const mapParams = (f: (name: MlpParameterName) => JaxArray): Params =>
    Object.fromEntries(mlpParameterNames.map((name) => [name, f(name)])) as Params;
  let params = mapParams((name) => make(jax, workload.inputs[name]!));
  let firstMoments = mapParams((name) => np.zeros(workload.inputs[name]!.shape));
  let secondMoments = mapParams((name) => np.zeros(workload.inputs[name]!.shape));
  let stepCount = 0;

  const loss = (p: Params, inputs: JaxArray, oneHotTargets: JaxArray): JaxArray => {
    const linear = (h: JaxArray, layer: 'fc1' | 'fc2' | 'fc3'): JaxArray => np.matmul(h, p[`${layer}.weight`].transpose()).add(p[`${layer}.bias`]);
    const bnRelu = (h: JaxArray, layer: 'bn1' | 'bn2'): JaxArray =>
      nn.relu(standardize(jax, h, [0]).mul(p[`${layer}.weight`]).add(p[`${layer}.bias`]));
    const logits = linear(bnRelu(linear(bnRelu(linear(inputs, 'fc1'), 'bn1'), 'fc2'), 'bn2'), 'fc3');
    return np.sum(nn.logSoftmax(logits, -1).mul(oneHotTargets)).mul(-1 / workload.sizes.batch);
  };
  /** One Adam step (PyTorch's formula); correction1/2 are 1 − beta^t as arrays so jit compiles once. */
  const trainStep = jax.jit((p: Params, m: Params, v: Params, inputs: JaxArray, oneHotTargets: JaxArray, correction1: JaxArray, correction2: JaxArray) => {
    const [value, gradients] = jax.valueAndGrad(loss)(mapParams((name) => p[name].ref), inputs, oneHotTargets);
    const next = { p: {} as Params, m: {} as Params, v: {} as Params };
    for (const name of mlpParameterNames) {
      const gradient = gradients[name];
      const m1 = m[name].mul(beta1).add(gradient.ref.mul(1 - beta1));
      const v1 = v[name].mul(beta2).add(gradient.ref.mul(gradient).mul(1 - beta2));
      const denominator = np.sqrt(v1.ref.div(correction2.ref)).add(adamEps);
      next.p[name] = p[name].sub(m1.ref.div(correction1.ref).div(denominator).mul(lr));
      next.m[name] = m1;
      next.v[name] = v1;
    }
    correction1.dispose();
    correction2.dispose();
    return [value, next.p, next.m, next.v] as [JaxArray, Params, Params, Params];
  });
  const lossAndGradients = jax.valueAndGrad(loss);
  return {
    async check() {
      const [value, gradients] = lossAndGradients(mapParams((name) => params[name].ref), x.ref, targets.ref);
      const results: Results = { loss: value.dataSync() as Float32Array };
      for (const name of mlpCheckedGradients) results[name] = gradients[name].dataSync() as Float32Array;
      return results;
    },
    async step() {
      stepCount += 1;
      const corrections = [1 - beta1 ** stepCount, 1 - beta2 ** stepCount].map((value) => np.array([value])) as [JaxArray, JaxArray];
      const [value, p, m, v] = trainStep(params, firstMoments, secondMoments, x.ref, targets.ref, ...corrections);
      [params, firstMoments, secondMoments] = [p, m, v];
      await jax.blockUntilReady([value, p, m, v]);
      value.dispose();
    },
    dispose() {
      for (const tree of [params, firstMoments, secondMoments]) Object.values(tree).forEach((array) => array.dispose());
      x.dispose();
      targets.dispose();
      trainStep.dispose();
    },
  };
}

/** W8: the Hessian of the W4 loss times v, jit(jvp of grad) — JAX's forward-over-reverse hvp. */
function hessianVectorProduct(jax: Jax, workload: Workload): Case {
  const { numpy: np, nn } = jax;
  const classes = workload.sizes.mlp[3];
  const x = make(jax, workload.inputs['x']!);
  const targets = np.array(oneHot(workload.labels!, classes)).reshape([workload.sizes.batch, classes]);
  const mapParams = (f: (name: MlpParameterName) => JaxArray): Params =>
    Object.fromEntries(mlpParameterNames.map((name) => [name, f(name)])) as Params;
  const params = mapParams((name) => make(jax, workload.inputs[name]!));
  const directions = mapParams((name) => make(jax, workload.inputs[`v.${name}`]!));
  const loss = (p: Params, inputs: JaxArray, oneHotTargets: JaxArray): JaxArray => {
    const linear = (h: JaxArray, layer: 'fc1' | 'fc2' | 'fc3'): JaxArray => np.matmul(h, p[`${layer}.weight`].transpose()).add(p[`${layer}.bias`]);
    const bnRelu = (h: JaxArray, layer: 'bn1' | 'bn2'): JaxArray =>
      nn.relu(standardize(jax, h, [0]).mul(p[`${layer}.weight`]).add(p[`${layer}.bias`]));
    const logits = linear(bnRelu(linear(bnRelu(linear(inputs, 'fc1'), 'bn1'), 'fc2'), 'bn2'), 'fc3');
    return np.sum(nn.logSoftmax(logits, -1).mul(oneHotTargets)).mul(-1 / workload.sizes.batch);
  };
  const product = jax.jit((p: Params, v: Params, inputs: JaxArray, oneHotTargets: JaxArray): Params =>
    jax.jvp((q: Params) => jax.grad(loss)(q, inputs, oneHotTargets), [p], [v])[1]);
  const iterate = () => product(mapParams((name) => params[name].ref), mapParams((name) => directions[name].ref), x.ref, targets.ref);
  return {
    async check() {
      const products = iterate();
      const results: Results = {};
      for (const name of mlpParameterNames) {
        if ((mlpCheckedGradients as readonly string[]).includes(name)) results[`hvp.${name}`] = products[name].dataSync() as Float32Array;
        else products[name].dispose();
      }
      return results;
    },
    async step() {
      const products = Object.values(iterate());
      await jax.blockUntilReady(products);
      products.forEach((array) => array.dispose());
    },
    dispose() {
      for (const tree of [params, directions]) Object.values(tree).forEach((array) => array.dispose());
      x.dispose();
      targets.dispose();
      product.dispose();
    },
  };
}

/** W10: jit(valueAndGrad) of the chain h = tanh(h·a + b)·c (blocks times) and its sum, with respect to x, a, b and c. */
function tinyOps(jax: Jax, workload: Workload): Case {
  const np = jax.numpy;
  const { blocks } = workload.sizes.tinyOps;
  const leaves = tinyOpsInputNames.map((name) => make(jax, workload.inputs[name]!)) as [JaxArray, JaxArray, JaxArray, JaxArray];
  const chain = (x: JaxArray, a: JaxArray, b: JaxArray, c: JaxArray): JaxArray => {
    let h = x;
    for (let k = 0; k < blocks; k++) {
      const last = k === blocks - 1; // the last use of a, b and c consumes them
      h = np.tanh(h.mul(last ? a : a.ref).add(last ? b : b.ref)).mul(last ? c : c.ref);
    }
    return np.sum(h);
  };
  const lossAndGradients = jax.jit(jax.valueAndGrad(chain, { argnums: [0, 1, 2, 3] }));
  const iterate = () => lossAndGradients(...(leaves.map((leaf) => leaf.ref) as [JaxArray, JaxArray, JaxArray, JaxArray]));
  return {
    async check() {
      const [value, [dx, da, db, dc]] = iterate();
      return { loss: value.dataSync() as Float32Array, dx: dx.dataSync() as Float32Array, da: da.dataSync() as Float32Array, db: db.dataSync() as Float32Array, dc: dc.dataSync() as Float32Array };
    },
    async step() {
      const [value, gradients] = iterate();
      await jax.blockUntilReady([value, ...gradients]);
      value.dispose();
      gradients.forEach((gradient) => gradient.dispose());
    },
    dispose() {
      leaves.forEach((leaf) => leaf.dispose());
      lossAndGradients.dispose();
    },
  };
}

function matmul(jax: Jax, workload: Workload): Case {
  const [a, b] = ['a', 'b'].map((name) => make(jax, workload.inputs[name]!)) as [JaxArray, JaxArray];
  const product = jax.jit((x: JaxArray, y: JaxArray) => jax.numpy.matmul(x, y));
  return {
    async check() {
      return { c: product(a.ref, b.ref).dataSync() as Float32Array };
    },
    async step() {
      const c = product(a.ref, b.ref);
      await c.blockUntilReady();
      c.dispose();
    },
    dispose() {
      a.dispose();
      b.dispose();
      product.dispose();
    },
  };
}

function elementwise(jax: Jax, workload: Workload): Case {
  const [a, b, c] = ['a', 'b', 'c'].map((name) => make(jax, workload.inputs[name]!)) as [JaxArray, JaxArray, JaxArray];
  const fused = jax.jit((x: JaxArray, y: JaxArray, z: JaxArray): [JaxArray, JaxArray] => {
    const out = x.mul(y).add(z);
    return [out.ref, jax.numpy.sum(out)];
  });
  return {
    async check() {
      const [y, total] = fused(a.ref, b.ref, c.ref);
      return { y: y.dataSync() as Float32Array, sum: total.dataSync() as Float32Array };
    },
    async step() {
      const [y, total] = fused(a.ref, b.ref, c.ref);
      await jax.blockUntilReady([y, total]);
      y.dispose();
      total.dispose();
    },
    dispose() {
      [a, b, c].forEach((array) => array.dispose());
      fused.dispose();
    },
  };
}

/** jax-js 0.1.25 on its WebAssembly device, every workload under `jit`. */
export async function jaxSystem(): Promise<System> {
  const jax = await import('@jax-js/jax');
  const devices = await jax.init('wasm');
  if (!devices.includes('wasm')) throw new Error(`jax-js init('wasm') gave devices ${JSON.stringify(devices)}`);
  jax.defaultDevice('wasm');
  return {
    name: 'jax-js',
    skipReason: (workload) => (peerWorkloads.includes(workload) ? null : notWrittenForPeer),
    async prepare(workload) {
      switch (workload.id) {
        case 'W1': return batchNorm(jax, workload);
        case 'W2': return layerNorm(jax, workload);
        case 'W3': return groupNorm(jax, workload);
        case 'W4': return mlp(jax, workload);
        case 'W5': return matmul(jax, workload);
        case 'W6': return elementwise(jax, workload);
        case 'W8': return hessianVectorProduct(jax, workload);
        case 'W10': return tinyOps(jax, workload);
        default: throw new Error(`jax-js: ${workload.id} ${notWrittenForPeer}`);
      }
    },
    async shutdown() {},
  };
}
