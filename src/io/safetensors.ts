/**
 * safetensors files on disk: loadSafetensors reads and strictly checks one (see
 * safetensors-codec.ts for the format and every check), saveSafetensors writes one atomically
 * (temporary file + rename). The in-memory codec, for browsers, is encodeSafetensors /
 * decodeSafetensors.
 */
import { readFileSync } from 'node:fs';
import type { Tensor } from '../core/tensor.js';
import { writeFileAtomic } from './atomic.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors-codec.js';
import type { EncodeSafetensorsOptions, SafetensorsFile } from './safetensors-codec.js';

export { decodeSafetensors, encodeSafetensors, isPyTorchInt64Key, MAX_HEADER_BYTES, SAFETENSORS_DTYPES } from './safetensors-codec.js';
export type { EncodeSafetensorsOptions, SafetensorsFile } from './safetensors-codec.js';

/**
 * Write `tensors` (keys sorted) and string `metadata`. Int32 tensors that options.int64 picks (by
 * default PyTorch's `num_batches_tracked` buffers) are stored as I64, as PyTorch stores them.
 */
export function saveSafetensors(
  path: string,
  tensors: Record<string, Tensor>,
  metadata: Record<string, string> = {},
  options: EncodeSafetensorsOptions = {},
): void {
  writeFileAtomic(path, [encodeSafetensors(tensors, metadata, options)]);
}

/** Read a safetensors file; a bad file is a one-line error naming the path, the part and what was expected. */
export function loadSafetensors(path: string): SafetensorsFile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read the safetensors file (${(e as Error).message})`);
  }
  return decodeSafetensors(bytes, path);
}
