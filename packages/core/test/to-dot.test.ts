import { describe, expect, it } from 'vitest';
import { tensor, toDot, randn, type Tensor } from '@normgrad/core';

/** Parses the node and edge statements of toDot's output. */
function parseDot(dot: string): { nodes: Map<string, string>; edges: [string, string][] } {
  const nodes = new Map<string, string>();
  const edges: [string, string][] = [];
  for (const line of dot.split('\n')) {
    const edge = /^\s*(t\d+) -> (t\d+)/.exec(line);
    if (edge) edges.push([edge[1]!, edge[2]!]);
    const node = /^\s*(t\d+) \[(.*)\];$/.exec(line);
    if (node) nodes.set(node[1]!, node[2]!);
  }
  return { nodes, edges };
}

describe('toDot', () => {
  it('draws ops with names and shapes, leaves with requires-grad marks, and input edges', () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]], { requiresGrad: true });
    const c = tensor([[1, 1, 1], [2, 2, 2]]); // a constant: a leaf that does not require grad
    const y = x.mul(c).exp().sum();
    const dot = toDot(y, { names: { x, c } });
    expect(dot.startsWith('digraph normgrad {')).toBe(true);
    expect(dot.trimEnd().endsWith('}')).toBe(true);
    const { nodes, edges } = parseDot(dot);
    const labels = [...nodes.values()];
    expect(labels.some((l) => l.includes('label="x\\n[2, 3] float32\\nrequires grad"') && l.includes('filled'))).toBe(true);
    expect(labels.some((l) => l.includes('label="c\\n[2, 3] float32\\nconstant"') && l.includes('dashed'))).toBe(true);
    for (const op of ['mul', 'exp', 'sum']) {
      expect(labels.some((l) => l.includes(`label="${op}\\n`)), op).toBe(true);
    }
    expect(labels.some((l) => l.includes('label="sum\\n[]"') && l.includes('penwidth=2'))).toBe(true);
    // every edge joins declared nodes, and every node but the output feeds something
    for (const [from, to] of edges) {
      expect(nodes.has(from)).toBe(true);
      expect(nodes.has(to)).toBe(true);
    }
    expect(new Set(edges.map(([from]) => from)).size).toBe(nodes.size - 1);
  });

  it('visits a tensor used twice once and still draws both edges', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const { nodes, edges } = parseDot(toDot(x.mul(x)));
    expect(nodes.size).toBe(2);
    expect(edges).toHaveLength(2);
  });

  it('handles a graph deeper than the call stack (iterative walk), also after backward freed it', () => {
    let y: Tensor = randn([2], { seed: 0, requiresGrad: true });
    for (let i = 0; i < 20000; i++) y = y.neg();
    y.sum().backward();
    const { nodes, edges } = parseDot(toDot(y));
    expect(nodes.size).toBe(20001);
    expect(edges).toHaveLength(20000);
  });

  it('draws a lone leaf and escapes quotes in names', () => {
    const dot = toDot(tensor(3), { names: { 'say "hi"': tensor(0) } });
    expect(parseDot(dot).nodes.size).toBe(1);
    const named = tensor(1);
    expect(toDot(named, { names: { 'a "b"': named } })).toContain('label="a \\"b\\"\\n[] float32\\nconstant"');
  });

  it('rejects non-tensors and bad graph names', () => {
    expect(() => toDot(3 as unknown as Tensor)).toThrow(/toDot: expected a Tensor/);
    expect(() => toDot(tensor(1), { graphName: 'has space' })).toThrow(/toDot: graphName/);
  });
});
