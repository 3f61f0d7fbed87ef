/**
 * Model files in memory (browser-safe): the safetensors codec. Reading and writing them on disk
 * (saveSafetensors, loadSafetensors) is in the `descent/node` entry.
 */
export { encodeSafetensors, decodeSafetensors, isPyTorchInt64Key, SAFETENSORS_DTYPES } from './safetensors-codec.js';
export type { EncodeSafetensorsOptions, SafetensorsFile } from './safetensors-codec.js';
