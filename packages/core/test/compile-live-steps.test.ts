/**
 * compile's program runs only the steps its results need: a kernel step whose array no later step
 * reads and that is neither a result nor a gradient (a loss whose gradient alone is returned) is
 * left out, while writes, effects and branches always run, and an opaque program runs every step.
 */
import { describe, expect, it } from 'vitest';
import { assignInPlace, compile, grad, randn, traceEffect, withSettings, zeros, type Tensor } from '@normgrad/core';
import { setActiveRecorder } from '../src/compile/recorder.js';
import { Trace, withAllocationSource } from '../src/compile/trace.js';

/** Traces fn as compile does (noting the arrays allocated while it runs) and computes its outputs. */
function traced(fn: () => Tensor[]): { trace: Trace; outputs: Tensor[] } {
  const trace = new Trace();
  const previous = setActiveRecorder(trace);
  try {
    const outputs = withAllocationSource((dtype, length, otherwise) => {
      const array = otherwise(dtype, length);
      trace.allocated.add(array.buffer);
      return array;
    }, () => {
      const results = fn();
      for (const result of results) void result.data;
      return results;
    });
    return { trace, outputs };
  } finally {
    setActiveRecorder(previous);
  }
}

const bufferOf = (t: Tensor): ArrayBufferLike => t.data.data.buffer;

describe('compile: the steps a program runs', () => {
  it('leaves out the kernels of values that no result needs, and recomputes the others', () => {
    const x = randn([64, 64], { seed: 1, dtype: 'float64' });
    const { trace, outputs } = traced(() => {
      const y = x.exp();
      return [y.sum(), y.mul(2).sum(0), y.tanh().max(1)];
    });
    const [total, columns, maxima] = outputs as [Tensor, Tensor, Tensor];
    const expected = Array.from(columns.toTypedArray());
    const all = trace.program(outputs.map(bufferOf));
    const forColumns = trace.program([bufferOf(columns)]);
    expect(forColumns.length).toBeGreaterThan(0);
    expect(forColumns.length).toBeLessThan(all.length);
    // the program for `columns` fills its array again and leaves the others' arrays alone
    columns.data.data.fill(Number.NaN);
    total.data.data.fill(Number.NaN);
    maxima.data.data.fill(Number.NaN);
    for (const step of forColumns) step();
    expect(Array.from(columns.toTypedArray())).toEqual(expected);
    expect(Number.isNaN(total.item())).toBe(true);
    expect(Array.from(maxima.toTypedArray()).every(Number.isNaN)).toBe(true);
  });

  it('keeps every write and effect, and what they read', () => {
    const x = randn([32, 32], { seed: 2, dtype: 'float64' });
    const state = zeros([32], { dtype: 'float64' });
    let effects = 0;
    const { trace, outputs } = traced(() => {
      const y = x.exp();
      assignInPlace(state, y.sum(0));
      traceEffect(() => { effects += 1; }, { arrays: [] });
      return [y.mul(3).sum()];
    });
    const steps = trace.program([]);
    state.data.data.fill(0);
    effects = 0;
    for (const step of steps) step();
    expect(effects).toBe(1);
    expect(Array.from(state.toTypedArray())).toEqual(Array.from(x.exp().sum(0).toTypedArray()));
    expect(steps.length).toBeLessThan(trace.program(outputs.map(bufferOf)).length);
  });

  it('runs every step of an opaque program (an effect that does not declare its arrays)', () => {
    const x = randn([16, 16], { seed: 3, dtype: 'float64' });
    const { trace, outputs } = traced(() => {
      const y = x.exp();
      const unused = y.sum();
      traceEffect(() => {});
      return [y.mul(2).sum(), unused];
    });
    expect(trace.opaque).toBe(true);
    expect(trace.program([bufferOf(outputs[0]!)]).length).toBe(trace.program(outputs.map(bufferOf)).length);
  });

  it('runs WebAssembly reductions over the same rows as one step, but not one that reads another\'s result', () => {
    for (const backend of ['wasm', 'js'] as const) {
      withSettings({ elementwiseBackend: backend }, () => {
        const x = randn([64, 64], { seed: 5, dtype: 'float32' });
        const { trace, outputs } = traced(() => {
          const rowSums = x.sum(1);
          const squares = x.mul(x).sum(1);
          const centred = x.sub(rowSums.div(64).reshape([64, 1])).sum(1);
          const columnSums = x.mul(2).sum(0);
          return [rowSums, squares, centred, columnSums];
        });
        const expected = outputs.map((output) => Array.from(output.toTypedArray()));
        const steps = trace.program(outputs.map(bufferOf));
        // wasm: the row sums, squares and column sums in one step, then the means (a small JavaScript loop) and
        // the centred sums, which read them; js: five steps
        expect(steps.length).toBe(backend === 'wasm' ? 3 : 5);
        for (const output of outputs) output.data.data.fill(Number.NaN);
        for (const step of steps) step();
        outputs.forEach((output, k) => expect(Array.from(output.toTypedArray())).toEqual(expected[k]));
      });
    }
  });

  for (const dtype of ['float32', 'float64'] as const) {
    it(`a compiled gradient, whose loss value no result needs, equals eager execution, ${dtype}`, () => {
      const w = randn([24, 24], { seed: 4, dtype });
      const loss = (x: Tensor, g: Tensor): Tensor => x.matmul(w).tanh().mul(g).sum();
      const gradient = grad(loss, { argnums: [0, 1] });
      const compiled = compile((x: Tensor, g: Tensor) => gradient(x, g));
      for (let call = 0; call < 3; call++) {
        const [x, g] = [randn([24, 24], { seed: 10 + call, dtype }), randn([24, 24], { seed: 20 + call, dtype })];
        const replayed = compiled(x, g);
        const eager = gradient(x, g);
        replayed.forEach((t, k) => expect(Array.from(t.toTypedArray())).toEqual(Array.from(eager[k]!.toTypedArray())));
      }
    });
  }
});
