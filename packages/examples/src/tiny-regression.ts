/**
 * A tiny model trained with core ops only: a one-hidden-layer tanh network fitted to
 * y = sin(3x) by plain gradient descent, with the gradients from valueAndGrad.
 */
import { randn, tensor, valueAndGrad, noGrad, linspaceLike, type Tensor } from './helpers.js';

const inputs = linspaceLike(-1, 1, 64).reshape([64, 1]);
const targets = inputs.mul(3).sin();

const hidden = 32;
let parameters: Tensor[] = [
  randn([1, hidden], { seed: 1 }).mul(1.0),
  tensor(new Float32Array(hidden), { shape: [1, hidden] }),
  randn([hidden, 1], { seed: 2 }).mul(1 / Math.sqrt(hidden)),
  tensor([[0]]),
];

function predict(w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor): Tensor {
  return inputs.matmul(w1).add(b1).tanh().matmul(w2).add(b2);
}

const loss = (w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor): Tensor => predict(w1, b1, w2, b2).sub(targets).square().mean();
const lossAndGradients = valueAndGrad(loss, { argnums: [0, 1, 2, 3] });

const learningRate = 0.2;
const steps = 1500;
const started = performance.now();
for (let step = 0; step <= steps; step++) {
  const [value, gradients] = lossAndGradients(...(parameters as [Tensor, Tensor, Tensor, Tensor]));
  if (step % 300 === 0) console.log(`step ${String(step).padStart(4)}  loss ${value.item().toFixed(5)}`);
  parameters = noGrad(() => parameters.map((parameter, index) => parameter.sub(gradients[index]!.mul(learningRate))));
}
const finalLoss = loss(...(parameters as [Tensor, Tensor, Tensor, Tensor])).item();
console.log(`fitted sin(3x) with a 1-${hidden}-1 tanh network: final mean squared error ${finalLoss.toFixed(5)} in ${((performance.now() - started) / 1000).toFixed(2)} s`);
