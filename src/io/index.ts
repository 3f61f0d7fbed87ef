/**
 * Model files in memory (browser-safe): the safetensors codec, and readBytes to feed it (or any
 * other decoder) from a Blob or a fetch Response. Reading and writing them on disk
 * (saveSafetensors, loadSafetensors) is in the `descent/node` entry.
 */
export { encodeSafetensors, decodeSafetensors, isPyTorchInt64Key, SAFETENSORS_DTYPES } from './safetensors-codec.js';
export type { EncodeSafetensorsOptions, SafetensorsFile } from './safetensors-codec.js';
export { readBytes } from './bytes.js';
export type { BytesSource } from './bytes.js';
