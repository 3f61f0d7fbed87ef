/**
 * Feature probes and the assembly of the backend's one Wasm module from the kernel emitters.
 * Every kernel's source is in this folder; nothing is precompiled.
 */
import type { ReduceOp } from '../backend.js';
import { ModuleBuilder } from './asm.js';
import { emitBinary, emitUnary, SIMD_BINARY, SIMD_UNARY } from './elementwise.js';
import type { ReadPattern } from './elementwise.js';
import { emitConv } from './conv.js';
import { emitGemm } from './gemm.js';
import { emitRandom } from './random.js';
import { emitSgd, emitSumSquares, SGD_VARIANTS } from './optim.js';
import { emitGatherScatter, emitIndexKernels } from './indexing.js';
import { emitCopy2d, emitCopy4d, emitReduceCols, emitReduceMiddleSum, emitReduceRows } from './reduce.js';
import { emitTranscendental, SIMD_TRANSCENDENTAL } from './transcendental.js';

export interface WasmFeatures {
  simd: boolean;
  relaxedSimd: boolean;
  threads: boolean;
}

/** A module with one function whose body is `emit`, checked with WebAssembly.validate. */
function probe(emit: (m: ModuleBuilder) => void, shared = false): boolean {
  try {
    const m = new ModuleBuilder({ initial: 1, maximum: 1, shared });
    emit(m);
    return WebAssembly.validate(m.bytes());
  } catch {
    return false;
  }
}

/** Does this runtime validate 128-bit SIMD (f32x4.add of two splats)? */
export function probeSimd(): boolean {
  return probe((m) => m.func('p', [], ['f32'], (f) => { f.f32(1).f32x4_splat().f32(2).f32x4_splat().f32x4_add().f32x4_extract_lane(0); }));
}

/** Relaxed SIMD's f32x4.relaxed_madd (0xfd 0x105); Node 20 needs setRelaxedFlag first. */
export function probeRelaxed(): boolean {
  return probe((m) => m.func('p', [], ['f32'], (f) => {
    f.f32(1).f32x4_splat().f32(2).f32x4_splat().f32(3).f32x4_splat().f32x4_relaxed_madd().f32x4_extract_lane(0);
  }));
}

/** Shared memories (and so threads) need SharedArrayBuffer and the threads proposal. */
export function probeShared(): boolean {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  try {
    const mem = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    return mem.buffer instanceof SharedArrayBuffer && probe((m) => m.func('p', [], ['i32'], (f) => { f.i32(0).i32_load(); }), true);
  } catch {
    return false;
  }
}

export const BINARY_PATTERNS: readonly ReadPattern[] = ['vv', 'vs', 'sv'];
export const REDUCE_OPS: readonly ReduceOp[] = ['sum', 'max', 'min'];

/** The bytes of the backend's module, importing env.mem with these limits. */
export function buildModule(memory: { initial: number; maximum: number; shared: boolean }, relaxed: boolean): Uint8Array<ArrayBuffer> {
  const m = new ModuleBuilder(memory);
  emitGemm(m, relaxed);
  for (const op of SIMD_BINARY) for (const pat of BINARY_PATTERNS) emitBinary(m, op, pat);
  for (const op of SIMD_UNARY) emitUnary(m, op);
  for (const op of SIMD_TRANSCENDENTAL) emitTranscendental(m, op);
  for (const op of REDUCE_OPS) { emitReduceRows(m, op); emitReduceCols(m, op); }
  emitReduceMiddleSum(m);
  // zero(ptr, bytes): memory.fill, the fastest way to clear a fresh block
  m.func('zero', ['i32', 'i32'], [], (f, ptr, bytes) => { f.get(ptr).i32(0).get(bytes).memory_fill(); });
  emitConv(m);
  emitCopy2d(m, 4);
  emitCopy2d(m, 8);
  emitCopy4d(m);
  emitGatherScatter(m);
  emitIndexKernels(m);
  emitRandom(m);
  for (const flags of SGD_VARIANTS) emitSgd(m, flags);
  emitSumSquares(m);
  const bytes = m.bytes();
  if (!WebAssembly.validate(bytes)) throw new Error('wasm backend: the generated module does not validate (a kernel emitter is wrong)');
  return bytes;
}
