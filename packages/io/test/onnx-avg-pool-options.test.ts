import { randn } from '@normgrad/core';
import { AvgPool2d, Sequential } from '@normgrad/nn';
import { describe, expect, it } from 'vitest';
import { exportOnnx } from '../src/index.js';

describe('exportOnnx: AvgPool2d options without an ONNX equivalent here', () => {
  const x = randn([1, 2, 5, 5], { seed: 1 });
  it.each([
    [{ ceilMode: true }, /ceilMode true/],
    [{ countIncludePad: false }, /countIncludePad false/],
    [{ divisorOverride: 3 }, /divisorOverride 3/],
  ])('%j is an Error naming the layer and the options', (options, value) => {
    expect(() => exportOnnx(new Sequential(new AvgPool2d(3, { stride: 2, padding: 1, ...options })), [x])).toThrow(/^exportOnnx: AvgPool2d at '0' with /);
    expect(() => exportOnnx(new Sequential(new AvgPool2d(3, { stride: 2, padding: 1, ...options })), [x])).toThrow(value);
  });

  it('the defaults, spelled out, still export', () => {
    const bytes = exportOnnx(new Sequential(new AvgPool2d(3, { stride: 2, padding: 1, ceilMode: false, countIncludePad: true, divisorOverride: null })), [x]);
    expect(bytes.length).toBeGreaterThan(0);
  });
});
