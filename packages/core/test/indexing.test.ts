import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as ng from '@normgrad/core';
import type { Tensor } from '@normgrad/core';
import { installMatchers } from '@normgrad/testing/vitest';

installMatchers();

interface FixtureTensor {
  shape: number[];
  data: number[];
}

interface GradientRecord {
  g: FixtureTensor;
  y: FixtureTensor;
  grads: FixtureTensor[];
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/indexing.json', import.meta.url), 'utf8')) as {
  torch: string;
  arg: { x: FixtureTensor; cases: { axis: number | null; keepdims: boolean; argmax: FixtureTensor; argmin: FixtureTensor }[] };
  sort: { x: FixtureTensor; cases: { axis: number; descending: boolean; indices: FixtureTensor }[] };
  topk: ({ k: number; axis: number; largest: boolean; x: FixtureTensor; values: FixtureTensor; indices: FixtureTensor } & GradientRecord)[];
  gather: ({ axis: number; x: FixtureTensor; index: FixtureTensor } & GradientRecord)[];
  indexSelect: ({ axis: number; x: FixtureTensor; index: FixtureTensor } & GradientRecord)[];
  maskedFill: ({ x: FixtureTensor; mask: FixtureTensor; value: number } & GradientRecord)[];
};

const float64 = (t: FixtureTensor, requiresGrad = false): Tensor => ng.tensor(Float64Array.from(t.data), { shape: t.shape, requiresGrad });
const int32 = (t: FixtureTensor): Tensor => ng.tensor(Int32Array.from(t.data), { shape: t.shape });
const exact = { rtol: 0, atol: 0 };

/** The indices as a plain shape and array, to compare int32 results exactly. */
function expectIndices(actual: Tensor, expected: FixtureTensor): void {
  expect(actual.dtype).toBe('int32');
  expect(actual.shape).toEqual(expected.shape);
  expect(Array.from(actual.toTypedArray())).toEqual(expected.data);
}

/** y = fn(...inputs) and the gradients of sum(y · g) match the record. */
function expectGradients(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], record: GradientRecord): void {
  const y = fn(...inputs);
  expect(y).toBeAllclose(record.y.data, exact);
  const grads = ng.grad((...args: Tensor[]) => fn(...args).mul(float64(record.g)).sum(), { argnums: inputs.map((_, index) => index) })(...inputs);
  grads.forEach((gradient, index) => expect(gradient).toBeAllclose(record.grads[index]!.data, { rtol: 1e-12, atol: 1e-14 }));
}

describe(`selection matches PyTorch ${fixture.torch} (float64)`, () => {
  it('argmax / argmin: first position at ties, over the flattened tensor without an axis', () => {
    const x = float64(fixture.arg.x);
    for (const c of fixture.arg.cases) {
      const axis = c.axis ?? undefined;
      expectIndices(x.argmax(axis, c.keepdims), c.argmax);
      expectIndices(ng.argmin(x, axis, c.keepdims), c.argmin);
    }
  });

  it('argsort is a stable sort (torch.sort(stable=True))', () => {
    const x = float64(fixture.sort.x);
    for (const c of fixture.sort.cases) expectIndices(x.argsort(c.axis, { descending: c.descending }), c.indices);
  });

  it.each(fixture.topk.map((c) => [`k ${c.k} axis ${c.axis} largest ${c.largest}`, c] as const))('topk %s: values, indices, gradient', (_, c) => {
    const x = float64(c.x);
    const { values, indices } = x.topk(c.k, c.axis, { largest: c.largest });
    expect(values).toBeAllclose(c.values.data, exact);
    expect(values.shape).toEqual(c.values.shape);
    expectIndices(indices, c.indices);
    expectGradients((t) => ng.topk(t, c.k, c.axis, { largest: c.largest }).values, [x], c);
  });

  it.each(fixture.gather.map((c) => [`axis ${c.axis} index ${ng.formatShape(c.index.shape)}`, c] as const))('gather %s: values and gradient (repeated indices add up)', (_, c) => {
    const index = int32(c.index);
    expectGradients((t) => t.gather(c.axis, index), [float64(c.x)], c);
  });

  it.each(fixture.indexSelect.map((c) => [`axis ${c.axis} index ${JSON.stringify(c.index.data)}`, c] as const))('indexSelect %s: values and gradient', (_, c) => {
    const index = int32(c.index);
    expectGradients((t) => ng.indexSelect(t, c.axis, index), [float64(c.x)], c);
  });

  it.each(fixture.maskedFill.map((c) => [`mask ${ng.formatShape(c.mask.shape)} value ${c.value}`, c] as const))('maskedFill %s: gradients in the input and in a 0-d value', (_, c) => {
    const mask = float64(c.mask);
    expectGradients((t, v) => t.maskedFill(mask, v!), [float64(c.x), ng.tensor(c.value, { dtype: 'float64' })], c);
    // an int32 mask and a number value give the same result
    expect(float64(c.x).maskedFill(mask.to('int32'), c.value)).toBeAllclose(c.y.data, exact);
  });
});

