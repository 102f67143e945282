/**
 * vmap as a transform: nesting with itself and with grad, jvp, vjp, hvp, jacrev and jacfwd in
 * both orders, inDims/outDims, several outputs, randomness, the customOp loop, writes into batched
 * tensors, and the errors at its boundary. Every result is compared with a loop over the examples.
 */
import { describe, expect, it } from 'vitest';
import * as ng from '@normgrad/core';
import type { Tensor } from '@normgrad/core';

const f64 = { dtype: 'float64' } as const;

/** The examples of x along an axis. */
function examples(x: Tensor, axis = 0): Tensor[] {
  return Array.from({ length: x.shape[axis]! }, (_, position) => x.narrow(axis, position, 1).squeeze(axis));
}

function expectClose(actual: Tensor, expected: Tensor, tolerance = 1e-12): void {
  expect(actual.shape).toEqual(expected.shape);
  expect(actual.sub(expected).abs().max().item()).toBeLessThanOrEqual(tolerance * (1 + expected.abs().max().item()));
}

const w = ng.randn([3, 4], { ...f64, seed: 2 });
const xs = ng.randn([5, 3], { ...f64, seed: 1 });
/** A scalar function of one example x of shape [3]. */
const loss = (x: Tensor, weight: Tensor = w): Tensor => x.unsqueeze(0).matmul(weight).tanh().square().sum().add(x.sin().sum());

