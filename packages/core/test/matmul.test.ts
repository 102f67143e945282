/**
 * Matrix products agree across every path: the plain-JS loop, the WebAssembly row kernel (few
 * rows), the blocked kernel on one thread and shared with the worker thread — in both dtypes, on
 * shapes around each threshold (16 rows for the blocked kernel, 256-deep inner blocks, 2²² multiply-adds
 * for threads, the 4096-matrix batch slices) and on transposed, sliced and broadcast operands;
 * outer products (inner size 1), which have a kernel of their own, equal the JS loop bit for bit.
 */
import { describe, expect, it } from 'vitest';
import * as ng from '@normgrad/core';
import { installMatchers } from '@normgrad/testing/vitest';
import { getMatmulThreads, setMatmulBackend, setMatmulThreads } from '@normgrad/core';
import { CONTROL_BYTES, runBlocked, workerChunkCount } from '../src/kernels/matmul-threads.js';
import { unsharedWasmMatmul, wasmMatmul } from '../src/kernels/wasm-matmul.js';

installMatchers();

type Path = 'js' | 'wasm, 1 thread' | 'wasm, 2 threads';

function productOn(path: Path, a: ng.Tensor, b: ng.Tensor): ng.Tensor {
  return ng.withSettings({ matmulBackend: path === 'js' ? 'js' : 'wasm', matmulThreads: path === 'wasm, 2 threads' ? 2 : 1 }, () => a.matmul(b));
}

const tolerance = (dtype: ng.DType) => (dtype === 'float32' ? { rtol: 1e-4, atol: 1e-4 } : { rtol: 1e-12, atol: 1e-12 });

/** Compares every path with the JS loop, and the two thread counts bit for bit (each row is computed the same way). */
function expectAllPathsAgree(a: ng.Tensor, b: ng.Tensor): void {
  const reference = productOn('js', a, b);
  const single = productOn('wasm, 1 thread', a, b);
  const threaded = productOn('wasm, 2 threads', a, b);
  expect(single.shape).toEqual(reference.shape);
  expect(single).toBeAllclose(reference, tolerance(a.dtype));
  expect(threaded.toArray()).toEqual(single.toArray());
}

describe('matmul paths agree', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`in ${dtype} on shapes around the row/blocked, inner-block and thread thresholds`, () => {
      const shapes: [number, number, number][] = [
        [15, 3, 5], [16, 3, 5], [17, 1, 1], [19, 17, 9], [127, 40, 31],
        [16, 255, 8], [20, 256, 16], [133, 257, 7], [130, 513, 33],
        // 2²² multiply-adds and up are shared with the worker
        [160, 160, 163], [164, 160, 160], [256, 300, 70], [301, 129, 257], [17, 2048, 130],
      ];
      shapes.forEach(([rows, inner, columns], index) => {
        const a = ng.randn([rows, inner], { seed: 10 + index, dtype });
        const b = ng.randn([inner, columns], { seed: 50 + index, dtype });
        expectAllPathsAgree(a, b);
      });
    });

    it(`in ${dtype} on transposed, sliced and broadcast operands`, () => {
      const big = ng.randn([300, 420], { seed: 3, dtype });
      const weight = ng.randn([170, 260], { seed: 4, dtype });
      // x · Wᵀ with a transposed view, aᵀ · g, a strided slice, a small window of a big tensor (copied first)
      expectAllPathsAgree(big.slice(null, [0, 260]), weight.transpose(0, 1));
      expectAllPathsAgree(big.transpose(0, 1), ng.randn([300, 40], { seed: 5, dtype }));
      expectAllPathsAgree(big.slice([0, 300, 2], [1, 420, 3]), ng.randn([140, 33], { seed: 6, dtype }));
      expectAllPathsAgree(big.slice([0, 130], [0, 9]), ng.randn([9, 12], { seed: 7, dtype }));
      // fewer than 16 rows (the row kernel): transposed a and b, a strided b, a batch against one transposed b
      expectAllPathsAgree(ng.randn([30, 7], { seed: 21, dtype }).transpose(0, 1), ng.randn([50, 30], { seed: 22, dtype }).transpose(0, 1));
      expectAllPathsAgree(ng.randn([1, 260], { seed: 23, dtype }), weight.transpose(0, 1));
      expectAllPathsAgree(ng.randn([3, 5, 33], { seed: 24, dtype }), big.slice([0, 99, 3], [0, 420, 20]));
      // batches: broadcast left, broadcast right, both batched and transposed
      const batched = ng.randn([3, 140, 50], { seed: 8, dtype });
      expectAllPathsAgree(batched, ng.randn([50, 90], { seed: 9, dtype }));
      expectAllPathsAgree(ng.randn([140, 50], { seed: 10, dtype }), ng.randn([2, 3, 50, 21], { seed: 11, dtype }));
      expectAllPathsAgree(batched.transpose(1, 2).transpose(1, 2), ng.randn([3, 60, 50], { seed: 12, dtype }).transpose(1, 2));
      expectAllPathsAgree(ng.randn([4, 1, 200, 100], { seed: 13, dtype }), ng.randn([5, 100, 200], { seed: 14, dtype }));
    });
  }

  it('over more matrices than one batch slice (4096)', () => {
    const a = ng.randn([4100, 16, 1], { seed: 15, dtype: 'float64' });
    const b = ng.randn([4100, 1, 2], { seed: 16, dtype: 'float64' });
    expectAllPathsAgree(a, b);
  });

  it('in float32 agrees with a float64 product to float32 precision at 1024 deep', () => {
    const a = ng.randn([200, 1024], { seed: 17, dtype: 'float64' });
    const b = ng.randn([1024, 150], { seed: 18, dtype: 'float64' });
    const exact = productOn('wasm, 2 threads', a, b);
    const single = productOn('wasm, 2 threads', a.to('float32'), b.to('float32'));
    expect(single.to('float64')).toBeAllclose(exact, { rtol: 1e-4, atol: 1e-4 });
  });
});

