/**
 * Bad input is rejected up front with an Error that names the op and the offending
 * shapes/values. Every regex below checks both: the op's name and the numbers a user would
 * need to find the mistake.
 */
import { describe, expect, it } from 'vitest';
import {
  Tensor,
  add,
  arange,
  broadcastTo,
  concat,
  customOp,
  eye,
  full,
  grad,
  gradcheck,
  logSoftmax,
  manualSeed,
  matmul,
  mean,
  mul,
  narrow,
  ones,
  pad,
  permute,
  rand,
  randn,
  reshape,
  slice,
  softmax,
  stack,
  sum,
  tensor,
  unsqueeze,
  valueAndGrad,
  where,
  zeros,
  type DType,
  type NestedArray,
} from '@normgrad/core';

const f32 = (shape: number[]): Tensor => zeros(shape);
const f64 = (shape: number[]): Tensor => zeros(shape, { dtype: 'float64' });

describe('shape mismatches', () => {
  it('add, mul, sub, div, maximum, pow: shapes that do not broadcast', () => {
    expect(() => add(f32([2, 3]), f32([4]))).toThrow(/^add: shapes \[2, 3\] and \[4\] are not broadcast-compatible$/);
    expect(() => f32([2, 3]).add(f32([3, 2]))).toThrow(/add: .*\[2, 3\].*\[3, 2\]/);
    expect(() => mul(f32([5]), f32([2, 4]))).toThrow(/mul: .*\[5\].*\[2, 4\]/);
    expect(() => f32([3]).sub(f32([2]))).toThrow(/sub: .*\[3\].*\[2\]/);
    expect(() => f32([3]).div(f32([2]))).toThrow(/div: .*\[3\].*\[2\]/);
    expect(() => f32([3]).maximum(f32([2]))).toThrow(/maximum: .*\[3\].*\[2\]/);
    expect(() => f32([3]).minimum(f32([2]))).toThrow(/maximum|minimum/);
    expect(() => f32([3]).pow(f32([2]))).toThrow(/pow: .*\[3\].*\[2\]/);
    expect(() => f32([3]).lt(f32([2]))).toThrow(/lt: .*\[3\].*\[2\]/);
  });

  it('where: condition and operands that do not broadcast', () => {
    expect(() => where(f32([2]), f32([3]), f32([3]))).toThrow(/where: .*\[2\].*\[3\]/);
    expect(() => where(f32([3]), f32([3]), f32([2, 2]))).toThrow(/where: .*\[3\].*\[2, 2\]/);
    expect(() => f32([4]).where(f32([3]), 0)).toThrow(/where: .*\[3\].*\[4\]/);
  });

  it('matmul: inner dimensions differ, 0-d operands', () => {
    expect(() => matmul(f32([2, 3]), f32([4, 5]))).toThrow(/matmul: shapes \[2, 3\] and \[4, 5\] cannot be multiplied \(3 ≠ 4\)/);
    expect(() => f32([3]).matmul(f32([4]))).toThrow(/matmul: .*\[3\].*\[4\]/);
    expect(() => f32([2, 2, 3]).matmul(f32([2, 2]))).toThrow(/matmul: .*\[2, 2, 3\].*\[2, 2\]/);
    expect(() => f32([2, 2, 3]).matmul(f32([3, 3, 2]))).toThrow(/matmul: .*\[2\].*\[3\]/); // batch axes
    expect(() => f32([]).matmul(f32([2]))).toThrow(/matmul: .*\[\].*\[2\]/);
  });

  it('reshape: wrong size, two -1s, bad extents', () => {
    expect(() => reshape(f32([2, 3]), [4])).toThrow(/reshape: .*\[2, 3\].*6 elements.*\[4\]/);
    expect(() => f32([2, 3]).reshape([4, -1])).toThrow(/reshape: .*\[2, 3\].*\[4, -1\]/);
    expect(() => f32([2, 3]).reshape([-1, -1])).toThrow(/reshape: only one extent may be -1.*\[-1, -1\]/);
    expect(() => f32([2, 3]).reshape([-2, -3])).toThrow(/reshape: .*-2/);
    expect(() => f32([2, 3]).reshape([2.5, 2])).toThrow(/reshape: .*2\.5/);
  });

  it('broadcastTo: incompatible target shapes', () => {
    expect(() => broadcastTo(f32([3]), [2, 4])).toThrow(/broadcastTo: cannot broadcast a tensor of shape \[3\] to \[2, 4\]/);
    expect(() => f32([2, 3]).broadcastTo([3])).toThrow(/broadcastTo: .*\[2, 3\].*\[3\]/);
    expect(() => f32([2, 1]).broadcastTo([3, 5])).toThrow(/broadcastTo: .*\[2, 1\].*\[3, 5\]/);
  });

  it('concat and stack: shapes that differ outside the axis', () => {
    expect(() => concat([f32([2, 3]), f32([2, 4])], 0)).toThrow(/concat: shapes \[2, 3\], \[2, 4\] differ outside axis 0/);
    expect(() => concat([f32([2, 3]), f32([2, 3, 1])], 1)).toThrow(/concat: .*\[2, 3\].*\[2, 3, 1\]/);
    expect(() => concat([], 0)).toThrow(/concat: .*non-empty/);
    expect(() => concat([f32([])], 0)).toThrow(/concat: .*0-d/);
    expect(() => stack([f32([2]), f32([3])])).toThrow(/stack: .*\[2\].*\[3\]/);
  });
});