describe('gather, scatter-add and the ops built on them stay differentiable to any order', () => {
  it('the second derivative of a gathered cube is 6·x·g at the gathered positions, summed over repeats', () => {
    const x = ng.tensor([1, 2, 3], { dtype: 'float64' });
    const index = ng.tensor([2, 0, 2], { dtype: 'int32' });
    const f = (t: Tensor) => t.gather(0, index).pow(3).sum();
    expect(ng.grad(f)(x)).toBeAllclose([3, 0, 54], exact);
    expect(ng.grad((t: Tensor) => ng.grad(f)(t).sum())(x)).toBeAllclose([6, 0, 36], exact);
    // third order: d³/dx³ of 2·x³ at x₂ is 12
    expect(ng.grad((t: Tensor) => ng.grad((u: Tensor) => ng.grad(f)(u).sum())(t).sum())(x)).toBeAllclose([6, 0, 12], exact);
  });

  it('forward mode: the JVP of gather is the gather of the tangent, and jacfwd equals jacrev through topk', () => {
    const x = ng.tensor([1, 2, 3], { dtype: 'float64' });
    const index = ng.tensor([2, 0, 2], { dtype: 'int32' });
    const [value, tangent] = ng.jvp((t: Tensor) => t.gather(0, index).square(), [x], [ng.tensor([1, 10, 100], { dtype: 'float64' })]);
    expect(value).toBeAllclose([9, 1, 9], exact);
    expect(tangent).toBeAllclose([600, 2, 600], exact);
    const f = (t: Tensor) => t.topk(2).values.mul(t.indexSelect(0, index).sum());
    expect(ng.jacfwd(f)(x)).toBeAllclose(ng.jacrev(f)(x), exact);
  });

  it('gradgradcheck through gather, indexSelect, topk and maskedFill', () => {
    const x = ng.randn([3, 4], { dtype: 'float64', seed: 3 });
    const index = ng.tensor([[0, 2, 2, 1], [1, 1, 0, 0]], { dtype: 'int32' });
    const rows = ng.tensor([2, 0, 2], { dtype: 'int32' });
    const checks: [string, (t: Tensor) => Tensor][] = [
      ['gather', (t) => t.gather(0, index).square()],
      ['indexSelect', (t) => t.indexSelect(0, rows).sin()],
      ['topk', (t) => t.topk(2, 1).values.exp()],
      ['maskedFill', (t) => t.maskedFill(t.gt(0), 0.5).square()],
    ];
    for (const [name, fn] of checks) {
      expect(ng.gradcheck(fn, [x]).ok, `${name} first order`).toBe(true);
      expect(ng.gradgradcheck(fn, [x]).ok, `${name} second order`).toBe(true);
    }
  });
});

