// A user's typed code against the installed packages' .d.ts files.
import { gradcheck, randn, tensor, type DType, type Tensor } from '@normgrad/core';
import { BatchNorm2d, Conv2d, Flatten, GroupNorm, LayerNorm, Linear, Module, ReLU, Sequential, crossEntropy } from '@normgrad/nn';
import { Adam, CosineAnnealingLR } from '@normgrad/optim';
import { allclose, checkLayer, checkVjp, shapeArbitrary } from '@normgrad/testing';
import { deserializeSafetensors, fromTorchStateDict, serializeSafetensors, toTorchStateDict, type ParsedSafetensors } from '@normgrad/io';
import type { NdArray } from 'ndarray';

class Net extends Module {
  body = new Sequential(new Conv2d(1, 4, 3, { padding: 1 }), new BatchNorm2d(4), new ReLU(), new GroupNorm(2, 4), new Flatten());
  head = new Sequential(new LayerNorm(64), new Linear(64, 3));
  override forward(x: Tensor): Tensor {
    return this.head.forward(this.body.forward(x));
  }
}

const model: Net = new Net();
const optimizer = new Adam(model.parameters(), { lr: 1e-3 });
const schedule = new CosineAnnealingLR(optimizer, { tMax: 10 });
const logits: Tensor = model.forward(randn([2, 1, 4, 4], { seed: 0 }));
const loss: Tensor = crossEntropy(logits, [0, 2]);
loss.backward();
optimizer.step();
schedule.step();
const data: NdArray = logits.data;
const dtype: DType = logits.dtype;
const bytes: Uint8Array = serializeSafetensors(toTorchStateDict(model.stateDict()), { metadata: { format: 'pt' } });
model.loadStateDict(fromTorchStateDict(deserializeSafetensors(bytes)));
const parsed: ParsedSafetensors | undefined = undefined;
const ok: boolean = gradcheck((t: Tensor) => t.square().sum(), [tensor([1, 2], { dtype: 'float64' })]).ok && checkVjp((t: Tensor) => t.exp(), [tensor([0.5], { dtype: 'float64' })]).ok;
const close: boolean = allclose(logits, logits).pass;
export const shown = [data.shape, dtype, ok, close, parsed, shapeArbitrary({ minRank: 1 }), typeof checkLayer];
