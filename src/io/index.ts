export { saveSafetensors, loadSafetensors, encodeSafetensors, decodeSafetensors, isPyTorchInt64Key, SAFETENSORS_DTYPES } from './safetensors.js';
export type { EncodeSafetensorsOptions, SafetensorsFile } from './safetensors.js';
export { writeFileAtomic } from './atomic.js';
