/**
 * The function transforms: jvp, vjp, hvp, jacrev, jacfwd, hessian — closed forms, every nesting
 * of forward and reverse mode to third order, perturbations of nested levels kept apart, and the
 * boundary errors.
 */
import { describe, expect, it } from 'vitest';
import * as ng from '@normgrad/core';
import { Tensor, customOp, grad, hessian, hvp, jacfwd, jacrev, jvp, stopGradient, tensor, vjp, type NestedArray } from '@normgrad/core';
import { installMatchers } from '@normgrad/testing/vitest';

installMatchers();

const f64 = (data: NestedArray): Tensor => tensor(data, { dtype: 'float64' });
const tight = { rtol: 1e-12, atol: 1e-12 };
type Fn = (x: Tensor) => Tensor;

describe('jvp', () => {
  it('is [f(x), ∂f·t]: d sin(x) along t is cos(x)·t, for several inputs too', () => {
    const x = f64([0.5, -1, 2]);
    const t = f64([1, 2, -0.5]);
    const [value, tangent] = jvp((a: Tensor) => a.sin(), [x], [t]);
    expect(value).toBeAllclose(x.sin(), tight);
    expect(tangent).toBeAllclose(x.cos().mul(t), tight);
    const y = f64([3, 1, -2]);
    const s = f64([0.1, 0.2, 0.3]);
    const [, product] = jvp((a: Tensor, b: Tensor) => a.mul(b).sum(), [x, y], [t, s]);
    expect(product.item()).toBeCloseTo(t.mul(y).add(x.mul(s)).sum().item(), 12);
  });

  it('gives a zero tangent for an output that does not depend on the primals', () => {
    const [, tangent] = jvp((_a: Tensor) => f64([1, 2]), [f64([3])], [f64([1])]);
    expect(tangent.toArray()).toEqual([0, 0]);
  });

  it('keeps the perturbations of nested levels apart: d/dx [d/dy (x·y)] at y = x is 1, not 2', () => {
    const one = f64(1);
    const inner = (x: Tensor) => jvp((y: Tensor) => x.mul(y), [x], [one])[1];
    expect(jvp(inner, [f64(2)], [one])[1].item()).toBe(1);
    // the same with reverse mode inside and outside
    expect(grad((x: Tensor) => jvp((y: Tensor) => x.mul(y), [x], [one])[1])(f64(2)).item()).toBe(1);
    expect(jvp((x: Tensor) => grad((y: Tensor) => x.mul(y))(x), [f64(2)], [one])[1].item()).toBe(1);
  });

  it('is not switched off by noGrad (forward mode records no graph)', () => {
    const [, tangent] = ng.noGrad(() => jvp((a: Tensor) => a.exp(), [f64(0)], [f64(2)]));
    expect(tangent.item()).toBe(2);
  });

  it('carries no tangent through stopGradient or detach', () => {
    const x = f64([1.5, -2]);
    const t = f64([1, 1]);
    expect(jvp((a: Tensor) => stopGradient(a).mul(a), [x], [t])[1]).toBeAllclose(x, tight);
    expect(jvp((a: Tensor) => a.detach().mul(a).add(a.detach()), [x], [t])[1]).toBeAllclose(x, tight);
  });

  it('rejects bad primals and tangents with Errors naming jvp and the values', () => {
    const x = f64([1, 2]);
    expect(() => jvp((a: Tensor) => a, [x], [f64([1, 2, 3])])).toThrow(/^jvp: tangent 0 is float64 \[3\] but primal 0 is float64 \[2\]/);
    expect(() => jvp((a: Tensor) => a, [x], [] as unknown as [Tensor])).toThrow(/^jvp: 1 primal\(s\) but 0 tangent\(s\)/);
    expect(() => jvp((a: Tensor) => a, [x], [tensor([1, 2])])).toThrow(/^jvp: tangent 0 is float32/);
    expect(() => jvp((a: Tensor) => a, [[1, 2] as unknown as Tensor], [x])).toThrow(/^jvp: primals\[0\] must be a Tensor/);
    expect(() => jvp((() => 3) as unknown as Fn, [x], [x])).toThrow(/^jvp: the function must return a Tensor/);
  });
});

describe('vjp', () => {
  it('returns f(x) and a pullback that can be called many times; pullback(ones) of a sum is grad', () => {
    const x = f64([0.3, 1.2]);
    const y = f64([2, -1]);
    const f = (a: Tensor, b: Tensor) => a.mul(b).sin();
    const [value, pullback] = vjp(f, x, y);
    expect(value).toBeAllclose(x.mul(y).sin(), tight);
    expect(value.requiresGrad).toBe(false);
    const v = f64([1, -2]);
    const [gx, gy] = pullback(v);
    expect(gx).toBeAllclose(x.mul(y).cos().mul(y).mul(v), tight);
    expect(gy).toBeAllclose(x.mul(y).cos().mul(x).mul(v), tight);
    const [gx2] = pullback(f64([1, 1]));
    expect(gx2).toBeAllclose(grad((a: Tensor) => f(a, y).sum())(x), tight);
    expect(() => pullback(f64([1, 2, 3]))).toThrow(/^vjp: the cotangent is float64 \[3\] but the output is float64 \[2\]/);
  });
});

