// A user's program on the installed tarballs (plain JavaScript, Node's own module resolution).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gradcheck, randn, tensor } from '@normgrad/core';
import { BatchNorm2d, mseLoss } from '@normgrad/nn';
import { Adam } from '@normgrad/optim';
import { checkVjp } from '@normgrad/testing';
import { fromTorchStateDict, loadSafetensors, saveSafetensors, toTorchStateDict } from '@normgrad/io';

const x = tensor([[1, 2], [3, 4]], { requiresGrad: true });
x.mul(x).sum().backward();
assert.deepEqual(x.grad.toArray(), [[2, 4], [6, 8]]);

const bn = new BatchNorm2d(3);
const input = randn([4, 3, 5, 5], { seed: 0 }).mul(3).add(2);
const target = randn([4, 3, 5, 5], { seed: 1 });
const optimizer = new Adam(bn.parameters(), { lr: 0.05 });
const losses = [];
for (let step = 0; step < 20; step++) {
  optimizer.zeroGrad();
  const loss = mseLoss(bn.forward(input), target);
  loss.backward();
  optimizer.step();
  losses.push(loss.item());
}
assert.ok(losses[19] < losses[0], `Adam lowered the loss: ${losses[0]} → ${losses[19]}`);
assert.equal(bn.numBatchesTracked, 20);

const check = gradcheck((t) => new BatchNorm2d(2, { dtype: 'float64' }).forward(t).square().mul(t).sum(), [randn([3, 2, 2, 2], { dtype: 'float64', seed: 2 })]);
assert.ok(check.ok, `gradcheck of BatchNorm2d: ${JSON.stringify(check)}`);
assert.ok(checkVjp((t) => t.tanh().mul(t), [randn([3, 4], { dtype: 'float64', seed: 3 })]).ok);

const directory = mkdtempSync(join(tmpdir(), 'normgrad-user-'));
try {
  const path = join(directory, 'bn.safetensors');
  saveSafetensors(toTorchStateDict(bn.stateDict()), path);
  const copy = new BatchNorm2d(3);
  copy.loadStateDict(fromTorchStateDict(loadSafetensors(path)));
  bn.eval();
  copy.eval();
  assert.deepEqual(copy.forward(input).toArray(), bn.forward(input).toArray());
  assert.equal(copy.numBatchesTracked, 20);
} finally {
  rmSync(directory, { recursive: true, force: true });
}
console.log(`loss ${losses[0].toFixed(4)} → ${losses[19].toFixed(4)}, gradcheck max |error| ${check.maxAbsError.toExponential(1)}, safetensors round trip equal`);
