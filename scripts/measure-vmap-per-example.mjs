// Per-example gradients of W4's MLP with LayerNorm instead of BatchNorm (784-256-256-10, MSE loss,
// batch 64): vmap(grad) against a loop of 64 grads, medians in ms. Run after `npx tsc -b`:
//   node scripts/measure-vmap-per-example.mjs [float32|float64] [inFeatures] [hidden]
import * as ng from '../packages/core/dist/index.js';
import { LayerNorm, Linear, ReLU, Sequential, functionalCall, mseLoss } from '../packages/nn/dist/index.js';

const dtype = process.argv[2] ?? 'float32';
const inFeatures = Number(process.argv[3] ?? 784);
const hidden = Number(process.argv[4] ?? 256);
const batch = 64;
ng.manualSeed(1);
const model = new Sequential(
  new Linear(inFeatures, hidden, { dtype }), new LayerNorm(hidden, { dtype }), new ReLU(),
  new Linear(hidden, hidden, { dtype }), new LayerNorm(hidden, { dtype }), new ReLU(),
  new Linear(hidden, 10, { dtype }),
);
const xs = ng.randn([batch, inFeatures], { dtype, seed: 2 });
const ys = ng.randn([batch, 10], { dtype, seed: 3 });
const names = model.namedParameters().map(([name]) => name);
const params = model.parameters().map((p) => p.detach());
const loss = (...args) => {
  const substituted = Object.fromEntries(names.map((name, i) => [name, args[i]]));
  return mseLoss(functionalCall(model, substituted, args[names.length].unsqueeze(0)), args[names.length + 1].unsqueeze(0));
};
const gradient = ng.grad(loss, { argnums: names.map((_, i) => i) });
const perExample = ng.vmap(gradient, { inDims: [...names.map(() => null), 0, 0] });
const xList = Array.from({ length: batch }, (_, i) => xs.narrow(0, i, 1).squeeze(0));
const yList = Array.from({ length: batch }, (_, i) => ys.narrow(0, i, 1).squeeze(0));
const byVmap = () => perExample(...params, xs, ys).map((g) => (g.data, g));
const byLoop = () => xList.map((x, i) => gradient(...params, x, yList[i]).map((g) => (g.data, g)));
const median = (fn, repeats) => {
  const times = Array.from({ length: repeats }, () => {
    const start = performance.now();
    fn();
    return performance.now() - start;
  });
  return times.sort((a, b) => a - b)[Math.floor(repeats / 2)];
};
for (let k = 0; k < 3; k++) { byVmap(); byLoop(); }
const vmapped = byVmap();
const looped = byLoop();
const maxDifference = Math.max(...vmapped.map((g, k) => g.sub(ng.stack(looped.map((grads) => grads[k]), 0)).abs().max().item()));
const vmapMs = median(byVmap, 11);
const loopMs = median(byLoop, 5);
console.log(JSON.stringify({ dtype, inFeatures, hidden, batch, vmapMs: +vmapMs.toFixed(1), loopMs: +loopMs.toFixed(1), ratio: +(vmapMs / loopMs).toFixed(3), maxDifference }));