describe('vmap composes', () => {
  it('vmap(f) equals a loop, and inDims null shares an argument', () => {
    expectClose(ng.vmap(loss)(xs), ng.stack(examples(xs).map((x) => loss(x))));
    const ws = ng.randn([5, 3, 4], { ...f64, seed: 3 });
    expectClose(ng.vmap(loss, { inDims: [0, 0] })(xs, ws), ng.stack(examples(xs).map((x, i) => loss(x, examples(ws)[i]!))));
    expectClose(ng.vmap(loss, { inDims: [null, 0] })(xs.narrow(0, 0, 1).squeeze(0), ws), ng.stack(examples(ws).map((wi) => loss(examples(xs)[0]!, wi))));
  });

  it('nested vmap over two axes, inner and outer inDims and outDims', () => {
    const grid = ng.randn([2, 3, 5], { ...f64, seed: 4 });
    // outer over axis 2 (5), inner over axis 0 (2) of each [2, 3] slice; the inner result's axis goes last
    const nested = ng.vmap(ng.vmap((x: Tensor) => x.exp().mul(x.sum()), { inDims: 0, outDims: 1 }), { inDims: 2, outDims: 0 })(grid);
    const expected = ng.stack(examples(grid, 2).map((slice) => ng.stack(examples(slice, 0).map((x) => x.exp().mul(x.sum())), 1)), 0);
    expectClose(nested, expected);
  });

  it('vmap(vmap(grad)) and vmap(hessian) over two batch axes', () => {
    const grid = ng.randn([2, 4, 3], { ...f64, seed: 10 });
    const twice = ng.vmap(ng.vmap(ng.grad((x: Tensor) => loss(x))), { inDims: 1, outDims: 1 })(grid);
    const expected = ng.stack(examples(grid, 1).map((slice) => ng.stack(examples(slice).map((x) => ng.grad((y: Tensor) => loss(y))(x)))), 1);
    expectClose(twice, expected);
    const hessians = ng.vmap(ng.hessian((x: Tensor) => loss(x)))(xs);
    expectClose(hessians, ng.stack(examples(xs).map((x) => ng.hessian((y: Tensor) => loss(y))(x))));
  });

  it('vmap(grad), grad(vmap), and vmap(grad) under an outer grad (second order)', () => {
    const perExample = ng.vmap(ng.grad(loss))(xs);
    expectClose(perExample, ng.stack(examples(xs).map((x) => ng.grad(loss)(x))));
    const total = (x: Tensor) => ng.vmap(loss)(x).sum();
    expectClose(ng.grad(total)(xs), ng.stack(examples(xs).map((x) => ng.grad(loss)(x))));
    // d/dw of Σ per-example ‖∂loss/∂x‖²: through vmap(grad) and through a loop
    const outer = (weight: Tensor) => ng.vmap(ng.grad((x: Tensor) => loss(x, weight)))(xs).square().sum();
    const looped = (weight: Tensor) => ng.stack(examples(xs).map((x) => ng.grad((y: Tensor) => loss(y, weight))(x))).square().sum();
    expectClose(ng.grad(outer)(w), ng.grad(looped)(w));
  });

  it('vmap(jvp) and jvp(vmap)', () => {
    const ts = ng.randn([5, 3], { ...f64, seed: 5 });
    const tangentOf = (x: Tensor, t: Tensor) => ng.jvp((y: Tensor) => loss(y), [x], [t])[1];
    const expected = ng.stack(examples(xs).map((x, i) => tangentOf(x, examples(ts)[i]!)));
    expectClose(ng.vmap(tangentOf)(xs, ts), expected);
    const [value, tangent] = ng.jvp((x: Tensor) => ng.vmap((y: Tensor) => loss(y))(x), [xs], [ts]);
    expectClose(value, ng.vmap((y: Tensor) => loss(y))(xs));
    expectClose(tangent, expected);
  });

  it('jvp of a vmap over a closure: the tangent of a captured tensor reaches the batched result', () => {
    const c = ng.randn([3], { ...f64, seed: 8 });
    const t = ng.randn([3], { ...f64, seed: 9 });
    const [, tangent] = ng.jvp((weight: Tensor) => ng.vmap((x: Tensor) => x.mul(weight).exp().sum())(xs), [c], [t]);
    expectClose(tangent, xs.mul(c).exp().mul(xs.mul(t)).sum(1));
  });

  it('vmap(hvp), vmap(vjp), vmap(jacrev) and jacfwd(vmap)', () => {
    const vs = ng.randn([5, 3], { ...f64, seed: 6 });
    const hessianTimes = (x: Tensor, v: Tensor) => ng.hvp((y: Tensor) => loss(y), [x], [v])[0]!;
    expectClose(ng.vmap(hessianTimes)(xs, vs), ng.stack(examples(xs).map((x, i) => hessianTimes(x, examples(vs)[i]!))));
    const pulled = (x: Tensor, v: Tensor) => ng.vjp((y: Tensor) => y.unsqueeze(0).matmul(w).squeeze(0).tanh(), x)[1](v)[0]!;
    const cotangents = ng.randn([5, 4], { ...f64, seed: 7 });
    expectClose(ng.vmap(pulled)(xs, cotangents), ng.stack(examples(xs).map((x, i) => pulled(x, examples(cotangents)[i]!))));
    const jacobian = ng.jacrev((y: Tensor) => y.unsqueeze(0).matmul(w).squeeze(0).tanh());
    expectClose(ng.vmap(jacobian)(xs), ng.stack(examples(xs).map((x) => jacobian(x))));
    const batchedMap = (x: Tensor) => ng.vmap((y: Tensor) => y.sin().mul(y.sum()))(x);
    expectClose(ng.jacfwd(batchedMap)(xs), ng.jacrev(batchedMap)(xs));
  });

  it('negative inDims and outDims count from the end; non-Tensor arguments pass through', () => {
    const grid = ng.randn([3, 4, 2], { ...f64, seed: 11 });
    const result = ng.vmap((x: Tensor, power: number) => x.pow(power).sum(0), { inDims: [-1, null], outDims: -1 })(grid, 3);
    expectClose(result, ng.stack(examples(grid, 2).map((x) => x.pow(3).sum(0)), 1));
  });

  it('several outputs, outDims per output, and an output shared by all examples', () => {
    const [sums, doubled, constant] = ng.vmap((x: Tensor) => [x.sum(), x.mul(2), w], { outDims: [0, 1, 2] })(xs);
    expectClose(sums!, xs.sum(1));
    expectClose(doubled!, xs.mul(2).transpose(0, 1));
    expectClose(constant!, w.unsqueeze(2).broadcastTo([3, 4, 5]));
  });

  it('a customOp runs once per example (the loop fallback) and matches its loop, with gradients', () => {
    const cube = ng.customOp({
      name: 'cube',
      forward: (x) => ng.tensor(x).pow(3).data,
      vjp: (g, [x]) => [g.mul(x!.square().mul(3))],
      jvp: ([t], [x]) => t!.mul(x!.square().mul(3)),
    });
    const fn = (x: Tensor) => cube(x).mul(w.narrow(1, 0, 1).squeeze(1)).sum();
    expectClose(ng.vmap(fn)(xs), ng.stack(examples(xs).map(fn)));
    expectClose(ng.vmap(ng.grad(fn))(xs), ng.stack(examples(xs).map((x) => ng.grad(fn)(x))));
  });

  it('assignInPlace into a batched tensor writes each example, and the norms look at every example', () => {
    const state = ng.zeros([5, 3], f64);
    ng.vmap((s: Tensor, x: Tensor) => {
      ng.assignInPlace(s, x.mul(2));
      return s;
    })(state, xs);
    expectClose(state, xs.mul(2));
    // float32 with one example far out of the plain squares' range: each example normalized right
    const wide = ng.tensor([[1e30, 3e30, 2e30], [1, 2, 3]], { dtype: 'float32' });
    const normalized = ng.vmap((x: Tensor) => ng.moments(x, [0], { correction: 0 }).normalized(0))(wide);
    expectClose(normalized.to('float64'), ng.tensor([[-1.224744871391589, 1.224744871391589, 0], [-1.224744871391589, 0, 1.224744871391589]], f64), 1e-6);
  });

  it('randomness: an Error by default, one draw for all with same, one per example with different', () => {
    const draw = (x: Tensor) => x.add(ng.randn([3], { dtype: 'float64', seed: 9 }));
    expect(() => ng.vmap(draw)(xs)).toThrow(/randn: random numbers inside vmap: pass \{ randomness: 'different' \}/);
    const same = ng.vmap(draw, { randomness: 'same' })(xs).sub(xs);
    expectClose(same, ng.randn([3], { dtype: 'float64', seed: 9 }).unsqueeze(0).broadcastTo([5, 3]));
    const different = ng.vmap(draw, { randomness: 'different' })(xs).sub(xs);
    expectClose(different, ng.randn([5, 3], { dtype: 'float64', seed: 9 }));
    // nested: different over the outer axis, same over the inner one
    const grid = ng.zeros([2, 3, 4], f64);
    const noise = ng.vmap(ng.vmap((x: Tensor) => x.add(ng.rand([4], { dtype: 'float64', seed: 1 })), { randomness: 'same' }), { randomness: 'different' })(grid);
    expectClose(noise, ng.rand([2, 4], { dtype: 'float64', seed: 1 }).unsqueeze(1).broadcastTo([2, 3, 4]));
  });
});

