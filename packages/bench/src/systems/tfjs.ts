import { createRequire } from 'node:module';
import path from 'node:path';
import { mlpCheckedGradients, mlpParameterNames, oneHot, tinyOpsInputNames, type Input, type Workload, type WorkloadId } from '../workloads.js';
import { notWrittenForPeer, peerWorkloads, type Case, type Results, type System } from './system.js';

type Tf = typeof import('@tensorflow/tfjs');
type Tensor = import('@tensorflow/tfjs').Tensor;
type Backend = 'wasm' | 'cpu';

const eps = 1e-5;

async function loadTf(backend: Backend): Promise<Tf> {
  const tf = await import('@tensorflow/tfjs');
  if (backend === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const require = createRequire(import.meta.url);
    wasm.setWasmPaths(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`tf.setBackend('${backend}') returned false`);
  await tf.ready();
  return tf;
}

const read = (t: Tensor): Float32Array => t.dataSync() as Float32Array;

/** W1–W3: loss = sum(norm(x)·g) with tf.grads; `normalize` maps (x, gamma, beta) to y. */
function normCase(tf: Tf, workload: Workload, normalize: (x: Tensor, gamma: Tensor, beta: Tensor) => Tensor): Case {
  const make = (input: Input): Tensor => tf.tensor(input.data, input.shape, 'float32');
  const [x, g, gamma, beta] = ['x', 'g', 'gamma', 'beta'].map((name) => make(workload.inputs[name]!));
  const gradients = tf.grads((xs: Tensor, gs: Tensor, bs: Tensor) => tf.sum(tf.mul(normalize(xs, gs, bs), g!)));
  const iterate = (): Tensor[] => tf.tidy(() => gradients([x!, gamma!, beta!]));
  return {
    async check() {
      const y = tf.tidy(() => normalize(x!, gamma!, beta!));
      const [dx, dgamma, dbeta] = iterate() as [Tensor, Tensor, Tensor];
      const results = { y: read(y), dx: read(dx), dgamma: read(dgamma), dbeta: read(dbeta) };
      tf.dispose([y, dx, dgamma, dbeta]);
      return results;
    },
    step: () => tf.dispose(iterate()),
    dispose: () => tf.dispose([x!, g!, gamma!, beta!]),
  };
}

/** (x − mean)·rsqrt(var + eps) over `axes` (biased variance), keeping dims. */
function standardize(tf: Tf, x: Tensor, axes: number[]): Tensor {
  const mean = tf.mean(x, axes, true);
  const centred = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centred), axes, true);
  return tf.mul(centred, tf.rsqrt(tf.add(variance, eps)));
}

function batchNorm(tf: Tf, workload: Workload): Case {
  const channels = workload.sizes.batchNorm[1];
  return normCase(tf, workload, (x, gamma, beta) =>
    tf.add(tf.mul(standardize(tf, x, [0, 2, 3]), tf.reshape(gamma, [1, channels, 1, 1])), tf.reshape(beta, [1, channels, 1, 1])));
}

function layerNorm(tf: Tf, workload: Workload): Case {
  return normCase(tf, workload, (x, gamma, beta) => tf.add(tf.mul(standardize(tf, x, [1]), gamma), beta));
}

function groupNorm(tf: Tf, workload: Workload): Case {
  const [n, c, h, w] = workload.sizes.groupNorm;
  const groups = workload.sizes.groups;
  return normCase(tf, workload, (x, gamma, beta) => {
    const normalized = tf.reshape(standardize(tf, tf.reshape(x, [n, groups, (c / groups) * h * w]), [2]), [n, c, h, w]);
    return tf.add(tf.mul(normalized, tf.reshape(gamma, [1, c, 1, 1])), tf.reshape(beta, [1, c, 1, 1]));
  });
}

function mlp(tf: Tf, workload: Workload): Case {
  const classes = workload.sizes.mlp[3];
  const xInput = workload.inputs['x']!;
  const x = tf.tensor(xInput.data, xInput.shape, 'float32');
  const targets = tf.tensor(oneHot(workload.labels!, classes), [workload.sizes.batch, classes], 'float32');
  const variables = Object.fromEntries(
    mlpParameterNames.map((name) => [name, tf.variable(tf.tensor(workload.inputs[name]!.data, workload.inputs[name]!.shape, 'float32'))]),
  ) as Record<(typeof mlpParameterNames)[number], import('@tensorflow/tfjs').Variable>;
  const variableList = mlpParameterNames.map((name) => variables[name]);
  const optimizer = tf.train.adam(1e-3, 0.9, 0.999, 1e-8);
  const linear = (h: Tensor, layer: 'fc1' | 'fc2' | 'fc3'): Tensor =>
    tf.add(tf.matMul(h, variables[`${layer}.weight`], false, true), variables[`${layer}.bias`]);
  const bnRelu = (h: Tensor, layer: 'bn1' | 'bn2'): Tensor =>
    tf.relu(tf.add(tf.mul(standardize(tf, h, [0]), variables[`${layer}.weight`]), variables[`${layer}.bias`]));
  const loss = (): import('@tensorflow/tfjs').Scalar => {
    const logits = linear(bnRelu(linear(bnRelu(linear(x, 'fc1'), 'bn1'), 'fc2'), 'bn2'), 'fc3');
    return tf.neg(tf.mean(tf.sum(tf.mul(targets, tf.logSoftmax(logits)), 1))) as import('@tensorflow/tfjs').Scalar;
  };
  return {
    async check() {
      const { value, grads } = tf.variableGrads(loss, variableList);
      const results: Results = { loss: read(value) };
      for (const name of mlpCheckedGradients) results[name] = read(grads[variables[name].name]!);
      optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
      tf.dispose([value, ...Object.values(grads)]);
      return results;
    },
    step: () => void optimizer.minimize(loss, false, variableList),
    dispose() {
      optimizer.dispose();
      tf.dispose([x, targets, ...variableList]);
    },
  };
}