describe('matmul outer products (inner size 1)', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`in ${dtype} equal the JS loop and the broadcast product bit for bit, on strided, broadcast and padded operands`, () => {
      const cases: [string, ng.Tensor, ng.Tensor][] = [
        ['one matrix', ng.randn([200, 1], { seed: 30, dtype }), ng.randn([1, 100], { seed: 31, dtype })],
        ['a batch, columns padded to whole vectors', ng.randn([3, 40, 1], { seed: 32, dtype }), ng.randn([3, 1, 131], { seed: 33, dtype })],
        // more rows than one block of the kernel's output, padded columns
        ['several blocks per matrix', ng.randn([2, 70, 1], { seed: 34, dtype }), ng.randn([2, 1, 517], { seed: 35, dtype })],
        // a column read through a stride (every third element), a row that is a transposed column
        ['strided operands', ng.randn([4, 70, 3], { seed: 36, dtype }).slice(null, null, [1, 2]), ng.randn([4, 90, 1], { seed: 37, dtype }).transpose(1, 2)],
        ['a broadcast batch', ng.randn([1, 40, 1], { seed: 38, dtype }).broadcastTo([5, 40, 1]), ng.randn([5, 1, 64], { seed: 39, dtype })],
        ['two batch axes', ng.randn([2, 3, 50, 1], { seed: 40, dtype }), ng.randn([2, 3, 1, 33], { seed: 41, dtype })],
      ];
      /** The largest difference from the JS loop's product (NaN where a value is NaN). */
      const largestDifference = (product: ng.Tensor, reference: ng.Tensor) => product.sub(reference).abs().max().item();
      for (const [name, a, b] of cases) {
        const reference = productOn('js', a, b);
        const products = [productOn('wasm, 1 thread', a, b), productOn('wasm, 2 threads', a, b), ng.withSettings({ matmulBackend: 'auto' }, () => a.matmul(b)), a.mul(b)];
        for (const product of products) {
          expect(product.shape, name).toEqual(reference.shape);
          expect(largestDifference(product, reference), name).toBe(0);
        }
      }
    });

    it(`in ${dtype} under compile: each replay writes its own inputs' product (per-example gradients by vmap(grad))`, () => {
      const perExample = ng.vmap(ng.grad((weight: ng.Tensor, x: ng.Tensor) => x.matmul(weight.transpose()).tanh().sum()), { inDims: [null, 0] });
      const weight = ng.randn([30, 50], { seed: 42, dtype });
      const compiled = ng.compile((xs: ng.Tensor) => perExample(weight, xs));
      for (const seed of [43, 44, 45]) {
        const xs = ng.randn([6, 1, 50], { seed, dtype });
        const replayed = compiled(xs);
        expect(replayed.shape).toEqual([6, 30, 50]);
        expect(replayed.sub(perExample(weight, xs)).abs().max().item()).toBe(0);
      }
    });

    it(`in ${dtype}: the kernel writes c = a ⊗ b over whatever c held, on memory that is not shared`, () => {
      const wasm = unsharedWasmMatmul()!;
      expect(wasm.shared).toBe(false);
      const View = dtype === 'float32' ? Float32Array : Float64Array;
      const outer = dtype === 'float32' ? wasm.outerFloat32 : wasm.outerFloat64;
      const bytes = View.BYTES_PER_ELEMENT;
      const [rows, columns] = [3, 16 / bytes * 2];
      const [column, row, out] = [CONTROL_BYTES, CONTROL_BYTES + 256, CONTROL_BYTES + 512];
      new View(wasm.memory.buffer, column, rows).set([2, -3, 0.5]);
      new View(wasm.memory.buffer, row, columns).set(Array.from({ length: columns }, (_, j) => j + 1));
      new View(wasm.memory.buffer, out, rows * columns + 1).fill(Number.NaN);
      outer(column, row, out, rows, columns);
      const written = Array.from(new View(wasm.memory.buffer, out, rows * columns + 1));
      expect(written.slice(0, rows * columns)).toEqual(Array.from({ length: rows * columns }, (_, k) => [2, -3, 0.5][Math.floor(k / columns)]! * ((k % columns) + 1)));
      expect(written[rows * columns]).toBeNaN();
    });
  }
});

