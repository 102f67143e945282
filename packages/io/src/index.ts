// @normgrad/io: files and other engines (safetensors, PyTorch state-dict names, ONNX export).
export {
  serializeSafetensors,
  deserializeSafetensors,
  parseSafetensors,
  asInt64,
  asInt32,
  safetensorsDType,
  type SafetensorsDType,
  type WritableSafetensorsDType,
  type SafetensorsOptions,
  type ParsedSafetensors,
} from './safetensors.js';
export { saveSafetensors, loadSafetensors, readSafetensors } from './files.js';
export { toTorchStateDict, fromTorchStateDict, torchName, normgradName } from './torch.js';
export { exportOnnx, type ExportOnnxOptions } from './onnx/export.js';