describe('axes', () => {
  const x = f32([2, 3]);
  it('an axis out of range in reductions', () => {
    expect(() => sum(x, 2)).toThrow(/^sum: axis 2 is out of range for a tensor of shape \[2, 3\] \(expected an integer in \[-2, 1\]\)$/);
    expect(() => x.sum(-3)).toThrow(/sum: axis -3 .*\[2, 3\]/);
    expect(() => x.sum([0, 5])).toThrow(/sum: axis 5 .*\[2, 3\]/);
    expect(() => mean(x, 2)).toThrow(/mean: axis 2 .*\[2, 3\]/);
    expect(() => x.var(3)).toThrow(/var: axis 3 .*\[2, 3\]/);
    expect(() => x.std(3)).toThrow(/std: axis 3 .*\[2, 3\]/);
    expect(() => x.max(2)).toThrow(/max: axis 2 .*\[2, 3\]/);
    expect(() => x.min(-4)).toThrow(/min: axis -4 .*\[2, 3\]/);
    expect(() => x.logsumexp(2)).toThrow(/logsumexp: axis 2 .*\[2, 3\]/);
    expect(() => x.sum(0.5)).toThrow(/sum: axis 0\.5/);
  });

  it('an axis out of range in softmax, logSoftmax, permute, transpose, unsqueeze, squeeze, flatten, narrow, concat, stack', () => {
    expect(() => softmax(x, 2)).toThrow(/softmax: axis 2 .*\[2, 3\]/);
    expect(() => logSoftmax(x, -3)).toThrow(/logSoftmax: axis -3 .*\[2, 3\]/);
    expect(() => permute(x, [0, 2])).toThrow(/permute: .*2.*\[2, 3\]/);
    expect(() => x.permute([0])).toThrow(/permute: \[0\] is not a permutation .*\[2, 3\]/);
    expect(() => x.transpose(0, 2)).toThrow(/transpose: axis 2 .*\[2, 3\]/);
    expect(() => unsqueeze(x, 3)).toThrow(/unsqueeze: axis 3 .*\[2, 3\]/);
    expect(() => x.unsqueeze(-4)).toThrow(/unsqueeze: axis -4 .*\[2, 3\]/);
    expect(() => x.squeeze(2)).toThrow(/squeeze: axis 2 .*\[2, 3\]/);
    expect(() => x.flatten(0, 2)).toThrow(/flatten: axis 2 .*\[2, 3\]/);
    expect(() => x.flatten(1, 0)).toThrow(/flatten: startAxis 1 comes after endAxis 0 for shape \[2, 3\]/);
    expect(() => narrow(x, 2, 0, 1)).toThrow(/narrow: axis 2 .*\[2, 3\]/);
    expect(() => concat([x, x], 2)).toThrow(/concat: axis 2 .*\[2, 3\]/);
    expect(() => stack([x, x], 3)).toThrow(/stack: axis 3 .*\[2, 3\]/);
  });

  it('repeated axes', () => {
    expect(() => x.sum([0, 0])).toThrow(/sum: repeated axis in \[0,0\]/);
    expect(() => x.sum([1, -1])).toThrow(/sum: repeated axis in \[1,-1\] .*\[2, 3\]/);
    expect(() => x.mean([0, -2])).toThrow(/mean: repeated axis .*\[0,-2\]/);
    expect(() => x.var([1, 1])).toThrow(/var: repeated axis .*\[1,1\]/);
    expect(() => x.max([0, 0])).toThrow(/max: repeated axis .*\[0,0\]/);
    expect(() => x.permute([1, 1])).toThrow(/permute: \[1,1\] is not a permutation .*\[2, 3\]/);
    expect(() => x.permute([0, -2])).toThrow(/permute: \[0,-2\] is not a permutation .*\[2, 3\]/);
  });
});

