import { Tensor, checkOptions, formatShape, noGrad, type DType } from '@normgrad/core';
import { Embedding, Module, Sequential } from '@normgrad/nn';
import { GraphBuilder, ONNX_INT32 } from './graph.js';
import { exportableLayerNames, exporterFor, whyNotExportable } from './layers.js';
import { ModelProto } from './onnx-proto.js';

export interface ExportOnnxOptions {
  /** ONNX opset of the default domain, 13 to 23. Default 17. */
  opset?: number;
  /** Name of the graph input. Default ['input']. */
  inputNames?: string[];
  /** Name of the graph output. Default ['output']. */
  outputNames?: string[];
  /** Make the first input dimension (the batch axis) symbolic, named 'batch'. Default false. */
  dynamicBatch?: boolean;
}

export const MIN_OPSET = 13;
export const MAX_OPSET = 23;
const DEFAULT_OPSET = 17;

/** The IR version that goes with an opset (onnx/helper.py's VERSION_TABLE). */
function irVersionFor(opset: number): number {
  if (opset >= 23) return 11;
  if (opset >= 21) return 10;
  if (opset >= 19) return 9;
  return opset >= 15 ? 8 : 7;
}

/**
 * The eval-mode computation of `module` as an ONNX model (the bytes of a .onnx file).
 *
 * The model is walked, not traced: a Sequential (or a subclass that keeps Sequential's forward)
 * exports its layers in order, and each layer class maps to ONNX nodes through an exporter of its
 * own (see `layers.ts`). Any other module, including a custom Module with its own forward, is an
 * Error naming it. `exampleInputs` (one tensor, float32 or float64; int32 indices for a model
 * whose first layer is an Embedding) fixes the traced shapes: the model runs on it once in eval
 * mode (training flags are restored afterwards), and every layer's output shape comes from
 * normgrad's own forward. With `dynamicBatch` the first input axis is the
 * symbolic dimension 'batch', and every reshape in the graph copies that axis rather than fixing it.
 * Parameters and buffers become initializers named by their state-dict keys (`0.weight`,
 * `3.runningMean`), in the model's dtype.
 */
export function exportOnnx(module: Module, exampleInputs: Tensor[], options: ExportOnnxOptions = {}): Uint8Array {
  checkOptions('exportOnnx', options, ['opset', 'inputNames', 'outputNames', 'dynamicBatch']);
  if (!(module instanceof Module)) throw new Error(`exportOnnx: expected a Module to export, got ${describe(module)}`);
  if (!Array.isArray(exampleInputs) || exampleInputs.length !== 1 || !(exampleInputs[0] instanceof Tensor)) {
    throw new Error(`exportOnnx: exampleInputs must be an array of one Tensor (the model's input), got ${describe(exampleInputs)}`);
  }
  const example = exampleInputs[0];
  const dtype = example.dtype === 'int32' ? parameterDtype(module) : example.dtype;
  const { opset = DEFAULT_OPSET, dynamicBatch = false } = options;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new Error(`exportOnnx: opset must be an integer from ${MIN_OPSET} to ${MAX_OPSET}, got ${opset}`);
  }
  if (typeof dynamicBatch !== 'boolean') throw new Error(`exportOnnx: dynamicBatch must be a boolean, got ${describe(dynamicBatch)}`);
  if (dynamicBatch && example.ndim === 0) throw new Error('exportOnnx: dynamicBatch needs an example input with a batch axis, got a scalar');
  const inputName = singleName('inputNames', options.inputNames, 'input');
  const outputName = singleName('outputNames', options.outputNames, 'output');
  if (inputName === outputName) throw new Error(`exportOnnx: the input and the output need different names, got '${inputName}' for both`);

  const graph = new GraphBuilder(dtype, opset, dynamicBatch);
  graph.uniqueName(inputName);
  const modes = module.modules().map((m): [Module, boolean] => [m, m.training]);
  module.eval();
  let output: { name: string; example: Tensor };
  try {
    output = noGrad(() => exportModule(graph, module, '', { name: inputName, example }));
  } finally {
    for (const [m, training] of modes) m.training = training;
  }
  if (output.example.dtype !== dtype) {
    throw new Error(`exportOnnx: the model's output has dtype ${output.example.dtype}; exported models compute in float32 or float64 (int32 indices go only into Embedding)`);
  }
  if (!graph.renameValue(output.name, outputName)) {
    // The model is the identity (e.g. only Dropout): the output is the input passed through.
    graph.scope = '';
    graph.renameValue(graph.node('Identity', [output.name]), outputName);
  }

  const valueInfo = (name: string, shape: readonly number[], elementType: number) => ({
    name,
    type: {
      tensor_type: {
        elem_type: elementType,
        shape: { dim: shape.map((extent, axis) => (dynamicBatch && axis === 0 ? { dim_param: 'batch' } : { dim_value: extent })) },
      },
    },
  });
  const model = {
    ir_version: irVersionFor(opset),
    opset_import: [{ domain: '', version: opset }],
    producer_name: 'normgrad',
    graph: {
      name: module.constructor.name,
      node: graph.nodes,
      initializer: graph.initializers,
      input: [valueInfo(inputName, example.shape, example.dtype === 'int32' ? ONNX_INT32 : graph.elementType)],
      output: [valueInfo(outputName, output.example.shape, graph.elementType)],
    },
  };
  const problem = ModelProto.verify(model);
  if (problem) throw new Error(`exportOnnx: internal error, the model does not match the ONNX schema: ${problem}`);
  return ModelProto.encode(model).finish();
}

