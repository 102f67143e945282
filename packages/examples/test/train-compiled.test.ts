// The study's training step runs through core's compile: for every normalization it offers, a
// compiled run equals an eager run bit for bit (losses, accuracy, final parameters and buffers).
import { describe, expect, it } from 'vitest';
import { buildConvNet, NORM_KINDS } from '../src/study/model.js';
import { trainRun, type RunResult } from '../src/study/train.js';
import type { Digits } from '../src/study/data.js';

/** Random 8x8 "digits" with labels 0-9, from a fixed linear congruential sequence. */
function fakeDigits(count: number, seed: number): Digits {
  let state = seed;
  const next = (): number => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  const images = Float32Array.from({ length: count * 64 }, () => next());
  const labels = Uint8Array.from({ length: count }, () => Math.floor(next() * 10));
  return { images, labels, count, height: 8, width: 8 };
}

const train = fakeDigits(48, 1);
const test = fakeDigits(20, 2);
const silent = { write: () => {}, isTTY: false };

function run(key: string, compiled: boolean): RunResult {
  const norm = NORM_KINDS.find((kind) => kind.key === key)!;
  return trainRun(
    { title: key, seed: 3, batchSize: 8, epochs: 2, build: () => buildConvNet(norm, { imageSize: 8, channels: [4, 8] }), optimizer: { kind: 'adam', lr: 1e-2 }, compiled },
    train, test, silent,
  );
}

const state = (result: RunResult): Record<string, number[]> =>
  Object.fromEntries(Object.entries(result.model.stateDict()).map(([name, value]) => [name, Array.from(value.toFloat64Array())]));

describe('the study trains through compile', () => {
  for (const { key } of NORM_KINDS) {
    it(`${key}: a compiled run equals an eager run bit for bit`, () => {
      const eager = run(key, false);
      const compiled = run(key, true);
      expect(compiled.steps).toBe(12);
      expect(compiled.lossCurve).toEqual(eager.lossCurve);
      expect(compiled.finalTrainLoss).toBe(eager.finalTrainLoss);
      expect(compiled.testAccuracy).toBe(eager.testAccuracy);
      expect(state(compiled)).toEqual(state(eager));
    });
  }
});