describe('the int32 dtype', () => {
  it('holds exact integers: creation, conversion and printing', () => {
    const index = ng.tensor([[3, -1], [0, 2147483647]], { dtype: 'int32' });
    expect(index.dtype).toBe('int32');
    expect(index.toTypedArray()).toBeInstanceOf(Int32Array);
    expect(index.toArray()).toEqual([[3, -1], [0, 2147483647]]);
    expect(index.slice(0, 1).item()).toBe(-1);
    expect(String(index)).toBe('Tensor([[3,-1],[0,2147483647]], shape=[2, 2], dtype=int32)');
    expect(ng.tensor(Int32Array.of(4, 5)).dtype).toBe('int32');
    expect(ng.arange(4, { dtype: 'int32' }).toArray()).toEqual([0, 1, 2, 3]);
    expect(ng.full([2], 7, { dtype: 'int32' }).toTypedArray()).toEqual(Int32Array.of(7, 7));
    expect(ng.zerosLike(index).dtype).toBe('int32');
    expect(index.toFloat64Array()).toEqual(Float64Array.of(3, -1, 0, 2147483647));
  });

  it('casts to float and back (truncating toward zero, as PyTorch)', () => {
    const x = ng.tensor([1.7, -1.7, 2, -0.2], { dtype: 'float64' });
    expect(x.to('int32').toArray()).toEqual([1, -1, 2, 0]);
    expect(x.to('int32').to('float32').dtype).toBe('float32');
    expect(x.to('int32').to('float64').toArray()).toEqual([1, -1, 2, 0]);
  });

  it('supports integer arithmetic, comparisons, selection and shape ops', () => {
    const a = ng.tensor([[1, 2], [3, 4]], { dtype: 'int32' });
    expect(a.add(1).mul(a).sub(ng.tensor([1, 1], { dtype: 'int32' })).toArray()).toEqual([[1, 5], [11, 19]]);
    expect(a.neg().abs().maximum(2).toArray()).toEqual([[2, 2], [3, 4]]);
    expect(a.eq(2).toArray()).toEqual([[0, 1], [0, 0]]);
    expect(a.gt(2).dtype).toBe('int32');
    expect(a.sum().item()).toBe(10);
    expect(a.max(1).toArray()).toEqual([2, 4]);
    expect(a.min().item()).toBe(1);
    expect(a.transpose().reshape([4]).toArray()).toEqual([1, 3, 2, 4]);
    expect(ng.concat([a, a], 1).slice(null, [1, 3]).toArray()).toEqual([[2, 1], [4, 3]]);
    expect(a.broadcastTo([2, 2, 2]).flatten().toArray()).toEqual([1, 2, 3, 4, 1, 2, 3, 4]);
    expect(ng.where(a.gt(2), a, 0).toArray()).toEqual([[0, 0], [3, 4]]);
    expect(a.argmax(1).toArray()).toEqual([1, 1]);
    expect(a.gather(1, ng.tensor([[1], [0]], { dtype: 'int32' })).toArray()).toEqual([[2], [3]]);
  });

  it('is never differentiated', () => {
    const index = ng.tensor([0, 1], { dtype: 'int32' });
    expect(() => (index.requiresGrad = true)).toThrow(/^requiresGrad: an int32 tensor of shape \[2\] cannot require grad/);
    expect(() => ng.tensor([0, 1], { dtype: 'int32', requiresGrad: true })).toThrow(/^tensor: an int32 tensor cannot require grad/);
    expect(() => ng.arange(3, { dtype: 'int32', requiresGrad: true })).toThrow(/^arange: an int32 tensor cannot require grad/);
    expect(() => ng.grad((t: Tensor) => t.to('float64').sum())(index)).toThrow(/^grad: argument 0 is an int32 tensor of shape \[2\]/);
    expect(() => ng.jvp((t: Tensor) => t.to('float64'), [index], [index])).toThrow(/^jvp: primal 0 is an int32 tensor of shape \[2\]; indices are not differentiated/);
    // int32 results of tracked inputs stay out of the graph
    const x = ng.tensor([[1, 5], [7, 2]], { dtype: 'float64', requiresGrad: true });
    expect(x.argmax(1).requiresGrad).toBe(false);
    expect(x.topk(1, 1).indices.requiresGrad).toBe(false);
    expect(x.to('int32').requiresGrad).toBe(false);
    expect(ng.where(x.gt(3), index.reshape([2, 1]), 5).requiresGrad).toBe(false);
    expect(x.topk(1, 1).values.requiresGrad).toBe(true);
  });

  it('float ops reject it with an Error naming the op', () => {
    const index = ng.tensor([1, 2, 3], { dtype: 'int32' });
    const message = (op: string) => new RegExp(`^${op}: input is an int32 tensor of shape \\[3\\]; ${op} needs float32 or float64 \\(convert with \\.to\\('float32'\\)\\)$`);
    expect(() => index.exp()).toThrow(message('exp'));
    expect(() => index.log()).toThrow(message('log'));
    expect(() => index.sqrt()).toThrow(message('sqrt'));
    expect(() => index.rsqrt()).toThrow(message('rsqrt'));
    expect(() => index.sigmoid()).toThrow(message('sigmoid'));
    expect(() => index.mean()).toThrow(message('mean'));
    expect(() => index.var()).toThrow(message('var'));
    expect(() => index.std()).toThrow(message('std'));
    expect(() => ng.moments(index)).toThrow(message('moments'));
    expect(() => index.softmax()).toThrow(message('softmax'));
    expect(() => index.logSoftmax()).toThrow(message('logSoftmax'));
    expect(() => index.logsumexp()).toThrow(message('logsumexp'));
    expect(() => index.div(2)).toThrow(/^div: the operand is an int32 tensor of shape \[3\]; div needs float32 or float64/);
    expect(() => index.pow(2)).toThrow(/^pow: the operand is an int32 tensor/);
    expect(() => index.matmul(index)).toThrow(/^matmul: the left operand is an int32 tensor of shape \[3\]/);
    expect(() => ng.customOp({ name: 'twice', forward: (a) => a, vjp: (g) => [g] })(index)).toThrow(/^twice: input 0 is an int32 tensor/);
  });

  it('rejects values that are not int32 integers and mixing with fractional numbers', () => {
    expect(() => ng.tensor([1, 2.5], { dtype: 'int32' })).toThrow(/^tensor: element 1 is 2.5, which is not an int32 integer/);
    expect(() => ng.tensor(Float64Array.of(2 ** 31), { dtype: 'int32' })).toThrow(/^tensor: element 0 is 2147483648, which is not an int32 integer/);
    expect(() => ng.full([2], 0.5, { dtype: 'int32' })).toThrow(/^full: element 0 is 0.5/);
    expect(() => ng.arange(0, 2, 0.5, { dtype: 'int32' })).toThrow(/^arange: element 2 is 0.5/);
    expect(() => ng.randn([2], { dtype: 'int32' })).toThrow(/^randn: draws floats/);
    const index = ng.tensor([1, 2], { dtype: 'int32' });
    expect(() => index.add(0.5)).toThrow(/^add: the number 0.5 is not an integer, but the other operand is an int32 tensor of shape \[2\]/);
    expect(() => index.lt(1.5)).toThrow(/^lt: the number 1.5 is not an integer/);
    expect(() => index.add(ng.tensor([1, 2]))).toThrow(/^add: dtype mismatch: int32 \[2\] and float32 \[2\]/);
  });

  it('works as a mask for where on the WebAssembly and JavaScript kernels alike', () => {
    const size = 5000;
    const values = ng.arange(size, { dtype: 'float32' });
    const mask = ng.arange(size, { dtype: 'int32' }).gt(2499);
    for (const backend of ['js', 'wasm'] as const) {
      const previous = ng.getElementwiseBackend();
      ng.setElementwiseBackend(backend);
      try {
        const filled = values.maskedFill(mask, -1).toTypedArray();
        expect([filled[0], filled[2499], filled[2500], filled[4999]], backend).toEqual([0, 2499, -1, -1]);
        expect(values.to('float64').maskedFill(mask, -1).sum().item(), backend).toBe((2499 * 2500) / 2 - 2500);
      } finally {
        ng.setElementwiseBackend(previous);
      }
    }
  });
});

