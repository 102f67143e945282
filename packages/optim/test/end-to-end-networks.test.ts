/**
 * End to end against PyTorch 1.13 in float64: a small ResNet (two residual blocks, one with a
 * 1x1 convolution shortcut, one with the identity) and a small pre-norm transformer block
 * (Embedding, causal multi-head self-attention from Linear/matmul/softmax, GELU MLP), built only
 * from public @normgrad/nn layers, each trained 16 steps with AdamW + OneCycleLR + clipGradNorm
 * from PyTorch's initial weights on PyTorch's data; and the transformer again with nn's
 * MultiheadAttention against torch.nn.MultiheadAttention. Losses, total gradient norms and learning
 * rates must match step for step, and every parameter and buffer at the end, within 1e-10 (the
 * key part of the attention bias, whose gradient is rounding noise, within 1e-9).
 * Reference: scripts/fixtures/nn_end_to_end.py. (The test lives in optim because optim already
 * depends on nn for its tests; nn depending on optim would make a package cycle.)
 */
import { readFileSync } from 'node:fs';
import { arange, noGrad, tensor, type Tensor } from '@normgrad/core';
import {
  AdaptiveAvgPool2d,
  BatchNorm2d,
  Conv2d,
  Embedding,
  GELU,
  LayerNorm,
  Linear,
  Module,
  MultiheadAttention,
  ReLU,
  Sequential,
  clipGradNorm,
  crossEntropy,
  parameter,
} from '@normgrad/nn';
import { describe, expect, it } from 'vitest';
import { AdamW, OneCycleLR, type OneCycleLROptions } from '../src/index.js';

interface FixtureTensor {
  shape: number[];
  data: number[];
}
type FixtureState = Record<string, FixtureTensor | number>;
interface StepRecord {
  loss: number;
  gradNorm: number;
  lr: number;
}
interface Run {
  schedule: Omit<OneCycleLROptions, 'totalSteps'>;
  initial: FixtureState;
  steps: StepRecord[];
  final: FixtureState;
  evalOutput: FixtureTensor;
}
const fixture = JSON.parse(readFileSync(new URL('./fixtures/end_to_end.json', import.meta.url), 'utf8')) as {
  steps: number;
  optimizer: { lr: number; betas: [number, number]; weightDecay: number };
  maxNorm: number;
  resnet: Run & { batches: { x: FixtureTensor; target: number[] }[] };
  transformer: Run & { vocab: number; width: number; length: number; heads: number; batches: { tokens: number[][]; target: number[][] }[] };
  attentionLayer: Run & { labelSmoothing: number };
};

const TOLERANCE = 1e-10;

function fromFixture(t: FixtureTensor): Tensor {
  return tensor(Float64Array.from(t.data), { shape: t.shape, dtype: 'float64' });
}

function int32(rows: number[][]): Tensor {
  return tensor(Int32Array.from(rows.flat()), { shape: [rows.length, rows[0]!.length], dtype: 'int32' });
}

/** Largest |a − b| / max(1, |b|) over the elements. */
/** Largest |a − b| / max(1, |b|) over the elements whose flat index `include` accepts (default all). */
function worstError(actual: Tensor, expected: FixtureTensor, include: (index: number) => boolean = () => true): number {
  expect(actual.shape).toEqual(expected.shape);
  const values = actual.toFloat64Array();
  return expected.data.reduce((worst, e, i) => (include(i) ? Math.max(worst, Math.abs(values[i]! - e) / Math.max(1, Math.abs(e))) : worst), 0);
}

/**
 * The key third of a packed [q; k; v] bias has a zero gradient in exact arithmetic (softmax is
 * unchanged by a shift every key shares), so AdamW moves it by rounding noise divided by eps and
 * it follows PyTorch's only to this bound; the q and v thirds are held to TOLERANCE.
 */
const KEY_BIAS_TOLERANCE = 1e-9;

function loadInitial(model: Module, state: FixtureState): void {
  model.loadStateDict(
    Object.fromEntries(Object.entries(state).map(([key, value]) => [key, typeof value === 'number' ? tensor(value, { dtype: 'float64' }) : fromFixture(value)])),
  );
}

class ResidualBlock extends Module {
  conv1: Conv2d;
  bn1: BatchNorm2d;
  conv2: Conv2d;
  bn2: BatchNorm2d;
  relu = new ReLU();
  downsample: Sequential | null;

  constructor(inChannels: number, outChannels: number, stride: number) {
    super();
    const dtype = 'float64';
    this.conv1 = new Conv2d(inChannels, outChannels, 3, { stride, padding: 1, bias: false, dtype });
    this.bn1 = new BatchNorm2d(outChannels, { dtype });
    this.conv2 = new Conv2d(outChannels, outChannels, 3, { padding: 1, bias: false, dtype });
    this.bn2 = new BatchNorm2d(outChannels, { dtype });
    this.downsample =
      stride !== 1 || inChannels !== outChannels
        ? new Sequential(new Conv2d(inChannels, outChannels, 1, { stride, bias: false, dtype }), new BatchNorm2d(outChannels, { dtype }))
        : null;
  }

