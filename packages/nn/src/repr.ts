/**
 * Python's spelling of values, for module printing in PyTorch's format (`str(module)`): floats as
 * Python's repr (`1e-05`, `0.1`, `1.0`), booleans `True`/`False`, null `None`, tuples `(3, 3)`
 * and one-element tuples `(3,)`.
 */

/** Python's repr of a float: the shortest round-trip digits, scientific below 1e-4 and from 1e16. */
export function pythonFloat(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const [mantissa, exponentText] = value.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 16) {
    const sign = exponent < 0 ? '-' : '+';
    return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  const text = String(value);
  return Number.isInteger(value) ? `${text}.0` : text;
}

/** An integer as Python prints it, other numbers as Python floats. */
export function pythonNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : pythonFloat(value);
}

export function pythonBool(value: boolean): string {
  return value ? 'True' : 'False';
}

/** A tuple of integers (or None): `(3, 3)`, `(3,)`. */
export function pythonTuple(values: readonly (number | null)[]): string {
  const items = values.map((v) => (v === null ? 'None' : String(v)));
  return items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`;
}

/** An int-or-pair option as given: `2` or `(2, 3)`. */
export function pythonIntOrTuple(value: number | readonly (number | null)[]): string {
  return typeof value === 'number' ? String(value) : pythonTuple(value);
}

/** Indents every line after the first by `spaces` (PyTorch's _addindent). */
export function indentAfterFirstLine(text: string, spaces: number): string {
  const lines = text.split('\n');
  if (lines.length === 1) return text;
  const pad = ' '.repeat(spaces);
  return [lines[0], ...lines.slice(1).map((line) => pad + line)].join('\n');
}