describe('vmap over records of tensors (plain objects and arrays)', () => {
  const params = { w: ng.randn([5, 3, 4], { ...f64, seed: 12 }), b: ng.randn([4], { ...f64, seed: 13 }) };
  /** One example: x [3] through a layer { w [3, 4], b [4] }, and a record of results. */
  const layer = (p: { w: Tensor; b: Tensor }, x: Tensor) => x.unsqueeze(0).matmul(p.w).squeeze(0).add(p.b).tanh();

  it('inDims per leaf ({ w: 0, b: null }) and per argument; the result equals a loop', () => {
    const looped = ng.stack(examples(xs).map((x, i) => layer({ w: examples(params.w)[i]!, b: params.b }, x)));
    expectClose(ng.vmap(layer, { inDims: [{ w: 0, b: null }, 0] })(params, xs), looped);
    // a record shared whole (null), and one axis for every tensor of a record argument
    expectClose(ng.vmap(layer, { inDims: [null, 0] })({ w, b: params.b }, xs), ng.stack(examples(xs).map((x) => layer({ w, b: params.b }, x))));
    const stackedBias = ng.randn([5, 4], { ...f64, seed: 14 });
    expectClose(
      ng.vmap(layer, { inDims: [0, 0] })({ w: params.w, b: stackedBias }, xs),
      ng.stack(examples(xs).map((x, i) => layer({ w: examples(params.w)[i]!, b: examples(stackedBias)[i]! }, x))),
    );
  });

  it('one number for all inDims batches every Tensor inside records and passes other values through', () => {
    const scaled = (input: { x: Tensor; factor: number; pair: [Tensor, string] }) => input.x.mul(input.factor).add(input.pair[0].sum());
    const ys = ng.randn([5, 2], { ...f64, seed: 15 });
    const result = ng.vmap(scaled)({ x: xs, factor: 3, pair: [ys, 'label'] });
    expectClose(result, ng.stack(examples(xs).map((x, i) => x.mul(3).add(examples(ys)[i]!.sum()))));
  });

  it('nested records, a record result with outDims per leaf, and the same arguments as a loop sees them', () => {
    const seen: unknown[] = [];
    const fn = (input: { layers: { w: Tensor }[]; x: Tensor }) => {
      seen.push(input.layers.length, Object.keys(input));
      const hidden = input.layers.reduce((h, { w: weight }) => h.unsqueeze(0).matmul(weight).squeeze(0).tanh(), input.x);
      return { out: hidden, parts: [hidden.sum(), input.x.square()] };
    };
    const square = ng.randn([3, 3], { ...f64, seed: 16 });
    const result = ng.vmap(fn, { inDims: [{ layers: null, x: 0 }], outDims: { out: 1, parts: [0, 1] } })({ layers: [{ w: square }, { w: square.mul(2) }], x: xs });
    expect(seen).toEqual([2, ['layers', 'x']]);
    const looped = examples(xs).map((x) => fn({ layers: [{ w: square }, { w: square.mul(2) }], x }));
    expectClose(result.out, ng.stack(looped.map((r) => r.out), 1));
    expectClose(result.parts[0]!, ng.stack(looped.map((r) => r.parts[0]!), 0));
    expectClose(result.parts[1]!, ng.stack(looped.map((r) => r.parts[1]!), 1));
  });

  it('a result declared as an interface keeps its type; a leaf that is not a Tensor is a type error and an Error', () => {
    interface Outputs { hidden: Tensor; parts: { total: Tensor; squares: Tensor[] } }
    const fn = (x: Tensor): Outputs => ({ hidden: x.tanh(), parts: { total: x.sum(), squares: [x.square()] } });
    const result: Outputs = ng.vmap(fn)(xs);
    const looped = examples(xs).map(fn);
    expectClose(result.hidden, ng.stack(looped.map((r) => r.hidden)));
    expectClose(result.parts.total, ng.stack(looped.map((r) => r.parts.total)));
    expectClose(result.parts.squares[0]!, ng.stack(looped.map((r) => r.parts.squares[0]!)));
    interface Labelled { value: Tensor; label: string }
    const labelled = (x: Tensor): Labelled => ({ value: x, label: 'example' });
    // @ts-expect-error -- label is a string, not a Tensor: vmap's result type rejects it
    expect(() => ng.vmap(labelled)(xs)).toThrow(/^vmap: the function must return a Tensor, or arrays and records of Tensors; output\.label is string/);
  });

  it('composes with grad on either side of it', () => {
    // per-example gradients with respect to a record's tensor (grad inside), and the gradient of a sum over examples (grad outside)
    const perExample = ng.vmap((p: { w: Tensor; b: Tensor }, x: Tensor) => ng.grad((weight: Tensor) => layer({ w: weight, b: p.b }, x).sum())(p.w), { inDims: [{ w: null, b: null }, 0] })({ w, b: params.b }, xs);
    expectClose(perExample, ng.stack(examples(xs).map((x) => ng.grad((weight: Tensor) => layer({ w: weight, b: params.b }, x).sum())(w))));
    const total = ng.grad((weight: Tensor) => ng.vmap(layer, { inDims: [{ w: null, b: null }, 0] })({ w: weight, b: params.b }, xs).sum())(w);
    expectClose(total, perExample.sum(0));
  });

  it('mismatched structure is an Error that names the path', () => {
    expect(() => ng.vmap(layer, { inDims: [{ w: 0 }, 0] })(params, xs)).toThrow(/^vmap: argument 0 and its inDims must have the same keys: inDims gives no axis for \["b"\]$/);
    expect(() => ng.vmap(layer, { inDims: [{ w: 0, b: null, c: 0 }, 0] })(params, xs)).toThrow(/^vmap: argument 0 and its inDims must have the same keys: argument 0 has no \["c"\]/);
    expect(() => ng.vmap(layer, { inDims: [[0, null], 0] })(params, xs)).toThrow(/^vmap: inDims for argument 0 is an array of 2, but argument 0 is a record with keys \["w","b"\]/);
    expect(() => ng.vmap(layer, { inDims: [{ w: 0, b: 0 }, 0] })(params, xs)).toThrow(/^vmap: argument 0\.b \(shape \[4\]\) has 4 examples along axis 0, but argument 0\.w has 5/);
    expect(() => ng.vmap(layer, { inDims: [{ w: 'first', b: null } as never, 0] })(params, xs)).toThrow(/^vmap: inDims for argument 0\.w must be an axis \(an integer or null\) or an array or record of them, got "first"/);
    expect(() => ng.vmap((r: { x: Tensor; n: number }) => r.x.mul(r.n), { inDims: [0] })({ x: xs, n: 2 })).toThrow(/^vmap: argument 0\.n is batched \(inDims 0\) but is number, not a Tensor; give it inDims null/);
    expect(() => ng.vmap((r: Record<string, Tensor>) => r['0.weight']!, { inDims: [{ '0.weight': 3 }] })({ '0.weight': xs })).toThrow(/^vmap: inDims for argument 0\["0\.weight"\] \(shape \[5, 3\]\) must be an integer in \[-2, 1\], got 3/);
    expect(() => ng.vmap((x: Tensor) => ({ a: x, b: [x, x] }), { outDims: { a: 0, b: [0] } })(xs)).toThrow(/^vmap: outDims for output\.b is an array of 1, but output\.b is an array of 2/);
    expect(() => ng.vmap((x: Tensor) => ({ a: x, b: 'text' }) as never)(xs)).toThrow(/^vmap: the function must return a Tensor, or arrays and records of Tensors; output\.b is string/);
  });
});

