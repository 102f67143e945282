import { Tensor, assignInPlace, checkOptions, noGrad } from '@normgrad/core';

export interface ClipGradNormOptions {
  /** Order of the norm: any p > 0, or Infinity for the largest absolute value. */
  normType?: number;
  /** Throw instead of scaling when the total norm is NaN or infinite (PyTorch's error_if_nonfinite). */
  errorIfNonfinite?: boolean;
}

/** The gradients of `params` that exist (a single tensor counts as a list of one). */
function gradients(op: string, params: Tensor | Iterable<Tensor>): Tensor[] {
  if (params instanceof Tensor) params = [params];
  if (params === null || typeof params !== 'object' || typeof (params as Iterable<Tensor>)[Symbol.iterator] !== 'function') {
    throw new Error(`${op}: params must be a Tensor or an iterable of Tensors (e.g. module.parameters()), got ${params === null ? 'null' : typeof params}`);
  }
  const grads: Tensor[] = [];
  let position = 0;
  for (const param of params) {
    if (!(param instanceof Tensor)) throw new Error(`${op}: parameter ${position} is not a Tensor (got ${param === null ? 'null' : typeof param})`);
    if (param.grad !== null) grads.push(param.grad);
    position++;
  }
  return grads;
}

/** ‖g‖_p of one gradient, in float64: max |g| for p = ∞, else (Σ |g|^p)^(1/p). */
function norm(values: ArrayLike<number>, p: number): number {
  let total = 0;
  if (p === Infinity) {
    for (let i = 0; i < values.length; i++) {
      const magnitude = Math.abs(values[i]!);
      if (!(magnitude <= total)) total = magnitude; // NaN propagates, as torch's max
    }
    return total;
  }
  if (p === 2) {
    for (let i = 0; i < values.length; i++) total += values[i]! * values[i]!;
    return Math.sqrt(total);
  }
  if (p === 1) {
    for (let i = 0; i < values.length; i++) total += Math.abs(values[i]!);
    return total;
  }
  for (let i = 0; i < values.length; i++) total += Math.abs(values[i]!) ** p;
  return total ** (1 / p);
}

/**
 * Scales the gradients of `params` in place so that their total norm (the norm of all of them
 * viewed as one vector) is at most `maxNorm`, as torch.nn.utils.clip_grad_norm_: every gradient
 * is multiplied by min(1, maxNorm / (total + 1e-6)). Returns the total norm before clipping
 * (0 when no parameter has a gradient). Parameters whose grad is null are skipped.
 */
export function clipGradNorm(params: Tensor | Iterable<Tensor>, maxNorm: number, options: ClipGradNormOptions = {}): number {
  const op = 'clipGradNorm';
  checkOptions(op, options, ['normType', 'errorIfNonfinite']);
  const { normType = 2, errorIfNonfinite = false } = options;
  if (typeof maxNorm !== 'number' || Number.isNaN(maxNorm)) throw new Error(`${op}: maxNorm must be a number, got ${String(maxNorm)}`);
  if (typeof normType !== 'number' || !(normType > 0)) throw new Error(`${op}: normType must be a number > 0 or Infinity, got ${String(normType)}`);
  if (typeof errorIfNonfinite !== 'boolean') throw new Error(`${op}: errorIfNonfinite must be true or false, got ${String(errorIfNonfinite)}`);
  const grads = gradients(op, params);
  if (grads.length === 0) return 0;
  // total = ‖(‖g₁‖, ‖g₂‖, …)‖, as torch.norm of the stacked per-gradient norms
  const total = norm(grads.map((grad) => norm(grad.toFloat64Array(), normType)), normType);
  if (errorIfNonfinite && !Number.isFinite(total)) {
    throw new Error(`${op}: the total norm of order ${normType} of the gradients is ${total}, so they cannot be clipped; pass errorIfNonfinite: false to scale them by it anyway`);
  }
  const coefficient = Math.min(maxNorm / (total + 1e-6), 1.0);
  noGrad(() => {
    for (const grad of grads) assignInPlace(grad.detach(), grad.detach().mul(coefficient));
  });
  return total;
}

/**
 * Clamps every gradient of `params` in place to [−clipValue, clipValue], as
 * torch.nn.utils.clip_grad_value_. Parameters whose grad is null are skipped.
 */
export function clipGradValue(params: Tensor | Iterable<Tensor>, clipValue: number): void {
  const op = 'clipGradValue';
  if (typeof clipValue !== 'number' || Number.isNaN(clipValue)) throw new Error(`${op}: clipValue must be a number, got ${String(clipValue)}`);
  const grads = gradients(op, params);
  noGrad(() => {
    for (const grad of grads) assignInPlace(grad.detach(), grad.detach().clamp(-clipValue, clipValue));
  });
}
