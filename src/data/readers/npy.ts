/** NPY files on Node: readNpy and writeNpy read and write files with the in-memory codec in npy-parse.ts (browser-safe). */
import { readFileSync } from 'node:fs';
import type { Tensor } from '../../core/tensor.js';
import { encodeNpy, parseNpy } from './npy-parse.js';
import { writeFileAtomic } from './files.js';

export { decodeNpy, encodeNpy, parseNpy, parseNpyHeader } from './npy-parse.js';
export type { NpyHeader } from './npy-parse.js';

/** Read an .npy file into a tensor (float32/float64 kept, integer types as int32). */
export function readNpy(path: string): Tensor {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`readNpy: cannot read ${path}: ${(e as Error).message}`);
  }
  return parseNpy(bytes, path);
}

/** Write a tensor as an .npy file, atomically (temporary file + rename). */
export function writeNpy(path: string, t: Tensor): void {
  writeFileAtomic(path, [encodeNpy(t)]);
}
