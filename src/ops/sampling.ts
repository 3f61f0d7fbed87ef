/**
 * Backend help for samplers that live above the ops (stats/gaussian.ts), kept out of the public
 * ops: each returns null when the current backend has no kernel for it, and the caller then does
 * the same work in TypeScript.
 */
import { getBackend } from '../backend/index.js';
import type { Tensor } from '../core/tensor.js';

/**
 * The ziggurat's common case in place over float32 t holding 32-bit draws as bits (see
 * Backend.zigguratMap): the indices left for the caller, in order, or null without a kernel.
 */
export function zigguratMapInPlace(t: Tensor, std: number, tables: Float64Array): Int32Array | null {
  const b = getBackend();
  if (!b.zigguratMap || t.dtype !== 'float32' || t.storage.backend !== b.name) return null;
  return b.zigguratMap(t.storage, std, tables);
}
