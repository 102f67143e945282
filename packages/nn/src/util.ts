import type { Tensor } from '@normgrad/core';

/** `[2, 3]` */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export function product(values: readonly number[]): number {
  return values.reduce((a, b) => a * b, 1);
}

/** [start, start + 1, ..., end - 1] */
export function range(start: number, end: number): number[] {
  return Array.from({ length: Math.max(0, end - start) }, (_, i) => start + i);
}

/** Every given tensor must have x's dtype (core does not mix dtypes); the error names op and tensor. */
export function checkSameDtype(op: string, x: Tensor, others: Record<string, Tensor | null | undefined>): void {
  for (const [name, t] of Object.entries(others)) {
    if (t && t.dtype !== x.dtype) {
      throw new Error(`${op}: ${name} has dtype ${t.dtype} but the input has dtype ${x.dtype} (shape ${formatShape(x.shape)}); convert one with .to(dtype)`);
    }
  }
}

/** Expands an int or [int, int] option into a pair, checking each is an integer >= min. */
export function pair(op: string, name: string, value: number | readonly [number, number], min: number): [number, number] {
  const result: [number, number] = typeof value === 'number' ? [value, value] : [value[0], value[1]];
  for (const v of result) {
    if (!Number.isInteger(v) || v < min) {
      throw new Error(`${op}: ${name} must be an integer >= ${min} (or a pair of them), got ${JSON.stringify(value)}`);
    }
  }
  return result;
}

export function checkPositiveFinite(op: string, name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${op}: ${name} must be a positive finite number, got ${value}`);
}

/** Re-labels a functional op's validation error ("op: ...") with the calling layer's name. */
export function renameOp(error: unknown, op: string, layer: string): unknown {
  if (error instanceof Error && error.message.startsWith(`${op}:`)) {
    return new Error(`${layer}: ${error.message.slice(op.length + 1).trimStart()}`);
  }
  return error;
}
