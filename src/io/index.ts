/**
 * Model files in memory (browser-safe): the safetensors codec, ONNX export and import (bytes in
 * and out: exportOnnx, importOnnx), and readBytes to feed them from a Blob or a fetch Response.
 * Reading and writing them on disk (saveSafetensors, loadSafetensors) is in the `descent/node`
 * entry.
 */
export { encodeSafetensors, decodeSafetensors, isPyTorchInt64Key, SAFETENSORS_DTYPES } from './safetensors-codec.js';
export type { EncodeSafetensorsOptions, SafetensorsFile } from './safetensors-codec.js';
export { readBytes } from './bytes.js';
export { exportOnnx, importOnnx, ImportedOnnxModel, OnnxImportError, ONNX_OPSET, encodeOnnxModel, decodeOnnxModel, traceOnnx } from './onnx/index.js';
export type { ExportOnnxOptions, OnnxModel, OnnxGraph, OnnxNode, OnnxTensor, OnnxAttribute, OnnxValueInfo } from './onnx/index.js';
export type { BytesSource } from './bytes.js';