describe('hvp, jacrev, jacfwd, hessian', () => {
  const a = f64([[2, 1, 0], [-1, 3, 0.5], [0.5, 0, 1]]);
  const quadratic = (x: Tensor) => x.matmul(a).mul(x).sum().mul(0.5); // ½ xᵀAx: Hessian (A + Aᵀ)/2
  const symmetric = a.add(a.transpose()).mul(0.5);
  const x = f64([0.4, -1.3, 0.8]);

  it('hessian of ½xᵀAx is (A + Aᵀ)/2, and hvp is that times v', () => {
    expect(hessian(quadratic)(x)).toBeAllclose(symmetric, tight);
    const v = f64([1, 2, -1]);
    const [hv] = hvp(quadratic, [x], [v]);
    expect(hv).toBeAllclose(symmetric.matmul(v), tight);
  });

  it('jacrev and jacfwd agree with the closed form, shaped out.shape ++ arg.shape, for argnums arrays too', () => {
    const w = f64([[1, 2], [3, 4], [5, 6]]);
    const f = (m: Tensor, v: Tensor) => m.matmul(v).tanh(); // (3, 2) @ (2,) → (3,)
    const v = f64([0.2, -0.1]);
    const [byReverseM, byReverseV] = jacrev(f, { argnums: [0, 1] })(w, v);
    const [byForwardM, byForwardV] = jacfwd(f, { argnums: [0, 1] })(w, v);
    expect(byReverseM!.shape).toEqual([3, 3, 2]);
    expect(byReverseV!.shape).toEqual([3, 2]);
    const slope = w.matmul(v).tanh().square().neg().add(1); // (3,)
    expect(byReverseV).toBeAllclose(w.mul(slope.unsqueeze(1)), tight);
    expect(byForwardV).toBeAllclose(byReverseV!, tight);
    expect(byForwardM).toBeAllclose(byReverseM!, tight);
    // ∂y_i/∂W_jk = δ_ij s_i v_k
    const expected = ng.eye(3, { dtype: 'float64' }).unsqueeze(2).mul(slope.reshape([3, 1, 1])).mul(v.reshape([1, 1, 2]));
    expect(byReverseM).toBeAllclose(expected, tight);
    expect(jacrev((m: Tensor) => m.sum())(w).shape).toEqual([3, 2]);
  });

  it('hessian with argnums gives the blocks ∂²f/∂xᵢ∂xⱼ', () => {
    const f = (p: Tensor, q: Tensor) => p.square().mul(q).sum(); // Σ pᵢ² qᵢ
    const p = f64([1, 2]);
    const q = f64([3, -1]);
    const blocks = hessian(f, { argnums: [0, 1] })(p, q);
    expect(blocks[0]![0]).toBeAllclose(ng.eye(2, { dtype: 'float64' }).mul(q.mul(2)), tight);
    expect(blocks[0]![1]).toBeAllclose(ng.eye(2, { dtype: 'float64' }).mul(p.mul(2)), tight);
    expect(blocks[1]![0]).toBeAllclose(ng.eye(2, { dtype: 'float64' }).mul(p.mul(2)), tight);
    expect(blocks[1]![1]).toBeAllclose(ng.zeros([2, 2], { dtype: 'float64' }), tight);
  });

  it('reject bad options and arguments with Errors naming the transform', () => {
    expect(() => jacrev(quadratic, { argnum: 0 } as never)).toThrow(/^jacrev: unknown option 'argnum'/);
    expect(() => jacfwd(quadratic, { argnums: 1 })(x)).toThrow(/^jacfwd: argument 1 must be a Tensor/);
    expect(() => hessian(quadratic, { argnums: -1 })).toThrow(/^hessian: argnums must be non-negative integers, got -1/);
    expect(() => hvp(quadratic, [x], [f64([1])])).toThrow(/^hvp: tangent 0 is float64 \[1\]/);
  });
});

