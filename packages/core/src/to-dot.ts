import { checkOptions, formatShape } from './composite/validate.js';
import { Tensor } from './tensor.js';

export interface ToDotOptions {
  /** Labels for known tensors, e.g. `{ x, weight, bias }`; they appear on those nodes. */
  names?: Record<string, Tensor>;
  /** The graph's name in `digraph <name> { ... }` (default 'normgrad'). */
  graphName?: string;
}

/**
 * The computation graph that produced `output`, as Graphviz DOT text (render it with
 * `dot -Tsvg graph.dot > graph.svg`). Op nodes are boxes labelled with the primitive's name and
 * output shape; leaves are ellipses, filled when they require grad; edges run from inputs to
 * the op that consumed them. The walk is iterative, so deep graphs do not overflow the stack.
 * Works on graphs already freed by backward() (a freed node still knows its inputs).
 */
export function toDot(output: Tensor, options: ToDotOptions = {}): string {
  if (!(output instanceof Tensor)) throw new Error(`toDot: expected a Tensor, got ${typeof output}`);
  checkOptions('toDot', options, ['names', 'graphName']);
  for (const [name, tensor] of Object.entries(options.names ?? {})) {
    if (!(tensor instanceof Tensor)) throw new Error(`toDot: names.${name} must be a Tensor, got ${tensor === null ? 'null' : typeof tensor}`);
  }
  const graphName = options.graphName ?? 'normgrad';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(graphName)) {
    throw new Error(`toDot: graphName must be a DOT identifier (letters, digits, underscores), got ${JSON.stringify(graphName)}`);
  }
  const nameOf = new Map<Tensor, string>();
  for (const [name, tensor] of Object.entries(options.names ?? {})) nameOf.set(tensor, name);

  const ids = new Map<Tensor, string>();
  const nodeLines: string[] = [];
  const edgeLines: string[] = [];
  const idOf = (tensor: Tensor): string => {
    let id = ids.get(tensor);
    if (id === undefined) {
      id = `t${ids.size}`;
      ids.set(tensor, id);
    }
    return id;
  };

  const pending: Tensor[] = [output];
  const visited = new Set<Tensor>();
  while (pending.length > 0) {
    const tensor = pending.pop()!;
    if (visited.has(tensor)) continue;
    visited.add(tensor);
    const id = idOf(tensor);
    const name = nameOf.get(tensor);
    const shape = formatShape(tensor.shape);
    const node = tensor.node;
    if (node === null) {
      const role = tensor.requiresGrad ? 'requires grad' : 'constant';
      const label = dotLabel([name, `${shape} ${tensor.dtype}`, role]);
      const style = tensor.requiresGrad ? 'style=filled, fillcolor="#cfe3ff"' : 'style=dashed';
      nodeLines.push(`  ${id} [shape=ellipse, ${style}, label="${label}"];`);
      continue;
    }
    const label = dotLabel([name === undefined ? node.definition.name : `${name} = ${node.definition.name}`, shape]);
    const outline = tensor === output ? ', penwidth=2' : '';
    nodeLines.push(`  ${id} [shape=box${outline}, label="${label}"];`);
    node.inputs.forEach((input, index) => {
      const edgeLabel = node.inputs.length > 1 ? ` [label="${index}"]` : '';
      edgeLines.push(`  ${idOf(input)} -> ${id}${edgeLabel};`);
      if (!visited.has(input)) pending.push(input);
    });
  }
  return [`digraph ${graphName} {`, '  rankdir=TB;', '  node [fontname="Helvetica", fontsize=10];', ...nodeLines, ...edgeLines, '}', ''].join('\n');
}

/** A quoted-string label body: the given lines (undefined ones skipped), escaped, joined by DOT's `\n`. */
function dotLabel(lines: (string | undefined)[]): string {
  return lines
    .filter((line): line is string => line !== undefined)
    .map((line) => line.replace(/\\/g, '\\\\').replace(/"/g, '\\"'))
    .join('\\n');
}