describe('dtypes', () => {
  it('float32 and float64 mixed in one op', () => {
    expect(() => add(f32([2]), f64([2]))).toThrow(/^add: dtype mismatch: float32 \[2\] and float64 \[2\]$/);
    expect(() => f64([2, 2]).mul(f32([2]))).toThrow(/mul: dtype mismatch: float64 \[2, 2\] and float32 \[2\]/);
    expect(() => matmul(f32([2, 2]), f64([2, 2]))).toThrow(/matmul: dtype mismatch: float32 \[2, 2\] and float64 \[2, 2\]/);
    expect(() => concat([f32([1, 2]), f64([3, 2])])).toThrow(/concat: dtype mismatch: float32 \[1, 2\] and float64 \[3, 2\]/);
    expect(() => where(f32([2]), f32([2]), f64([2]))).toThrow(/where: dtype mismatch: float32 \[2\] and float64 \[2\]/);
    expect(() => stack([f32([2]), f64([2])])).toThrow(/concat|stack/);
    // a plain number takes the tensor's dtype: no error
    expect(f64([2]).add(1).dtype).toBe('float64');
  });

  it('a bad dtype string', () => {
    const bad = 'int64' as unknown as DType;
    expect(() => tensor([1, 2], { dtype: bad })).toThrow(/tensor: dtype must be 'float32', 'float64' or 'int32', got "int64"/);
    expect(() => zeros([2], { dtype: bad })).toThrow(/zeros: dtype .*"int64"/);
    expect(() => ones([2], { dtype: bad })).toThrow(/ones: dtype .*"int64"/);
    expect(() => full([2], 1, { dtype: bad })).toThrow(/full: dtype .*"int64"/);
    expect(() => randn([2], { dtype: bad })).toThrow(/randn: dtype .*"int64"/);
    expect(() => rand([2], { dtype: bad })).toThrow(/rand: dtype .*"int64"/);
    expect(() => arange(0, 3, { dtype: bad })).toThrow(/arange: dtype .*"int64"/);
    expect(() => eye(2, { dtype: bad })).toThrow(/eye: dtype .*"int64"/);
    expect(() => f32([2]).to('float16' as unknown as DType)).toThrow(/cast: dtype .*"float16"/);
  });
});

describe('creation', () => {
  it('a negative or fractional shape', () => {
    expect(() => zeros([2, -1])).toThrow(/zeros: shape must be an array of non-negative integers, got \[2,-1\]/);
    expect(() => ones([-3])).toThrow(/ones: shape .*\[-3\]/);
    expect(() => full([1.5], 0)).toThrow(/full: shape .*\[1\.5\]/);
    expect(() => randn([-1, 2])).toThrow(/randn: shape .*\[-1,2\]/);
    expect(() => rand([2, -2])).toThrow(/rand: shape .*\[2,-2\]/);
    expect(() => tensor([1, 2], { shape: [-2] })).toThrow(/tensor: shape .*\[-2\]/);
    expect(() => eye(-1)).toThrow(/eye: size must be a non-negative integer, got -1/);
  });

  it('a ragged nested array, a non-number element, data that does not fill the shape', () => {
    expect(() => tensor([[1, 2], [3]])).toThrow(/tensor: ragged nested array: data\[1\] has shape \[1\] but data\[0\] has \[2\]/);
    expect(() => tensor([[[1], [2]], [[3]]])).toThrow(/tensor: ragged .*data\[1\].*\[1, 1\].*\[2, 1\]/);
    expect(() => tensor([1, [2]] as unknown as NestedArray)).toThrow(/tensor: ragged .*data\[1\]/);
    expect(() => tensor([1, 'a'] as unknown as NestedArray)).toThrow(/tensor: element data\[1\] is string/);
    expect(() => tensor(new Float32Array(6), { shape: [4] })).toThrow(/tensor: 6 values cannot take shape \[4\]/);
    expect(() => tensor([1, 2, 3], { shape: [2, 2] })).toThrow(/tensor: 3 values .*\[2, 2\]/);
  });

  it('arange with a zero step or non-finite bounds', () => {
    expect(() => arange(0, 5, 0)).toThrow(/arange: .*0, 5, 0/);
    expect(() => arange(0, Infinity)).toThrow(/arange: .*Infinity/);
    expect(() => manualSeed(NaN)).toThrow(/manualSeed: .*NaN/);
  });
});