describe('matmul packing kernel', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`in ${dtype} lays out panels k by k, from contiguous and strided lanes alike, with zeros past the last lane`, () => {
      const wasm = wasmMatmul()!;
      const View = dtype === 'float32' ? Float32Array : Float64Array;
      const pack = dtype === 'float32' ? wasm.packFloat32 : wasm.packFloat64;
      const bytes = View.BYTES_PER_ELEMENT;
      const [inner, lanes, paddedLanes, panelLanes] = [5, 11, 16, 8];
      const [source, target] = [CONTROL_BYTES, CONTROL_BYTES + 4096];
      const values = Array.from({ length: inner * lanes }, (_, index) => index + 1);
      new View(wasm.memory.buffer, source, inner * lanes).set(values);
      // the expected layout: per panel, per k, panelLanes lanes side by side
      const expected = Array.from({ length: inner * paddedLanes }, (_, index) => {
        const [panel, k, lane] = [Math.floor(index / (inner * panelLanes)), Math.floor(index / panelLanes) % inner, (index % panelLanes)];
        const column = panel * panelLanes + lane;
        return column < lanes ? values[k * lanes + column]! : 0;
      });
      const packed = () => Array.from(new View(wasm.memory.buffer, target, inner * paddedLanes));
      // lanes are the source's columns (contiguous in each row), then its rows read as lanes of its transpose
      new View(wasm.memory.buffer, target, inner * paddedLanes).fill(Number.NaN);
      pack(source, target, inner, lanes * bytes, lanes, paddedLanes, bytes, panelLanes, inner);
      expect(packed()).toEqual(expected);
      new View(wasm.memory.buffer, source, inner * lanes).set(Array.from({ length: inner * lanes }, (_, index) => values[(index % inner) * lanes + Math.floor(index / inner)]!));
      new View(wasm.memory.buffer, target, inner * paddedLanes).fill(Number.NaN);
      pack(source, target, inner, bytes, lanes, paddedLanes, inner * bytes, panelLanes, inner);
      expect(packed()).toEqual(expected);
    });
  }
});