  forward(x: Tensor): Tensor {
    const out = this.bn2.forward(this.conv2.forward(this.relu.forward(this.bn1.forward(this.conv1.forward(x)))));
    const shortcut = this.downsample === null ? x : this.downsample.forward(x);
    return this.relu.forward(out.add(shortcut));
  }
}

class ResNet extends Module {
  block1 = new ResidualBlock(3, 8, 2);
  block2 = new ResidualBlock(8, 8, 1);
  pool = new AdaptiveAvgPool2d(1);
  fc = new Linear(8, 5, { dtype: 'float64' });

  forward(x: Tensor): Tensor {
    return this.fc.forward(this.pool.forward(this.block2.forward(this.block1.forward(x))).flatten(1));
  }
}

class Transformer extends Module {
  embedding: Embedding;
  position: Tensor;
  ln1: LayerNorm;
  qkv: Linear;
  proj: Linear;
  ln2: LayerNorm;
  fc1: Linear;
  gelu = new GELU();
  fc2: Linear;
  lnFinal: LayerNorm;
  head: Linear;

  constructor(vocab: number, width: number, length: number, readonly heads: number) {
    super();
    const dtype = 'float64';
    this.embedding = new Embedding(vocab, width, { paddingIdx: 0, dtype });
    this.position = parameter(tensor(new Float64Array(length * width), { shape: [length, width], dtype }));
    this.ln1 = new LayerNorm(width, { dtype });
    this.qkv = new Linear(width, 3 * width, { dtype });
    this.proj = new Linear(width, width, { dtype });
    this.ln2 = new LayerNorm(width, { dtype });
    this.fc1 = new Linear(width, 4 * width, { dtype });
    this.fc2 = new Linear(4 * width, width, { dtype });
    this.lnFinal = new LayerNorm(width, { dtype });
    this.head = new Linear(width, vocab, { dtype });
  }

  /** Causal self-attention: softmax(q kᵀ / √d + mask) v per head, then the output projection. */
  attention(x: Tensor): Tensor {
    const [batch, length, width] = x.shape as [number, number, number];
    const headWidth = width / this.heads;
    // (batch, length, 3, heads, headWidth) -> (3, batch, heads, length, headWidth)
    const qkv = this.qkv.forward(x).reshape([batch, length, 3, this.heads, headWidth]).permute([2, 0, 3, 1, 4]);
    const [q, k, v] = [0, 1, 2].map((i) => qkv.narrow(0, i, 1).squeeze(0));
    const scores = q!.matmul(k!.transpose(-2, -1)).div(Math.sqrt(headWidth));
    const future = arange(length, { dtype: 'int32' }).reshape([length, 1]).lt(arange(length, { dtype: 'int32' }).reshape([1, length]));
    const weights = scores.maskedFill(future, -Infinity).softmax(-1);
    return this.proj.forward(weights.matmul(v!).transpose(1, 2).reshape([batch, length, width]));
  }

  forward(tokens: Tensor): Tensor {
    let x = this.embedding.forward(tokens).add(this.position.narrow(0, 0, tokens.shape[1]!));
    x = x.add(this.attention(this.ln1.forward(x)));
    x = x.add(this.fc2.forward(this.gelu.forward(this.fc1.forward(this.ln2.forward(x)))));
    return this.head.forward(this.lnFinal.forward(x));
  }
}

/** The transformer with nn's MultiheadAttention: a causal attnMask and padding tokens (0) as keyPaddingMask. */
class AttentionLayerTransformer extends Module {
  embedding: Embedding;
  position: Tensor;
  ln1: LayerNorm;
  selfAttention: MultiheadAttention;
  ln2: LayerNorm;
  fc1: Linear;
  gelu = new GELU();
  fc2: Linear;
  lnFinal: LayerNorm;
  head: Linear;

  constructor(vocab: number, width: number, length: number, heads: number) {
    super();
    const dtype = 'float64';
    this.embedding = new Embedding(vocab, width, { paddingIdx: 0, dtype });
    this.position = parameter(tensor(new Float64Array(length * width), { shape: [length, width], dtype }));
    this.ln1 = new LayerNorm(width, { dtype });
    this.selfAttention = new MultiheadAttention(width, heads, { batchFirst: true, dtype });
    this.ln2 = new LayerNorm(width, { dtype });
    this.fc1 = new Linear(width, 4 * width, { dtype });
    this.fc2 = new Linear(4 * width, width, { dtype });
    this.lnFinal = new LayerNorm(width, { dtype });
    this.head = new Linear(width, vocab, { dtype });
  }

  forward(tokens: Tensor): Tensor {
    const length = tokens.shape[1]!;
    const future = arange(length, { dtype: 'int32' }).reshape([length, 1]).lt(arange(length, { dtype: 'int32' }).reshape([1, length]));
    let x = this.embedding.forward(tokens).add(this.position.narrow(0, 0, length));
    const h = this.ln1.forward(x);
    x = x.add(this.selfAttention.forward(h, h, h, tokens.eq(0), future));
    x = x.add(this.fc2.forward(this.gelu.forward(this.fc1.forward(this.ln2.forward(x)))));
    return this.head.forward(this.lnFinal.forward(x));
  }
}

