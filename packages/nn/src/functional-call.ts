import { Tensor, checkOptions, noGrad } from '@normgrad/core';
import { Module, isBuffer, isParameter } from './module.js';
import { formatShape } from './util.js';

/** One tensor field of a module in the tree: the dotted name, the module holding it, the field. */
interface TensorSlot {
  name: string;
  owner: Module;
  field: string;
  original: Tensor;
  kind: 'parameter' | 'buffer';
}

function tensorSlots(module: Module): TensorSlot[] {
  const slots: TensorSlot[] = [];
  for (const [prefix, owner] of module.namedModules()) {
    for (const [field, value] of Object.entries(owner)) {
      if (!(value instanceof Tensor)) continue;
      const kind = isParameter(value) ? 'parameter' : isBuffer(value) ? 'buffer' : null;
      if (kind === null) continue;
      slots.push({ name: prefix === '' ? field : `${prefix}.${field}`, owner, field, original: value, kind });
    }
  }
  return slots;
}

function sameValues(a: Tensor, b: Tensor): boolean {
  const x = a.toFloat64Array();
  const y = b.toFloat64Array();
  return x.every((value, index) => Object.is(value, y[index]));
}

/**
 * Runs `module.forward(...inputs)` with some of its parameters and buffers replaced by the given
 * tensors, keyed by their dotted names (as namedParameters/namedBuffers list them):
 * PyTorch's torch.func.functional_call. The module is a pure function of `params` then, so grad,
 * hvp and the other transforms apply to a network's parameters:
 *
 *   const names = model.namedParameters().map(([name]) => name);
 *   const loss = (...ps: Tensor[]) => mseLoss(functionalCall(model, Object.fromEntries(names.map((n, i) => [n, ps[i]!])), x), y);
 *   hvp(loss, model.parameters(), directions);
 *
 * Names not given keep the module's own tensors. A tensor that several fields share (tied
 * weights) is replaced in all of them when one of its names is given. The module's fields are
 * restored afterwards, also when the forward throws.
 *
 * Running statistics: in training mode a BatchNorm forward updates its running buffers in place.
 * PyTorch's functional_call then writes into the tensors the caller passed (silently; the
 * module's own buffers stay unchanged). Here the tensors passed are never written: a buffer
 * given in `params` is substituted by a copy, and when the forward changed that copy,
 * functionalCall throws an Error naming the buffer (as Flax does for an immutable collection).
 * Leave the buffer out of `params` to have the module update its own (as without
 * functionalCall), or call `module.eval()` to normalize with the running statistics.
 * Numeric state such as numBatchesTracked is the module's own and is updated as usual.
 */
export function functionalCall(module: Module, params: Record<string, Tensor>, ...inputs: Tensor[]): Tensor {
  const op = 'functionalCall';
  if (!(module instanceof Module)) throw new Error(`${op}: the first argument must be a Module, got ${module === null ? 'null' : typeof module}`);
  const slots = tensorSlots(module);
  const names = [...new Set(slots.map((slot) => slot.name))];
  checkOptions(op, params, names);
  if (params === undefined) throw new Error(`${op}: params must be an object of tensors keyed by parameter and buffer names`);
  const replacements = new Map<Tensor, { name: string; value: Tensor; kind: 'parameter' | 'buffer' }>();
  for (const slot of slots) {
    if (!Object.hasOwn(params, slot.name)) continue;
    const value = params[slot.name];
    if (!(value instanceof Tensor)) throw new Error(`${op}: params['${slot.name}'] must be a Tensor, got ${value === null ? 'null' : typeof value}`);
    if (formatShape(value.shape) !== formatShape(slot.original.shape) || value.dtype !== slot.original.dtype) {
      throw new Error(
        `${op}: params['${slot.name}'] is ${value.dtype} ${formatShape(value.shape)} but the module's ${slot.kind} is ${slot.original.dtype} ${formatShape(slot.original.shape)}`,
      );
    }
    replacements.set(slot.original, { name: slot.name, value, kind: slot.kind });
  }
  // buffers run on copies (which keep the value's history and tangents), so the caller's tensors are never written
  const substitutes = new Map<Tensor, Tensor>();
  for (const [original, { value, kind }] of replacements) substitutes.set(original, kind === 'buffer' ? value.clone() : value);
  const replaced = slots.filter((slot) => substitutes.has(slot.original));
  for (const slot of replaced) (slot.owner as unknown as Record<string, unknown>)[slot.field] = substitutes.get(slot.original);
  let output: Tensor;
  try {
    output = module.forward(...inputs);
    for (const [original, { name, value, kind }] of replacements) {
      if (kind === 'buffer' && !noGrad(() => sameValues(substitutes.get(original)!, value))) {
        throw new Error(
          `${op}: the forward wrote into buffer '${name}' (running statistics in training mode); the tensors passed to ${op} are never written. ` +
            `Leave '${name}' out of params to update the module's own buffer, or call module.eval() first`,
        );
      }
    }
  } finally {
    for (const slot of replaced) (slot.owner as unknown as Record<string, unknown>)[slot.field] = slot.original;
  }
  return output;
}
