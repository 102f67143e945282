import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { randn, releaseScratchMemory, setMatmulBackend, setMatmulThreads, type Tensor } from '@normgrad/core';
import { setMatmulMemoryCeiling } from '../src/kernels/matmul.js';
import { wasmMatmul } from '../src/kernels/wasm-matmul.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

afterEach(() => {
  setMatmulMemoryCeiling(2 ** 32);
  setMatmulBackend('auto');
  setMatmulThreads(2);
});

const memoryBytes = (): number => wasmMatmul()!.memory.buffer.byteLength;

function maxDifference(a: Tensor, b: Tensor): number {
  const [x, y] = [a.toFloat64Array(), b.toFloat64Array()];
  return x.reduce((worst, value, i) => Math.max(worst, Math.abs(value - y[i]!)), 0);
}

function jsProduct(a: Tensor, b: Tensor): Tensor {
  setMatmulBackend('js');
  try {
    return a.matmul(b);
  } finally {
    setMatmulBackend('auto');
  }
}

describe('releaseScratchMemory returns the WebAssembly matmul memory', () => {
  it('the memory shrinks back to one page, and the next product is still right', () => {
    const [a, b] = [randn([600, 700], { seed: 1 }), randn([700, 500], { seed: 2 })];
    a.matmul(b);
    expect(memoryBytes()).toBeGreaterThan(4 * 600 * 700 + 4 * 700 * 500);
    releaseScratchMemory();
    expect(memoryBytes()).toBe(65536);
    expect(maxDifference(a.matmul(b), jsProduct(a, b))).toBeLessThan(1e-3);
    expect(memoryBytes()).toBeGreaterThan(65536);
  });

  it('the threaded product works after a release (a new worker on the new memory)', () => {
    setMatmulThreads(2);
    const [a, b] = [randn([256, 256], { seed: 3 }), randn([256, 256], { seed: 4 })];
    a.matmul(b);
    releaseScratchMemory();
    expect(maxDifference(a.matmul(b), jsProduct(a, b))).toBeLessThan(1e-3);
    releaseScratchMemory();
    expect(maxDifference(a.matmul(b), jsProduct(a, b))).toBeLessThan(1e-3);
  });

  it('the resident set shrinks after a release and a garbage collection', async () => {
    const [a, b] = [randn([2048, 2048], { seed: 5 }), randn([2048, 2048], { seed: 6 })];
    a.matmul(b);
    collectGarbage();
    const grown = process.memoryUsage().rss;
    const scratch = memoryBytes();
    expect(scratch).toBeGreaterThan(64 * 2 ** 20);
    releaseScratchMemory();
    for (let attempt = 0; attempt < 20 && process.memoryUsage().rss > grown - scratch / 2; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 50)); // the worker's exit drops its reference
      collectGarbage();
    }
    expect(process.memoryUsage().rss).toBeLessThan(grown - scratch / 2);
  });

  it('a product whose memory cannot grow that far runs in JavaScript, with the same result', () => {
    releaseScratchMemory();
    setMatmulMemoryCeiling(2 ** 20);
    const [a, b] = [randn([512, 512], { seed: 7 }), randn([512, 512], { seed: 8 })];
    const product = a.matmul(b);
    expect(memoryBytes()).toBeLessThanOrEqual(2 ** 20);
    expect(maxDifference(product, jsProduct(a, b))).toBe(0);
  });
});