describe('indexing', () => {
  const x = arange(3);
  const m = f32([3, 4]);
  it('slice: an index out of range, a zero or negative step, too many ranges, fractional bounds', () => {
    expect(() => slice(x, 5)).toThrow(/slice: index 5 is out of range for axis 0 of extent 3 \(shape \[3\]\)/);
    expect(() => x.slice(-4)).toThrow(/slice: index -4 .*extent 3.*\[3\]/);
    expect(() => m.slice(null, 4)).toThrow(/slice: index 4 .*axis 1 of extent 4 .*\[3, 4\]/);
    expect(() => x.slice([0, 3, 0])).toThrow(/slice: step must be a positive integer, got 0 for axis 0 .*\[3\]/);
    expect(() => m.slice(null, [null, null, -1])).toThrow(/slice: step .*got -1 for axis 1 .*\[3, 4\]/);
    expect(() => x.slice(0, 0)).toThrow(/slice: 2 ranges given for a tensor of shape \[3\]/);
    expect(() => x.slice([0.5, 2])).toThrow(/slice: bounds must be integers, got 0\.5 for axis 0/);
  });

  it('narrow: start and length that do not fit', () => {
    expect(() => narrow(m, 1, 2, 3)).toThrow(/narrow: start 2 and length 3 do not fit axis 1 of extent 4 \(shape \[3, 4\]\)/);
    expect(() => m.narrow(0, -4, 1)).toThrow(/narrow: start -4 .*extent 3.*\[3, 4\]/);
    expect(() => m.narrow(0, 0, -1)).toThrow(/narrow: .*length -1/);
  });

  it('pad: negative or fractional widths, too many pairs', () => {
    expect(() => pad(m, [[-1, 0]])).toThrow(/pad: widths must be non-negative integers, got \[-1,0\]/);
    expect(() => m.pad([[0, 0], [1, -2]])).toThrow(/pad: .*\[1,-2\]/);
    expect(() => m.pad([[0.5, 0]])).toThrow(/pad: .*\[0\.5,0\]/);
    expect(() => x.pad([[1, 1], [1, 1]])).toThrow(/pad: widths must be at most 1 .*\[3\]/);
  });

  it('transpose with a wrong number of axes', () => {
    expect(() => f32([2, 3, 4]).transpose(0)).toThrow(/transpose: .*\[2, 3, 4\].*\[0\]/);
  });
});

