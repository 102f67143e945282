import type { Tensor } from '../tensor.js';

/**
 * Forward mode as eager dual numbers with nesting levels (JAX's JVP tracers, PyTorch's dual
 * levels). Each `jvp` call opens a level; a tensor may carry one tangent per level. Applying a
 * primitive to inputs that carry a tangent at the highest visible level L computes the output,
 * and then the output's level-L tangent by the primitive's JVP rule, both with level L and the
 * levels above it hidden: the rule runs on ordinary tensors, so its tensor ops are recorded by
 * reverse mode and acquire tangents at the lower levels in turn. That is what lets forward and
 * reverse mode nest to any order while the perturbations of different levels stay apart.
 *
 * Tangents belong to tensor objects, not to storage: `detach()` (and so `stopGradient`) returns a
 * tensor without tangents, as in PyTorch.
 */

/** The open levels, outermost first; each is a unique id, never reused. */
let openLevels: number[] = [];
/** How many of the open levels (from the outermost) primitives currently see. */
let visibleCount = 0;
let nextLevel = 1;

const tangentsOf = new WeakMap<Tensor, Map<number, Tensor>>();

/** True while at least one level is visible (a jvp or a vmap): primitives then look for tangents and batch axes on their inputs. */
export function isForwardModeActive(): boolean {
  return visibleCount > 0;
}

/** Runs fn(level) with a new innermost level open (and visible); closes it afterwards. */
export function withNewLevel<T>(fn: (level: number) => T): T {
  const savedLevels = openLevels;
  const savedVisible = visibleCount;
  const level = nextLevel++;
  openLevels = [...openLevels.slice(0, visibleCount), level];
  visibleCount = openLevels.length;
  try {
    return fn(level);
  } finally {
    openLevels = savedLevels;
    visibleCount = savedVisible;
  }
}

/** The tangent of x at a level, or null (a zero tangent). */
export function tangentAt(x: Tensor, level: number): Tensor | null {
  return tangentsOf.get(x)?.get(level) ?? null;
}

export function setTangent(x: Tensor, level: number, tangent: Tensor): void {
  let tangents = tangentsOf.get(x);
  if (tangents === undefined) {
    tangents = new Map();
    tangentsOf.set(x, tangents);
  }
  tangents.set(level, tangent);
}

/** Drops x's tangent at a level (a level's results, once it closes, keep no tangent alive). */
export function clearTangent(x: Tensor, level: number): void {
  tangentsOf.get(x)?.delete(level);
}

/** Gives `target` the tangents of `source` at every open level (for fresh aliases and leaves). */
export function copyTangents(source: Tensor, target: Tensor): void {
  const tangents = tangentsOf.get(source);
  if (tangents === undefined) return;
  for (const level of openLevels) {
    const tangent = tangents.get(level);
    if (tangent !== undefined) setTangent(target, level, tangent);
  }
}

/** The tangents of x at the open levels (for walks over everything a result depends on). */
export function openTangents(x: Tensor): Tensor[] {
  const tangents = tangentsOf.get(x);
  if (tangents === undefined) return [];
  return openLevels.flatMap((level) => {
    const tangent = tangents.get(level);
    return tangent === undefined ? [] : [tangent];
  });
}

/** The position (in the open levels) of the highest visible level at which an input carries a tangent, or -1. */
export function highestTangentLevel(inputs: readonly Tensor[]): number {
  let highest = -1;
  for (const input of inputs) {
    const tangents = tangentsOf.get(input);
    if (tangents === undefined) continue;
    for (let position = visibleCount - 1; position > highest; position--) {
      if (tangents.has(openLevels[position]!)) {
        highest = position;
        break;
      }
    }
  }
  return highest;
}

export function levelAt(position: number): number {
  return openLevels[position]!;
}

/** Runs fn seeing only the open levels below `position` (the JVP of a level-`position` application). */
export function withLevelsBelow<T>(position: number, fn: () => T): T {
  const saved = visibleCount;
  visibleCount = position;
  try {
    return fn();
  } finally {
    visibleCount = saved;
  }
}

/**
 * The position of a level among the visible open levels, or -1 when it is closed or hidden. vmap's
 * levels (transforms/vmap.ts) are opened by withNewLevel too, so forward mode and vmap nest in one
 * order: a primitive handles the highest level any of its inputs is at first.
 */
export function visiblePosition(level: number): number {
  const position = openLevels.indexOf(level);
  return position < visibleCount ? position : -1;
}

/** The number of visible open levels (positions 0 … visibleLevelCount() − 1). */
export function visibleLevelCount(): number {
  return visibleCount;
}