describe('selection ops validate their input', () => {
  const x = ng.tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float64' });
  const index = (data: number[][] | number[]) => ng.tensor(data, { dtype: 'int32' });

  it('gather', () => {
    expect(() => x.gather(1, ng.tensor([[0]]))).toThrow("gather: index must be an int32 tensor, got float32 of shape [1, 1] (convert with .to('int32'))");
    expect(() => x.gather(1, index([[3]]))).toThrow('gather: index 3 is out of range for axis 1 of extent 3 (input shape [2, 3])');
    expect(() => x.gather(0, index([[-1]]))).toThrow('gather: index -1 is out of range for axis 0 of extent 2 (input shape [2, 3])');
    expect(() => x.gather(1, index([0]))).toThrow('gather: index of shape [1] and input of shape [2, 3] must have the same number of dimensions');
    expect(() => x.gather(1, index([[0], [0], [0]]))).toThrow('gather: index of shape [3, 1] is larger than the input of shape [2, 3] outside axis 1');
    expect(() => x.gather(2, index([[0]]))).toThrow(/^gather: axis 2 is out of range for a tensor of shape \[2, 3\]/);
  });

  it('indexSelect, topk, argmax, argsort, maskedFill', () => {
    expect(() => x.indexSelect(0, index([[0]]))).toThrow('indexSelect: index must be 1-D (or 0-d), got shape [1, 1]');
    expect(() => x.indexSelect(0, index([2]))).toThrow('gather: index 2 is out of range for axis 0 of extent 2');
    expect(x.indexSelect(1, ng.tensor(2, { dtype: 'int32' })).toArray()).toEqual([[3], [6]]);
    expect(() => x.topk(4)).toThrow('topk: k must be an integer in [0, 3] for axis -1 of a tensor of shape [2, 3], got 4');
    expect(() => x.topk(1, -1, { largets: false } as never)).toThrow("topk: unknown option 'largets' (did you mean 'largest'?)");
    expect(() => x.argsort(0, { descend: true } as never)).toThrow("argsort: unknown option 'descend'");
    expect(() => ng.zeros([2, 0]).argmax(1)).toThrow('argmax: cannot reduce over the empty axis 1 of a tensor of shape [2, 0]');
    expect(() => ng.zeros([0]).argmin()).toThrow('argmin: cannot take the argmin of an empty tensor (shape [0])');
    expect(() => x.maskedFill(x, 0)).toThrow('maskedFill: the mask must hold only 0 and 1 (as lt, gt, eq, … return), got 2 at element 1 of shape [2, 3]');
    expect(() => x.maskedFill(ng.ones([3, 1]), 0)).toThrow(/^maskedFill: shapes \[2, 3\] and \[3, 1\] are not broadcast-compatible/);
    expect(() => x.maskedFill(ng.ones([2, 2, 3]), 0)).toThrow('maskedFill: a mask of shape [2, 2, 3] does not broadcast to the input\'s shape [2, 3]');
    expect(() => x.maskedFill(x.gt(2), ng.tensor([1, 2], { dtype: 'float64' }))).toThrow('maskedFill: value must be a number or a 0-d tensor, got shape [2]');
    expect(() => index([1, 2]).maskedFill(index([1, 0]), 0.5)).toThrow('maskedFill: value 0.5 is not an integer, but the input is int32');
  });

  it('0-d tensors count as one element along axis 0 or -1 (as PyTorch)', () => {
    const scalar = ng.tensor(4, { dtype: 'float64' });
    expect(scalar.argmax(0).toArray()).toBe(0);
    expect(scalar.topk(1).values.item()).toBe(4);
    expect(scalar.gather(0, ng.tensor(0, { dtype: 'int32' })).item()).toBe(4);
    expect(ng.tensor([[NaN, 1], [2, NaN]], { dtype: 'float64' }).argmin(1).toArray()).toEqual([0, 1]);
  });
});

