// @normgrad/io: files and other engines (safetensors, PyTorch state-dict names, ONNX export).
export { exportOnnx, type ExportOnnxOptions } from './onnx/export.js';
