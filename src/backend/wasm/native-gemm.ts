/**
 * The native GEMM (issue 15) under the wasm backend: where the optional addon is built and loads
 * (Node only; src/backend/native/addon.ts), every float32 product of the wasm backend runs in it,
 * on the very tensors the wasm heap holds (the addon reads and writes the shared WebAssembly
 * memory through a pointer, so nothing is copied), with AVX-512 or AVX2 + FMA micro-kernels
 * chosen at run time. Everything else stays in wasm. DESCENT_NATIVE=0 keeps the wasm GEMM.
 */
import { loadNative } from '../native/addon.js';
import type { NativeAddon } from '../native/addon.js';
import type { WasmHeap } from './memory.js';

let addon: NativeAddon | null | undefined;
let enabled = true;
let attached: ArrayBufferLike | null = null;

/** The addon when it is loaded and in use, with the heap's current memory attached; else null. */
export function nativeGemm(heap: WasmHeap): NativeAddon | null {
  if (!enabled) return null;
  if (addon === undefined) addon = loadNative();
  if (addon === null) return null;
  // Memory growth gives a new (longer) buffer over the same shared memory: tell the addon its length.
  const buffer = heap.memory.buffer;
  if (buffer !== attached) {
    addon.setMemory(new Uint8Array(buffer));
    attached = buffer;
  }
  return addon;
}

/** Use the native GEMM where it is loaded (true, the default) or the wasm one (false: tests, benchmarks). */
export function useNativeGemm(on: boolean): void {
  enabled = on;
}

/** Whether products run natively now. */
export function nativeGemmActive(): boolean {
  if (!enabled) return false;
  if (addon === undefined) addon = loadNative();
  return addon !== null;
}