describe('Tensor.registerHook', () => {
  it('sees the gradient of an intermediate and may replace it; hooks run in order, each on the result of the one before', () => {
    const x = ng.tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });
    const hidden = x.mul(x);
    const seen: number[][] = [];
    hidden.registerHook((gradient) => gradient.mul(10));
    hidden.registerHook((gradient) => void seen.push(Array.from(gradient.toFloat64Array())));
    hidden.mul(ng.tensor([1, 2, 3], { dtype: 'float64' })).sum().backward();
    expect(seen).toEqual([[10, 20, 30]]);
    expect(x.grad).toBeAllclose([20, 80, 180], exact);
  });

  it('on a leaf, the replaced gradient is what accumulates in .grad', () => {
    const w = ng.tensor([1, -2], { dtype: 'float64', requiresGrad: true });
    w.registerHook((gradient) => gradient.clamp(-1, 1));
    w.mul(5).sum().backward();
    expect(w.grad).toBeAllclose([1, 1], exact);
  });

  it('remove() unregisters (twice is harmless)', () => {
    const x = ng.tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    const hidden = x.mul(3);
    const handle = hidden.registerHook((gradient) => gradient.mul(0));
    handle.remove();
    handle.remove();
    hidden.sum().backward();
    expect(x.grad).toBeAllclose([3, 3], exact);
  });

  it('runs inside grad(f), and a replacement made of tensor ops is differentiated at higher order', () => {
    let calls = 0;
    const f = (t: Tensor) => {
      const hidden = t.square();
      hidden.registerHook((gradient) => {
        calls++;
        return gradient.mul(t);
      });
      return hidden.sum();
    };
    const x = ng.tensor([1, 2, 3], { dtype: 'float64' });
    // d/dx with the gradient of x² scaled by x: 2x · x
    expect(ng.grad(f)(x)).toBeAllclose([2, 8, 18], exact);
    expect(calls).toBe(1);
    expect(ng.grad((t: Tensor) => ng.grad(f)(t).sum())(x)).toBeAllclose([4, 8, 12], exact);
  });

  it('validates the tensor, the function and what it returns', () => {
    expect(() => ng.tensor([1, 2]).registerHook((g) => g)).toThrow('registerHook: the tensor of shape [2] does not require grad, so no gradient is ever computed for it');
    const x = ng.tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    expect(() => x.registerHook(null as never)).toThrow('registerHook: expected a function, got null');
    const hidden = x.mul(2);
    hidden.registerHook(() => ng.zeros([3], { dtype: 'float64' }));
    expect(() => hidden.sum().backward()).toThrow('registerHook: a hook must return nothing or a float64 tensor of shape [2] (the gradient\'s), got a float64 tensor of shape [3]');
  });
});
