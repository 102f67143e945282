import { manualSeed, noGrad, randn, tensor, toDot, type Tensor } from '@normgrad/core';
import { BatchNorm1d, Linear, ReLU, Sequential, crossEntropy } from '@normgrad/nn';
import { Adam } from '@normgrad/optim';
import { deserializeSafetensors, fromTorchStateDict, serializeSafetensors, toTorchStateDict } from '@normgrad/io';
import { allclose } from '@normgrad/testing';

/**
 * The training run of the browser page (packages/examples/web/): a small MLP with BatchNorm1d
 * learns three interleaved spirals with Adam. It imports only the packages' public entries, so
 * the page's bundle and Node run the same code; the browser test compares their values.
 */
export interface SpiralTrainingOptions {
  /** Adam steps (full batch). Default 60. */
  steps?: number;
  /** Seeds the data, the initialization and every random draw. Default 0. */
  seed?: number;
  /** Called after every step with its index and loss (e.g. to redraw a plot). */
  onStep?: (step: number, loss: number) => void;
}

export interface SpiralTrainingResult {
  losses: number[];
  /** Training accuracy of the final model in eval mode. */
  accuracy: number;
  /** The final model's eval logits on the training points, row-major. */
  logits: number[];
  /** BatchNorm1d's forward as Graphviz DOT text (core's toDot). */
  normGraph: string;
  /** Size of the trained model as a safetensors file (PyTorch's key names). */
  safetensorsBytes: number;
  /** Whether a fresh model loaded from those bytes gives the same eval logits. */
  reloadedEqual: boolean;
}

const CLASSES = 3;
const POINTS_PER_CLASS = 32;

/** Three spiral arms of POINTS_PER_CLASS points each, with seeded noise: points (N, 2) and labels. */
export function spirals(seed: number): { points: Tensor; labels: number[] } {
  const noise = randn([CLASSES * POINTS_PER_CLASS, 2], { dtype: 'float64', seed }).toFloat64Array();
  const values: number[] = [];
  const labels: number[] = [];
  for (let c = 0; c < CLASSES; c++) {
    for (let i = 0; i < POINTS_PER_CLASS; i++) {
      const radius = (i + 1) / POINTS_PER_CLASS;
      const angle = (c * 2 * Math.PI) / CLASSES + radius * 4;
      const row = c * POINTS_PER_CLASS + i;
      values.push(radius * Math.cos(angle) + 0.04 * noise[2 * row]!, radius * Math.sin(angle) + 0.04 * noise[2 * row + 1]!);
      labels.push(c);
    }
  }
  return { points: tensor(Float32Array.from(values), { shape: [CLASSES * POINTS_PER_CLASS, 2] }), labels };
}

export function trainSpirals(options: SpiralTrainingOptions = {}): SpiralTrainingResult {
  const { steps = 60, seed = 0, onStep } = options;
  const { points, labels } = spirals(seed);
  manualSeed(seed);
  const makeModel = (norm: BatchNorm1d) => new Sequential(new Linear(2, 32), norm, new ReLU(), new Linear(32, 32), new ReLU(), new Linear(32, CLASSES));
  const norm = new BatchNorm1d(32);
  const model = makeModel(norm);
  const optimizer = new Adam(model.parameters(), { lr: 0.02 });
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    optimizer.zeroGrad();
    const loss = crossEntropy(model.forward(points), labels);
    loss.backward();
    optimizer.step();
    losses.push(loss.item());
    onStep?.(step, loss.item());
  }
  model.eval();
  const logits = noGrad(() => model.forward(points));
  const values = Array.from(logits.toFloat64Array());
  const correct = labels.filter((label, row) => {
    const scores = values.slice(row * CLASSES, (row + 1) * CLASSES);
    return scores.indexOf(Math.max(...scores)) === label;
  }).length;
  // the trained model through safetensors bytes (as a download would hold them) into a fresh model
  const bytes = serializeSafetensors(toTorchStateDict(model.stateDict()), { metadata: { format: 'pt' } });
  const reloaded = makeModel(new BatchNorm1d(32));
  reloaded.loadStateDict(fromTorchStateDict(deserializeSafetensors(bytes)));
  reloaded.eval();
  const reloadedEqual = allclose(noGrad(() => reloaded.forward(points)), logits, { rtol: 0, atol: 0 }).pass;
  // the graph of one training-mode forward of the trained BatchNorm1d on a small probe batch
  const probe = randn([4, 32], { seed: seed + 1, requiresGrad: true });
  norm.train();
  const normGraph = toDot(norm.forward(probe), { names: { input: probe, weight: norm.weight!, bias: norm.bias! }, graphName: 'BatchNorm1d' });
  return { losses, accuracy: correct / labels.length, logits: values, normGraph, safetensorsBytes: bytes.length, reloadedEqual };
}
