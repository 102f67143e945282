/** Regression tests: compile time of fused chains, and one float32 semantics whatever the size, fusion or backend. */
import { describe, expect, it } from 'vitest';
import { rand, tensor, withSettings, type Tensor } from '@normgrad/core';

describe('fused chains', () => {
  it('a 30-step add/mul chain on 65,536 elements compiles and runs in well under a second', () => {
    const size = 65536;
    const c = rand([size], { seed: 1 });
    const d = rand([size], { seed: 2 }).mul(0.5).add(0.75);
    let y: Tensor = rand([size], { seed: 3 });
    const start = performance.now();
    for (let step = 0; step < 30; step++) y = y.add(c).mul(d);
    const value = y.sum().item();
    const elapsed = performance.now() - start;
    expect(Number.isFinite(value)).toBe(true);
    expect(elapsed).toBeLessThan(1000);
  });
});

describe('one float32 semantics', () => {
  const size = 65536;
  const a = rand([size], { seed: 11 }).add(0.5);
  const b = rand([size], { seed: 12 }).add(0.5);
  const c = rand([size], { seed: 13 }).add(0.5);
  const compute = () => a.div(b).mul(c).add(a).toTypedArray();

  it('a/b*c+a is bit-identical between the JavaScript and WebAssembly backends', () => {
    const js = withSettings({ elementwiseBackend: 'js' }, compute);
    const wasm = withSettings({ elementwiseBackend: 'wasm' }, compute);
    let differing = 0;
    for (let i = 0; i < size; i++) if (!Object.is(js[i], wasm[i])) differing++;
    expect(differing).toBe(0);
  });

  it('is bit-identical fused and unfused, and for a 1,000-element tensor with the same values', () => {
    const fused = withSettings({ fusion: true, fusionMinimumSize: 1 }, compute);
    const unfused = withSettings({ fusion: false }, compute);
    const small = (() => {
      const slice = (t: Tensor) => tensor(t.toTypedArray().slice(0, 1000));
      const [sa, sb, sc] = [slice(a), slice(b), slice(c)];
      return sa.div(sb).mul(sc).add(sa).toTypedArray();
    })();
    let differing = 0;
    for (let i = 0; i < size; i++) if (!Object.is(fused[i], unfused[i])) differing++;
    for (let i = 0; i < 1000; i++) if (!Object.is(small[i], fused[i])) differing++;
    expect(differing).toBe(0);
  });
});
