/**
 * ONNX in memory (browser-safe): exportOnnx writes a model as the bytes of an .onnx file (opset
 * 17), importOnnx reads one as a trainable Module. The protobuf encoding is hand-written
 * (wire.ts, model-proto.ts): the few messages ONNX needs, no dependency.
 */
export { exportOnnx, traceOnnx, ONNX_OPSET, ONNX_IR_VERSION } from './export.js';
export type { ExportOnnxOptions } from './export.js';
export { importOnnx, ImportedOnnxModel, OnnxImportError } from './import.js';
export { encodeOnnxModel, decodeOnnxModel } from './model-proto.js';
export type { OnnxModel, OnnxGraph, OnnxNode, OnnxTensor, OnnxAttribute, OnnxValueInfo } from './model-proto.js';
