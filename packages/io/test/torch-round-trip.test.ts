import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assignInPlace, manualSeed, noGrad, randn, tensor, type DType, type Tensor } from '@normgrad/core';
import { mseLoss } from '@normgrad/nn';
import { SGD } from '@normgrad/optim';
import { describe, expect, it } from 'vitest';
import { fromTorchStateDict, loadSafetensors, readSafetensors, saveSafetensors, toTorchStateDict } from '../src/index.js';
import { TorchFixtureNet } from './torch-model.js';

// Fixtures of scripts/fixtures/io_torch.py (PyTorch 1.13 + the safetensors package). The
// normgrad_*.safetensors files are written by the last test with NORMGRAD_WRITE_FIXTURES=1.
const fixtures = new URL('./fixtures/', import.meta.url).pathname;
interface Outputs {
  outputShape: number[];
  output: number[];
  numBatchesTracked?: Record<string, number>;
}
const reference = JSON.parse(readFileSync(join(fixtures, 'io_torch.json'), 'utf8')) as {
  inputShape: number[];
  input: Record<DType, number[]>;
  torch: Record<DType, Outputs>;
  normgrad: Record<DType, Outputs>;
};
type FloatDType = Exclude<DType, 'int32'>;
const tolerance: Record<FloatDType, number> = { float32: 1e-6, float64: 1e-12 };
const dtypes: FloatDType[] = ['float32', 'float64'];

function evalOutput(model: TorchFixtureNet, dtype: DType): Tensor {
  model.eval();
  return noGrad(() => model.forward(tensor(Float64Array.from(reference.input[dtype]), { shape: reference.inputShape, dtype })));
}

function maxAbsError(actual: Tensor, expected: Outputs): number {
  expect(actual.shape).toEqual(expected.outputShape);
  const values = actual.toFloat64Array();
  return Math.max(...expected.output.map((v, i) => Math.abs(values[i]! - v)));
}

/** A normgrad-trained model: affine parameters moved off ones/zeros, then 5 SGD steps (running statistics move). */
function trainedInNormgrad(dtype: DType): TorchFixtureNet {
  manualSeed(11);
  const model = new TorchFixtureNet(dtype);
  noGrad(() => {
    model.parameters().forEach((p, i) => {
      if (p.ndim === 1) assignInPlace(p, p.add(randn(p.shape, { dtype, seed: 100 + i }).mul(0.3)));
    });
  });
  const optimizer = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
  model.train();
  for (let step = 0; step < 5; step++) {
    const x = randn([6, 2, 8, 8], { dtype, seed: 200 + step }).mul(2).add(1);
    const target = randn([6, 3], { dtype, seed: 300 + step });
    optimizer.zeroGrad();
    mseLoss(model.forward(x), target).backward();
    optimizer.step();
  }
  return model;
}

describe('PyTorch → normgrad: a convnet with every norm trained in PyTorch', () => {
  for (const dtype of dtypes) {
    it(`loads into the same architecture and gives PyTorch's eval outputs (${dtype}, within ${tolerance[dtype]})`, () => {
      const file = readSafetensors(join(fixtures, `torch_${dtype}.safetensors`));
      expect(file.metadata).toEqual({ format: 'pt', writer: 'io_torch.py' });
      const model = new TorchFixtureNet(dtype);
      // the key mapping agrees with PyTorch's names exactly, dtypes included (num_batches_tracked is int64)
      const mapped = toTorchStateDict(model.stateDict());
      expect(Object.keys(mapped).sort()).toEqual(Object.keys(file.tensors).sort());
      for (const key of Object.keys(mapped)) expect(file.dtypes[key], key).toBe(key.endsWith('num_batches_tracked') ? 'I64' : dtype === 'float32' ? 'F32' : 'F64');
      model.loadStateDict(fromTorchStateDict(file.tensors));
      expect(model.features.modules().filter((m) => 'numBatchesTracked' in m).map((m) => (m as unknown as { numBatchesTracked: number }).numBatchesTracked)).toEqual([5, 0, 5]); // PyTorch's InstanceNorm never counts batches
      const error = maxAbsError(evalOutput(model, dtype), reference.torch[dtype]);
      console.log(`PyTorch → normgrad ${dtype}: max |error| of the eval output ${error.toExponential(2)}`);
      expect(error).toBeLessThanOrEqual(tolerance[dtype]);
    });
  }
});

describe('normgrad → PyTorch: a convnet trained in normgrad, saved with saveSafetensors(toTorchStateDict(...))', () => {
  for (const dtype of dtypes) {
    it(`PyTorch's load_state_dict(strict=True) of normgrad's file gives normgrad's eval outputs (${dtype}, within ${tolerance[dtype]})`, () => {
      const file = readSafetensors(join(fixtures, `normgrad_${dtype}.safetensors`));
      expect(reference.normgrad[dtype]!.numBatchesTracked).toEqual({ 'classifierHead.2.num_batches_tracked': 5, 'features.1.num_batches_tracked': 5, 'features.7.num_batches_tracked': 0, 'features.9.num_batches_tracked': 5 });
      const model = new TorchFixtureNet(dtype);
      model.loadStateDict(fromTorchStateDict(file.tensors));
      const error = maxAbsError(evalOutput(model, dtype), reference.normgrad[dtype]!);
      console.log(`normgrad → PyTorch ${dtype}: max |error| of the eval output ${error.toExponential(2)}`);
      expect(error).toBeLessThanOrEqual(tolerance[dtype]);
    });
  }

  it('writes the file from a model trained in normgrad (the committed fixtures with NORMGRAD_WRITE_FIXTURES=1)', () => {
    const directory = mkdtempSync(join(tmpdir(), 'normgrad-io-'));
    try {
      for (const dtype of dtypes) {
        const model = trainedInNormgrad(dtype);
        const path = process.env.NORMGRAD_WRITE_FIXTURES ? join(fixtures, `normgrad_${dtype}.safetensors`) : join(directory, `${dtype}.safetensors`);
        saveSafetensors(toTorchStateDict(model.stateDict()), path, { metadata: { format: 'pt', writer: 'normgrad' } });
        const copy = new TorchFixtureNet(dtype);
        copy.loadStateDict(fromTorchStateDict(loadSafetensors(path)));
        const state = model.stateDict();
        for (const [key, value] of Object.entries(copy.stateDict())) {
          expect(Array.from(value.toTypedArray()), key).toEqual(Array.from(state[key]!.toTypedArray()));
        }
        expect(copy.stateDict()['features.1.numBatchesTracked']!.item()).toBe(5);
      }
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