function matmul(tf: Tf, workload: Workload): Case {
  const [a, b] = ['a', 'b'].map((name) => tf.tensor(workload.inputs[name]!.data, workload.inputs[name]!.shape, 'float32')) as [Tensor, Tensor];
  return {
    async check() {
      const c = tf.matMul(a, b);
      const results = { c: read(c) };
      c.dispose();
      return results;
    },
    step: () => tf.matMul(a, b).dispose(),
    dispose: () => tf.dispose([a, b]),
  };
}

function elementwise(tf: Tf, workload: Workload): Case {
  const [a, b, c] = ['a', 'b', 'c'].map((name) => tf.tensor(workload.inputs[name]!.data, workload.inputs[name]!.shape, 'float32')) as [Tensor, Tensor, Tensor];
  const iterate = (): Tensor[] =>
    tf.tidy(() => {
      const y = tf.add(tf.mul(a, b), c);
      return [y, tf.sum(y)];
    });
  return {
    async check() {
      const [y, total] = iterate() as [Tensor, Tensor];
      const results = { y: read(y), sum: read(total) };
      tf.dispose([y, total]);
      return results;
    },
    step: () => tf.dispose(iterate()),
    dispose: () => tf.dispose([a, b, c]),
  };
}

/** W10: tf.grads of the chain h = tanh(h·a + b)·c (blocks times) and its sum; the loss by one more forward in the check only. */
function tinyOps(tf: Tf, workload: Workload): Case {
  const { blocks } = workload.sizes.tinyOps;
  const leaves = tinyOpsInputNames.map((name) => tf.tensor(workload.inputs[name]!.data, workload.inputs[name]!.shape, 'float32'));
  const chain = (x: Tensor, a: Tensor, b: Tensor, c: Tensor): Tensor => {
    let h = x;
    for (let k = 0; k < blocks; k++) h = tf.mul(tf.tanh(tf.add(tf.mul(h, a), b)), c);
    return tf.sum(h);
  };
  const gradients = tf.grads(chain);
  const iterate = (): Tensor[] => tf.tidy(() => gradients(leaves));
  return {
    async check() {
      const [loss, dx, da, db, dc] = [tf.tidy(() => chain(...(leaves as [Tensor, Tensor, Tensor, Tensor]))), ...iterate()] as Tensor[];
      const results = { loss: read(loss!), dx: read(dx!), da: read(da!), db: read(db!), dc: read(dc!) };
      tf.dispose([loss!, dx!, da!, db!, dc!]);
      return results;
    },
    step: () => tf.dispose(iterate()),
    dispose: () => tf.dispose(leaves),
  };
}

/**
 * TensorFlow.js 4.22 with the WASM backend (SIMD, one thread in Node) or the pure-JS CPU backend.
 * Both backends live in one process: each prepare() switches to its own backend first.
 */
export async function tfjsSystem(backend: Backend, skipped: readonly WorkloadId[] = []): Promise<System> {
  const tf = await loadTf(backend);
  return {
    name: `tfjs-${backend}`,
    skipReason: (workload) =>
      workload === 'W8' ? 'TensorFlow.js has no forward mode (jvp)'
      : !peerWorkloads.includes(workload) ? notWrittenForPeer
      : skipped.includes(workload) ? 'not run on this backend' : null,
    async prepare(workload) {
      const useBackend = async (): Promise<void> => {
        if (tf.getBackend() !== backend) await tf.setBackend(backend);
      };
      await useBackend();
      const benchCase = ((): Case => {
        switch (workload.id) {
          case 'W1': return batchNorm(tf, workload);
          case 'W2': return layerNorm(tf, workload);
          case 'W3': return groupNorm(tf, workload);
          case 'W4': return mlp(tf, workload);
          case 'W5': return matmul(tf, workload);
          case 'W6': return elementwise(tf, workload);
          case 'W10': return tinyOps(tf, workload);
          default: throw new Error(`tfjs: ${workload.id} is not run`);
        }
      })();
      const check = benchCase.check;
      return { ...benchCase, beforeStep: useBackend, check: async () => (await useBackend(), check()) };
    },
    async shutdown() {
      tf.disposeVariables();
    },
  };
}
