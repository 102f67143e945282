import { Tensor, allExamples, checkOptions, noGrad, stack } from '@normgrad/core';
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

/** Whether two tensors hold the same values (every example's, for tensors batched by vmap). */
function sameValues(a: Tensor, b: Tensor): boolean {
  const x = allExamples(a).toFloat64Array();
  const y = allExamples(b).toFloat64Array();
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
  const replacements = checkedReplacements(op, slots, params, 'params');
  // buffers run on copies (which keep the value's history and tangents), so the caller's tensors are never written
  const substitutes = new Map<Tensor, Tensor>();
  for (const [original, { value, kind }] of replacements) substitutes.set(original, kind === 'buffer' ? value.clone() : value);
  return withSubstitutes(slots, substitutes, () => {
    const output = module.forward(...inputs);
    for (const [original, { name, value, kind }] of replacements) {
      if (kind === 'buffer' && !noGrad(() => sameValues(substitutes.get(original)!, value))) {
        throw new Error(
          `${op}: the forward wrote into buffer '${name}' (running statistics in training mode); the tensors passed to ${op} are never written. ` +
            `Leave '${name}' out of params to update the module's own buffer, call module.eval() first, or pass it to functionalCallWithBuffers, which writes it`,
        );
      }
    }
    return output;
  });
}

/** The given tensors checked against the slots they replace (shape and dtype), keyed by the module's original tensor. */
function checkedReplacements(op: string, slots: readonly TensorSlot[], given: Record<string, Tensor>, what: string): Map<Tensor, { name: string; value: Tensor; kind: 'parameter' | 'buffer' }> {
  const replacements = new Map<Tensor, { name: string; value: Tensor; kind: 'parameter' | 'buffer' }>();
  for (const slot of slots) {
    if (!Object.hasOwn(given, slot.name)) continue;
    const value = given[slot.name];
    if (!(value instanceof Tensor)) throw new Error(`${op}: ${what}['${slot.name}'] must be a Tensor, got ${value === null ? 'null' : typeof value}`);
    if (formatShape(value.shape) !== formatShape(slot.original.shape) || value.dtype !== slot.original.dtype) {
      throw new Error(
        `${op}: ${what}['${slot.name}'] is ${value.dtype} ${formatShape(value.shape)} but the module's ${slot.kind} is ${slot.original.dtype} ${formatShape(slot.original.shape)}`,
      );
    }
    replacements.set(slot.original, { name: slot.name, value, kind: slot.kind });
  }
  return replacements;
}

/** Runs fn with the module's fields set to their substitutes, restoring them afterwards (also when fn throws). */
function withSubstitutes<T>(slots: readonly TensorSlot[], substitutes: ReadonlyMap<Tensor, Tensor>, fn: () => T): T {
  const replaced = slots.filter((slot) => substitutes.has(slot.original));
  for (const slot of replaced) (slot.owner as unknown as Record<string, unknown>)[slot.field] = substitutes.get(slot.original);
  try {
    return fn();
  } finally {
    for (const slot of replaced) (slot.owner as unknown as Record<string, unknown>)[slot.field] = slot.original;
  }
}

/**
 * functionalCall with the buffers given separately and written: `params` replace parameters as in
 * functionalCall, and `buffers` replace buffers by the given tensors themselves, so a training-mode
 * forward updates the running statistics in them (PyTorch's functional_call(module, (params, buffers), x)).
 * Under vmap over the stacked buffers of stackModuleState, each member's running statistics are
 * updated from its own batch.
 */
export function functionalCallWithBuffers(module: Module, params: Record<string, Tensor>, buffers: Record<string, Tensor>, ...inputs: Tensor[]): Tensor {
  const op = 'functionalCallWithBuffers';
  if (!(module instanceof Module)) throw new Error(`${op}: the first argument must be a Module, got ${module === null ? 'null' : typeof module}`);
  const slots = tensorSlots(module);
  const names = (kind: 'parameter' | 'buffer') => [...new Set(slots.filter((slot) => slot.kind === kind).map((slot) => slot.name))];
  checkOptions(op, params, names('parameter'));
  checkOptions(op, buffers, names('buffer'));
  if (params === undefined || buffers === undefined) throw new Error(`${op}: params and buffers must be objects of tensors keyed by parameter and buffer names`);
  const replacements = [...checkedReplacements(op, slots, params, 'params'), ...checkedReplacements(op, slots, buffers, 'buffers')];
  const substitutes = new Map(replacements.map(([original, { value }]) => [original, value]));
  return withSubstitutes(slots, substitutes, () => module.forward(...inputs));
}

/**
 * The parameters and buffers of several modules of one architecture, each stacked along a new
 * axis 0 (torch.func.stack_module_state): `[params, buffers]`, keyed by dotted name. The stacked
 * parameters are new leaves that require grad; the stacked buffers are new tensors. With vmap and
 * functionalCallWithBuffers they run an ensemble in one call:
 *
 *   const [params, buffers] = stackModuleState(models);
 *   vmap((p, b, x) => functionalCallWithBuffers(models[0], p, b, x))(params, buffers, xs)   // records as arguments
 */
export function stackModuleState(modules: readonly Module[]): [params: Record<string, Tensor>, buffers: Record<string, Tensor>] {
  const op = 'stackModuleState';
  if (!Array.isArray(modules) || modules.length === 0) throw new Error(`${op}: expected a non-empty array of Modules, got ${Array.isArray(modules) ? 'an empty array' : typeof modules}`);
  modules.forEach((module, index) => {
    if (!(module instanceof Module)) throw new Error(`${op}: modules[${index}] must be a Module, got ${module === null ? 'null' : typeof module}`);
  });
  const stacked = (entries: (module: Module) => [string, Tensor][], kind: string): Record<string, Tensor> => {
    const perModule = modules.map((module) => new Map(entries(module)));
    const first = perModule[0]!;
    perModule.forEach((named, index) => {
      const names = [...named.keys()];
      if (names.length !== first.size || names.some((name) => !first.has(name))) {
        throw new Error(`${op}: modules[${index}] has ${kind} ${JSON.stringify(names)} but modules[0] has ${JSON.stringify([...first.keys()])}; they must share one architecture`);
      }
      for (const [name, value] of named) {
        const reference = first.get(name)!;
        if (formatShape(value.shape) !== formatShape(reference.shape) || value.dtype !== reference.dtype) {
          throw new Error(`${op}: ${kind} '${name}' is ${value.dtype} ${formatShape(value.shape)} in modules[${index}] but ${reference.dtype} ${formatShape(reference.shape)} in modules[0]`);
        }
      }
    });
    return Object.fromEntries([...first.keys()].map((name) => [name, noGrad(() => stack(perModule.map((named) => named.get(name)!), 0)).detach()]));
  };
  const params = stacked((module) => module.namedParameters(), 'parameters');
  for (const value of Object.values(params)) value.requiresGrad = true;
  return [params, stacked((module) => module.namedBuffers(), 'buffers')];
}