describe('every nesting of forward and reverse mode, to third order', () => {
  // d^k/dx^k [tanh(x) eˣ], k = 1, 2, 3
  const closedForm = (x: number): [number, number, number] => {
    const t = Math.tanh(x);
    const s = 1 - t * t;
    const e = Math.exp(x);
    return [e * (t + s), e * (t + 2 * s - 2 * t * s), e * (t + 3 * s + 3 * (-2 * t * s) + (-2 * s * s + 4 * t * t * s))];
  };
  const f: Fn = (x) => x.tanh().mul(x.exp());
  const one = f64(1);
  const forward = (g: Fn): Fn => (x) => jvp(g, [x], [one])[1];
  const reverse = (g: Fn): Fn => (x) => grad(g)(x);

  for (const modes of ['fff', 'ffr', 'frf', 'frr', 'rff', 'rfr', 'rrf', 'rrr']) {
    it(`${modes} (outermost first)`, () => {
      for (const at of [-0.8, 0.3, 1.4]) {
        let derivative = f;
        const orders: number[] = [];
        for (const mode of [...modes].reverse()) {
          derivative = mode === 'f' ? forward(derivative) : reverse(derivative);
          orders.push(derivative(f64(at)).item());
        }
        const expected = closedForm(at);
        orders.forEach((value, index) => expect(value).toBeCloseTo(expected[index]!, 11));
      }
    });
  }

  it('hvp composes: grad of ⟨hvp(f)(x)·v, w⟩ and jvp of hvp are third derivatives', () => {
    const cubic = (x: Tensor) => x.pow(3).sum(); // Hessian diag(6x), third derivative 6 on the diagonal
    const x = f64([0.5, -2]);
    const v = f64([1, 2]);
    const w = f64([3, -1]);
    const third = grad((y: Tensor) => hvp(cubic, [y], [v])[0]!.mul(w).sum())(x);
    expect(third).toBeAllclose(v.mul(w).mul(6), tight);
    const [, throughJvp] = jvp((y: Tensor) => hvp(cubic, [y], [v])[0]!, [x], [w]);
    expect(throughJvp).toBeAllclose(v.mul(w).mul(6), tight);
  });
});

describe('customOp in forward mode', () => {
  const cubeForward = (x: import('ndarray').NdArray<Float64Array | Float32Array>) => {
    const out = ng.tensor(Array.from({ length: x.size }, (_, i) => x.data[x.offset + i]! ** 3), { dtype: 'float64' });
    return out.data;
  };
  const vjpRule = (g: Tensor, [x]: Tensor[]) => [g.mul(x!.square()).mul(3)];

  it('uses the jvp rule it is given (and that rule is differentiable in both modes)', () => {
    const cube = customOp({ name: 'cube', forward: cubeForward, vjp: vjpRule, jvp: ([t], [x]) => t!.mul(x!.square()).mul(3) });
    const x = f64([2]);
    expect(jvp((a: Tensor) => cube(a), [x], [f64([1])])[1].toArray()).toEqual([12]);
    expect(jvp((a: Tensor) => jvp((b: Tensor) => cube(b), [a], [f64([1])])[1], [x], [f64([1])])[1].toArray()).toEqual([12]);
    expect(ng.gradcheck((a) => cube(a), [f64([0.7, -1.1])], { checkForwardAd: true }).ok).toBe(true);
  });

  it('without a jvp rule, forward mode through it is an Error naming the op', () => {
    const cube = customOp({ name: 'cube', forward: cubeForward, vjp: vjpRule });
    expect(() => jvp((a: Tensor) => cube(a), [f64([2])], [f64([1])])).toThrow(/^cube: forward-mode differentiation \(jvp\) through this customOp needs a jvp rule/);
  });

  it('gradcheck({ checkForwardAd }) catches a wrong jvp rule that reverse mode alone does not', () => {
    const cube = customOp({ name: 'cube', forward: cubeForward, vjp: vjpRule, jvp: ([t], [x]) => t!.mul(x!.square()).mul(2) });
    const inputs = [f64([0.7, -1.1])];
    expect(ng.gradcheck((a) => cube(a), inputs).ok).toBe(true);
    const result = ng.gradcheck((a) => cube(a), inputs, { checkForwardAd: true });
    expect(result.ok).toBe(false);
    expect(result.worst?.mode).toBe('forward');
  });
});

describe('grad typing and allowUnused', () => {
  it('an unused argument is an Error naming grad and its index; with allowUnused its gradient is zeros', () => {
    const f = (a: Tensor, _b: Tensor) => a.sum();
    expect(() => grad(f, { argnums: [0, 1] })(f64([1]), f64([2, 3]))).toThrow(/^grad: the function's output does not depend on argument 1 \(shape \[2\]\)/);
    expect(() => ng.valueAndGrad(f, { argnums: 1 })(f64([1]), f64([2, 3]))).toThrow(/^valueAndGrad: .*argument 1/);
    const [, gb] = grad(f, { argnums: [0, 1], allowUnused: true })(f64([1]), f64([2, 3]));
    expect(gb!.toArray()).toEqual([0, 0]);
    // used through a zero-gradient op is used: zeros, no Error
    expect(grad((a: Tensor) => a.sign().sum())(f64([1, -1])).toArray()).toEqual([0, 0]);
    expect(() => grad(f, { allowUnusd: true } as never)).toThrow(/^grad: unknown option 'allowUnusd'.*allowUnused/);
  });
});