/** Exports `module` at `path` on input `x`, returning its output's name and example value. */
function exportModule(graph: GraphBuilder, module: Module, path: string, x: { name: string; example: Tensor }): { name: string; example: Tensor } {
  const where = path === '' ? 'the model itself' : `'${path}'`;
  const classForward = (Object.getPrototypeOf(module) as Module).forward;
  let output: { name: string; example: Tensor };
  if (module instanceof Sequential && classForward === Sequential.prototype.forward) {
    output = module.namedChildren().reduce((h, [name, child]) => exportModule(graph, child, path === '' ? name : `${path}.${name}`, h), x);
  } else {
    const exporter = exporterFor(module);
    const reason = whyNotExportable(module);
    if (reason) throw new Error(`exportOnnx: ${module.constructor.name} at ${where} does not export: ${reason}`);
    if (!exporter) {
      throw new Error(
        `exportOnnx: unsupported layer ${module.constructor.name} at ${where}: exported are Sequential (with its own forward) and the layers ` +
          `${exportableLayerNames().join(', ')}; a custom Module with its own forward cannot be exported`,
      );
    }
    if (x.example.dtype === 'int32' && !(module instanceof Embedding)) {
      throw new Error(`exportOnnx: ${module.constructor.name} at ${where} gets an int32 input; only Embedding takes int32 indices (as the first layer)`);
    }
    // The instance's forward first: weightNorm and spectralNorm recompute the weight field there,
    // which the class's forward and the exporter then read.
    const instanceOutput = runExample(module, where, x.example, () => module.forward(x.example));
    const example = runExample(module, where, x.example, () => classForward.call(module, x.example));
    checkSameComputation(module, where, instanceOutput, example);
    graph.scope = path;
    return { name: exporter(module, { graph, input: x.name, inputExample: x.example }), example };
  }
  checkSameComputation(module, where, runExample(module, where, x.example, () => module.forward(x.example)), output.example);
  return output;
}

/**
 * The export follows the class's computation; the instance's forward (with any forward hooks, or
 * a forward replaced on the instance) must give the same values on the example.
 */
function checkSameComputation(module: Module, where: string, instanceOutput: Tensor, exported: Tensor): void {
  const [a, b] = [instanceOutput.toTypedArray(), exported.toTypedArray()];
  const same = instanceOutput.shape.join() === exported.shape.join() && a.every((value, i) => Object.is(value, b[i]) || value === b[i]);
  if (!same) {
    throw new Error(
      `exportOnnx: ${module.constructor.name} at ${where} computes something other than its class's forward on the example ` +
        "(a forward hook that changes the output, or a forward replaced on the instance); only the class's computation exports",
    );
  }
}

/** The floating-point dtype of a model whose input is int32 indices: that of its parameters (float32 if it has none). */
function parameterDtype(module: Module): DType {
  return module.parameters()[0]?.dtype ?? 'float32';
}

function runExample(module: Module, where: string, input: Tensor, run: () => Tensor): Tensor {
  try {
    return run();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`exportOnnx: ${module.constructor.name} at ${where} failed on the example input of shape ${formatShape(input.shape)}: ${message}`);
  }
}

function singleName(option: string, names: string[] | undefined, fallback: string): string {
  if (names === undefined) return fallback;
  if (!Array.isArray(names) || names.length !== 1 || typeof names[0] !== 'string' || names[0] === '') {
    throw new Error(`exportOnnx: ${option} must be an array of one non-empty name (the model has one ${option === 'inputNames' ? 'input' : 'output'}), got ${describe(names)}`);
  }
  return names[0];
}

function describe(value: unknown): string {
  if (value instanceof Tensor) return `a Tensor of shape ${formatShape(value.shape)}`;
  if (Array.isArray(value)) return `an array of ${value.length} (${value.map(describe).join(', ')})`;
  if (value === null) return 'null';
  if (typeof value === 'object') return `an object (${value.constructor.name})`;
  return `${typeof value} ${String(value)}`;
}
