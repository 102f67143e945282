import { noGrad, zeros, type Tensor } from '@normgrad/core';
import { Module } from './module.js';
import { formatShape } from './util.js';

/**
 * A table of the layers a forward pass on zeros of `inputShape` calls, in call order, with each
 * layer's output shape and the number of parameters it holds directly, then the totals. The pass
 * runs in eval mode under no-grad (so running statistics do not change) and training modes are
 * restored afterwards. The input dtype is that of the module's first parameter (float32 without).
 */
export function summary(module: Module, inputShape: readonly number[]): string {
  if (!(module instanceof Module)) throw new Error('summary: expected a Module');
  if (!Array.isArray(inputShape) || !inputShape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`summary: inputShape must be an array of non-negative integers, got ${JSON.stringify(inputShape)}`);
  }
  const parameters = module.namedParameters();
  const ownCounts = new Map<string, number>();
  for (const [name, p] of parameters) {
    const owner = name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : '';
    ownCounts.set(owner, (ownCounts.get(owner) ?? 0) + p.size);
  }
  const rows: [string, string, string][] = [];
  const modules = module.namedModules();
  const handles = modules
    .filter(([name]) => name !== '')
    .map(([name, m]) =>
      m.registerForwardHook((_m, _inputs, output: Tensor) => {
        rows.push([`${name} (${m.constructor.name})`, formatShape(output.shape), String(ownCounts.get(name) ?? 0)]);
      }),
    );
  const modes = modules.map(([, m]) => m.training);
  const dtype = parameters[0]?.[1].dtype ?? 'float32';
  let output: Tensor;
  try {
    module.eval();
    output = noGrad(() => module.forward(zeros([...inputShape], { dtype })));
  } finally {
    handles.forEach((h) => h.remove());
    modules.forEach(([, m], i) => (m.training = modes[i]!));
  }
  const total = parameters.reduce((sum, [, p]) => sum + p.size, 0);
  const trainable = parameters.reduce((sum, [, p]) => sum + (p.requiresGrad ? p.size : 0), 0);
  const header: [string, string, string] = ['Layer (type)', 'Output Shape', 'Param #'];
  const body = rows.length > 0 ? rows : [[`(${module.constructor.name})`, formatShape(output.shape), String(total)] as [string, string, string]];
  const widths = [0, 1, 2].map((c) => Math.max(...[header, ...body].map((row) => row[c]!.length)));
  const line = (row: [string, string, string]): string => `${row[0].padEnd(widths[0]!)}  ${row[1].padEnd(widths[1]!)}  ${row[2].padStart(widths[2]!)}`;
  const rule = '='.repeat(widths[0]! + widths[1]! + widths[2]! + 4);
  return [
    `${module.constructor.name} summary for input ${formatShape(inputShape)}`,
    rule,
    line(header),
    rule,
    ...body.map(line),
    rule,
    `Total params: ${total}`,
    `Trainable params: ${trainable}`,
    `Non-trainable params: ${total - trainable}`,
  ].join('\n');
}