describe('vmap errors at its boundary', () => {
  it('names bad arguments and options', () => {
    expect(() => ng.vmap(loss, { inDim: 0 } as never)).toThrow(/vmap: .*inDim/);
    expect(() => ng.vmap(loss, { randomness: 'sometimes' as never })).toThrow(/vmap: randomness must be 'error', 'same' or 'different', got "sometimes"/);
    expect(() => ng.vmap((a: Tensor, b: Tensor) => a.add(b))(xs, ng.zeros([4, 3], f64))).toThrow(/vmap: argument 1 \(shape \[4, 3\]\) has 4 examples along axis 0, but argument 0 has 5/);
    expect(() => ng.vmap(loss, { inDims: 2 })(xs)).toThrow(/vmap: inDims for argument 0 \(shape \[5, 3\]\) must be an integer in \[-2, 1\], got 2/);
    expect(() => ng.vmap(loss, { inDims: [0, 0] })(xs)).toThrow(/vmap: inDims has 2 entries but the function was called with 1 argument/);
    expect(() => ng.vmap(loss, { inDims: null })(xs)).toThrow(/vmap: no argument is batched/);
    expect(() => ng.vmap(loss, { outDims: 1 })(xs)).toThrow(/vmap: outDims for output \(\[\] per example\) must be an integer in \[-1, 0\], got 1/);
    expect(() => ng.vmap((_x: Tensor) => 3 as unknown as Tensor)(xs)).toThrow(/vmap: the function must return a Tensor, or arrays and records of Tensors; output is number/);
  });

  it('reading values inside vmap, or a batched tensor after it, is a clear Error', () => {
    expect(() => ng.vmap((x: Tensor) => ng.tensor(x.sum().item()))(xs)).toThrow(/vmap: the values of a tensor batched by vmap \(float64 \[\] per example, 5 examples\) cannot be read inside the vmapped function/);
    let escaped: Tensor | null = null;
    ng.vmap((x: Tensor) => (escaped = x.mul(2)))(xs);
    expect(() => escaped!.toArray()).toThrow(/cannot be read after the vmap that made it returned/);
    expect(() => ng.vmap((x: Tensor) => {
      ng.assignInPlace(ng.zeros([3], f64), x);
      return x;
    })(xs)).toThrow(/assignInPlace: the source \(shape \[3\] per example\) is batched by a vmap that the target \(shape \[3\]\) is not/);
  });
});
