import type { Tensor } from './tensor.js';

/**
 * Scoped recording and freezing of stopGradient values, for numerical gradient checks.
 *
 * stopGradient(v) declares v a constant for differentiation. A central-difference check that
 * re-runs the function would still see v move with the inputs (BatchRenorm's r = σ_B/σ), so the
 * numeric and analytic derivatives would differ by design. A checker therefore records the
 * stopGradient values at the unperturbed point (recordStopGradients) and re-runs the perturbed
 * evaluations with those values held fixed (withFrozenStopGradients): the derivative it then
 * estimates is the one autodiff defines. Plain `.detach()` is not affected, so a statistic
 * detached by mistake is still caught.
 */
type StopGradientScope = { kind: 'record'; values: Tensor[] } | { kind: 'freeze'; values: readonly Tensor[]; next: number };

let scope: StopGradientScope | null = null;

function withScope<T>(next: StopGradientScope, fn: () => T): T {
  const previous = scope;
  scope = next;
  try {
    return fn();
  } finally {
    scope = previous;
  }
}

/** Runs fn and returns its result with the values of its stopGradient calls, in call order. */
export function recordStopGradients<T>(fn: () => T): [T, Tensor[]] {
  const values: Tensor[] = [];
  const result = withScope({ kind: 'record', values }, fn);
  return [result, values];
}

/**
 * Runs fn with its i-th stopGradient call returning values[i] (recorded by recordStopGradients
 * on the same computation). Throws when the calls do not line up in number or shape.
 */
export function withFrozenStopGradients<T>(values: readonly Tensor[], fn: () => T): T {
  const frozen: StopGradientScope = { kind: 'freeze', values, next: 0 };
  const result = withScope(frozen, fn);
  if (frozen.next !== values.length) {
    throw new Error(`withFrozenStopGradients: ${values.length} stopGradient value(s) were recorded but the computation made ${frozen.next} call(s)`);
  }
  return result;
}

/** Called by stopGradient with its detached value: records it, or substitutes the frozen one. */
export function stopGradientValue(detached: Tensor): Tensor {
  if (scope === null) return detached;
  if (scope.kind === 'record') {
    scope.values.push(detached);
    return detached;
  }
  const index = scope.next++;
  const frozen = scope.values[index];
  if (frozen === undefined) {
    throw new Error(`withFrozenStopGradients: stopGradient call ${index + 1} has no recorded value (${scope.values.length} recorded)`);
  }
  if (frozen.shape.length !== detached.shape.length || frozen.shape.some((extent, axis) => extent !== detached.shape[axis])) {
    throw new Error(
      `withFrozenStopGradients: stopGradient call ${index + 1} has shape [${detached.shape.join(', ')}] but the recorded value has shape [${frozen.shape.join(', ')}]`,
    );
  }
  return frozen;
}