/**
 * PyTorch's loop: zero grads, forward in train mode, backward, clip (recording the total norm
 * before clipping and the lr used), AdamW step, OneCycleLR step; then one eval-mode forward.
 */
function train(model: Module, run: Run, batch: (step: number) => [Tensor, (logits: Tensor) => Tensor]): { records: StepRecord[]; evalOutput: Tensor } {
  loadInitial(model, run.initial);
  const { lr, betas, weightDecay } = fixture.optimizer;
  const optimizer = new AdamW(model.parameters(), { lr, betas, weightDecay });
  const scheduler = new OneCycleLR(optimizer, { ...run.schedule, totalSteps: fixture.steps });
  const records: StepRecord[] = [];
  for (let step = 0; step < fixture.steps; step++) {
    const [input, lossOf] = batch(step);
    model.train();
    optimizer.zeroGrad();
    const loss = lossOf(model.forward(input));
    loss.backward();
    const gradNorm = clipGradNorm(model.parameters(), fixture.maxNorm);
    records.push({ loss: loss.item(), gradNorm, lr: optimizer.paramGroups[0]!.lr });
    optimizer.step();
    scheduler.step();
  }
  model.eval();
  const evalOutput = noGrad(() => model.forward(batch(0)[0]));
  return { records, evalOutput };
}

function expectMatchesPyTorch(model: Module, run: Run, result: { records: StepRecord[]; evalOutput: Tensor }, packedBias?: { key: string; width: number }): void {
  result.records.forEach((record, step) => {
    const expected = run.steps[step]!;
    for (const key of ['loss', 'gradNorm', 'lr'] as const) {
      expect(Math.abs(record[key] - expected[key]), `step ${step} ${key}: ${record[key]} vs PyTorch ${expected[key]}`).toBeLessThanOrEqual(TOLERANCE * Math.max(1, Math.abs(expected[key])));
    }
  });
  const state = model.stateDict();
  expect(Object.keys(state).sort()).toEqual(Object.keys(run.final).sort());
  for (const [key, expected] of Object.entries(run.final)) {
    if (typeof expected === 'number') expect(state[key]!.item(), key).toBe(expected);
    else if (key !== packedBias?.key) expect(worstError(state[key]!, expected), `final ${key}`).toBeLessThanOrEqual(TOLERANCE);
    else {
      const { width } = packedBias;
      const isKey = (i: number): boolean => i >= width && i < 2 * width;
      expect(worstError(state[key]!, expected, (i) => !isKey(i)), `final ${key}, q and v`).toBeLessThanOrEqual(TOLERANCE);
      expect(worstError(state[key]!, expected, isKey), `final ${key}, k`).toBeLessThanOrEqual(KEY_BIAS_TOLERANCE);
    }
  }
  expect(worstError(result.evalOutput, run.evalOutput), 'eval-mode output after training').toBeLessThanOrEqual(TOLERANCE);
}

describe('end to end against PyTorch 1.13: AdamW + OneCycleLR + clipGradNorm, float64', () => {
  it('a small ResNet (conv, BatchNorm2d, ReLU, 1x1 and identity shortcuts, AdaptiveAvgPool2d, Linear) matches 16 steps', () => {
    const run = fixture.resnet;
    const model = new ResNet();
    const result = train(model, run, (step) => {
      const { x, target } = run.batches[step % run.batches.length]!;
      return [fromFixture(x), (logits) => crossEntropy(logits, Int32Array.from(target), { labelSmoothing: 0.1 })];
    });
    expectMatchesPyTorch(model, run, result);
  });

  it('a small transformer block (Embedding, LayerNorm, causal attention, GELU MLP, residuals) matches 16 steps', () => {
    const run = fixture.transformer;
    const model = new Transformer(run.vocab, run.width, run.length, run.heads);
    const result = train(model, run, (step) => {
      const { tokens, target } = run.batches[step % run.batches.length]!;
      return [int32(tokens), (logits) => crossEntropy(logits.reshape([-1, run.vocab]), int32(target).reshape([-1]))];
    });
    expectMatchesPyTorch(model, run, result, { key: 'qkv.bias', width: run.width });
  });

  it('the transformer with MultiheadAttention (causal attnMask, keyPaddingMask) against nn.MultiheadAttention matches 16 steps', () => {
    const run = fixture.attentionLayer;
    const { vocab, width, length, heads, batches } = fixture.transformer;
    const model = new AttentionLayerTransformer(vocab, width, length, heads);
    const result = train(model, run, (step) => {
      const { tokens, target } = batches[step % batches.length]!;
      return [int32(tokens), (logits) => crossEntropy(logits.reshape([-1, vocab]), int32(target).reshape([-1]), { labelSmoothing: run.labelSmoothing })];
    });
    expectMatchesPyTorch(model, run, result, { key: 'selfAttention.inProjBias', width });
  });
});