describe('autodiff', () => {
  it('backward() without a gradient on a non-scalar output', () => {
    const x = f32([2, 3]);
    x.requiresGrad = true;
    expect(() => x.mul(2).backward()).toThrow(/backward: output of shape \[2, 3\] is not a scalar; pass a gradient of the same shape/);
  });

  it('backward with a gradient of the wrong shape or dtype', () => {
    const x = f32([2]);
    x.requiresGrad = true;
    expect(() => x.mul(2).backward(f32([3]))).toThrow(/backward: gradient of shape \[3\] does not match output of shape \[2\]/);
    expect(() => x.mul(2).backward(f32([2, 1]))).toThrow(/backward: gradient of shape \[2, 1\] .*\[2\]/);
    expect(() => x.mul(2).backward(f64([2]))).toThrow(/backward: gradient dtype float64 does not match output dtype float32/);
  });

  it('backward on a tensor that does not require grad', () => {
    expect(() => f32([2]).sum().backward()).toThrow(/backward: the tensor of shape \[\] does not require grad/);
    expect(() => f32([2]).backward(f32([2]))).toThrow(/backward: the tensor of shape \[2\] does not require grad/);
  });

  it('a second backward through a freed graph', () => {
    const x = f64([3]);
    x.requiresGrad = true;
    const y = x.exp().sum();
    y.backward();
    expect(() => y.backward()).toThrow(/backward: the graph through 'sum' \(output shape \[\]\) was freed .*retainGraph/);
    // the freed node can also be an inner one
    const h = x.exp();
    h.sum().backward();
    expect(() => h.mul(2).sum().backward()).toThrow(/backward: the graph through 'exp' \(output shape \[3\]\) was freed .*retainGraph/);
  });

  it('item() on a non-scalar', () => {
    expect(() => f32([2, 2]).item()).toThrow(/item: a tensor of shape \[2, 2\] has 4 elements/);
    expect(() => f32([0]).item()).toThrow(/item: .*\[0\] has 0 elements/);
  });

  it('grad/valueAndGrad of a function returning a non-scalar, bad argnums, a non-Tensor argument', () => {
    const x = f64([3]);
    expect(() => grad((v: Tensor) => v.mul(2))(x)).toThrow(/grad: the function must return a one-element Tensor, got \[3\]/);
    expect(() => valueAndGrad((v: Tensor) => v.mul(2))(x)).toThrow(/valueAndGrad: .*one-element Tensor, got \[3\]/);
    expect(() => grad((() => 3) as unknown as (v: Tensor) => Tensor)(x)).toThrow(/grad: .*one-element Tensor, got number/);
    expect(() => grad((v: Tensor) => v.sum(), { argnums: -1 })).toThrow(/grad: argnums must be non-negative integers, got -1/);
    expect(() => grad((v: Tensor, _w: number) => v.sum(), { argnums: 1 })(x, 2)).toThrow(/grad: argument 1 must be a Tensor .*got number/);
  });

  it('customOp: a VJP that returns the wrong number of gradients, a non-Tensor input, a bad forward', () => {
    const twice = customOp({
      name: 'twice',
      forward: (a) => a,
      vjp: (g) => [g, g],
    });
    const x = f64([2]);
    x.requiresGrad = true;
    expect(() => twice(x).sum().backward()).toThrow(/twice: vjp must return one gradient \(or null\) per input: 1 expected, got 2/);
    const wrongShape = customOp({ name: 'wrongShape', forward: (a) => a, vjp: (g) => [g.sum()] });
    expect(() => wrongShape(x).sum().backward()).toThrow(/backward: the VJP of 'wrongShape' returned a gradient of shape \[\] for input 0 of shape \[2\]/);
    expect(() => twice(3 as unknown as Tensor)).toThrow(/twice: input 0 must be a Tensor/);
    const badForward = customOp({ name: 'badForward', forward: () => ({}) as never, vjp: (g) => [g] });
    expect(() => badForward(x)).toThrow(/badForward: forward must return an ndarray/);
    const intForward = customOp({ name: 'intForward', forward: (a) => tensor([1, 2], { dtype: 'int32', shape: a.shape }).data, vjp: (g) => [g] });
    expect(() => intForward(x)).toThrow(/intForward: forward must return an ndarray backed by a Float32Array or Float64Array/);
    expect(() => twice(f32([2]), f64([2]))).toThrow(/twice: dtype mismatch: input 0 is float32 \[2\], input 1 is float64 \[2\]/);
  });

  it('gradcheck with bad arguments', () => {
    expect(() => gradcheck((v) => v, [3 as unknown as Tensor])).toThrow(/gradcheck: inputs must be an array of Tensors/);
    expect(() => gradcheck((v) => v, [f64([2])], { eps: 0 })).toThrow(/gradcheck: eps must be > 0.*0/);
  });
});

describe('other options', () => {
  it('var with a negative correction, clamp without bounds or with NaN, reductions over an empty axis', () => {
    expect(() => f32([3]).var(0, { correction: -1 })).toThrow(/var: correction must be a non-negative number, got -1/);
    expect(() => f32([3]).clamp()).toThrow(/clamp: at least one of min and max must be given/);
    expect(() => f32([3]).clamp(NaN, 1)).toThrow(/clamp: .*NaN/);
    expect(() => f32([0, 3]).max(0)).toThrow(/max: cannot reduce over an empty axis of a tensor of shape \[0, 3\]/);
    expect(() => f32([2, 0]).min()).toThrow(/min: .*empty axis .*\[2, 0\]/);
    expect(() => f32([0]).logsumexp()).toThrow(/logsumexp: .*empty axis .*\[0\]/);
  });

  it('operands that are not Tensors', () => {
    expect(() => add(null as unknown as Tensor, f32([1]))).toThrow(/add: operand 0 must be a Tensor, got null/);
    expect(() => add(null as unknown as Tensor, 1)).toThrow(/add: at least one operand must be a Tensor/);
    expect(() => add(1, 2)).toThrow(/add: at least one operand must be a Tensor/);
    expect(() => f32([2]).mul('2' as unknown as number)).toThrow(/mul: operand 1 must be a Tensor, got string/);
    expect(() => matmul(f32([2]), [1, 2] as unknown as Tensor)).toThrow(/matmul: both operands must be Tensors/);
  });
});