describe('matmul threads', () => {
  it('default to 2 on this machine when it has two cores, and the worker takes chunks', () => {
    expect(wasmMatmul()!.shared).toBe(true);
    expect([1, 2]).toContain(getMatmulThreads());
    const a = ng.randn([512, 512], { seed: 19, dtype: 'float64' });
    const b = ng.randn([512, 512], { seed: 20, dtype: 'float64' });
    const before = workerChunkCount(wasmMatmul()!);
    // The worker starts in the background; until it runs, the main thread computes every chunk.
    ng.withSettings({ matmulThreads: 2 }, () => {
      for (let attempt = 0; attempt < 200 && workerChunkCount(wasmMatmul()!) === before; attempt++) a.matmul(b);
    });
    expect(workerChunkCount(wasmMatmul()!)).toBeGreaterThan(before);
  });

  it('with threads off, the worker takes no chunks', () => {
    const before = workerChunkCount(wasmMatmul()!);
    ng.withSettings({ matmulThreads: 1 }, () => ng.randn([512, 512], { seed: 21 }).matmul(ng.randn([512, 512], { seed: 22 })));
    expect(workerChunkCount(wasmMatmul()!)).toBe(before);
  });

  it('finish a job when the work done beside it on the main thread throws, then rethrow its error', () => {
    // a (16 × 8) · b (8 × 8) in float32, laid out in the kernels' memory as blockedProduct does
    const wasm = wasmMatmul()!;
    const [rows, inner, columns] = [16, 8, 8];
    const a = ng.randn([rows, inner], { seed: 23 });
    const b = ng.randn([inner, columns], { seed: 24 });
    const at = (slot: number): number => CONTROL_BYTES + slot * 1024;
    const [left, right, offsets, packedLeft, packedRight, out] = [at(0), at(1), at(2), at(3), at(4), at(5)];
    new Float32Array(wasm.memory.buffer, left, rows * inner).set(a.toTypedArray());
    new Float32Array(wasm.memory.buffer, right, inner * columns).set(b.toTypedArray());
    new Int32Array(wasm.memory.buffer, offsets, 2).set([left, right]);
    new Float32Array(wasm.memory.buffer, out, rows * columns).fill(Number.NaN);
    const job = {
      elementBytes: 4, batch: 1, rows, inner, columns, paddedRows: rows, paddedColumns: columns, innerBlock: 256, panelRows: 4, panelColumns: 8,
      rowsPerChunk: 4, columnsPerPackChunk: 8, leftOffsets: offsets, leftRowStride: inner * 4, leftInnerStride: 4, rightOffsets: offsets + 4,
      rightInnerStride: columns * 4, rightColumnStride: 4, packedLeft, packedRight, out,
    };
    const failing = () => {
      throw new Error('beside the job');
    };
    // on one thread, so that only the main thread can compute the job
    ng.withSettings({ matmulThreads: 1 }, () => expect(() => runBlocked(wasm, job, true, failing)).toThrow('beside the job'));
    const product = ng.tensor(Array.from(new Float32Array(wasm.memory.buffer, out, rows * columns)), { dtype: 'float32' }).reshape([rows, columns]);
    expect(product.toArray()).toEqual(ng.withSettings({ matmulBackend: 'wasm', matmulThreads: 1 }, () => a.matmul(b)).toArray());
  });

  it('rejects a thread count other than 1 or 2 by name', () => {
    expect(() => setMatmulThreads(3 as never)).toThrow(/setMatmulThreads: expected 1 or 2, got 3/);
    expect(() => setMatmulThreads('2' as never)).toThrow(/setMatmulThreads: .*"2"/);
  });
});

describe('matmul gradients laid out like their inputs', () => {
  it('x·Wᵀ: the gradient of W is computed transposed, equals Aᵀ·dY, checks numerically, and arrives row-major', () => {
    const x = ng.randn([5, 7], { seed: 1, dtype: 'float64' });
    const weight = ng.randn([3, 7], { seed: 2, dtype: 'float64', requiresGrad: true });
    const cotangent = ng.randn([5, 3], { seed: 3, dtype: 'float64' });
    x.matmul(weight.transpose()).mul(cotangent).sum().backward();
    const expected = x.transpose().matmul(cotangent).transpose(); // (Aᵀ·dY)ᵀ, the gradient of W
    expect(weight.grad!).toBeAllclose(expected, { rtol: 1e-14, atol: 1e-14 });
    // as computed (grad() hands it back without the copy that makes leaf gradients contiguous)
    expect(ng.grad((w: ng.Tensor) => x.matmul(w.transpose()).mul(cotangent).sum())(weight.detach()).data.stride).toEqual([7, 1]);
    const f = (a: ng.Tensor, w: ng.Tensor) => a.matmul(w.transpose()).tanh().sum();
    expect(ng.gradcheck(f, [x, weight.detach()]).ok).toBe(true);
    expect(ng.gradgradcheck(f, [x, weight.detach()]).ok).toBe(true);
    // a column-major left operand: leaf (7, 5) used as leafᵀ
    const leaf = ng.randn([7, 5], { seed: 5, dtype: 'float64', requiresGrad: true });
    const right = ng.randn([7, 2], { seed: 6, dtype: 'float64' });
    const cotangent2 = ng.randn([5, 2], { seed: 7, dtype: 'float64' });
    leaf.transpose().matmul(right).mul(cotangent2).sum().backward();
    expect(leaf.grad!).toBeAllclose(cotangent2.matmul(right.transpose()).transpose(), { rtol: 1e-14, atol: 1e-14 });
    expect(ng.grad((l: ng.Tensor) => l.transpose().matmul(right).mul(cotangent2).sum())(leaf.detach()).data.stride).toEqual([5, 1]);
    const g = (l: ng.Tensor, w: ng.Tensor) => l.transpose().matmul(w).tanh().sum();
    expect(ng.gradcheck(g, [leaf.detach(), right]).ok).toBe(true);
    expect(ng.gradgradcheck(g, [leaf.detach(), right]).ok).toBe(true);
  });
});
