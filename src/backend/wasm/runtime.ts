/**
 * The live state of the wasm backend: feature probes, the heap, the compiled module and its
 * exports, per-thread GEMM scratch, and the thread pool. Created on first use, so importing the
 * library costs only the probes.
 */
import { GEMM_WORK_BYTES } from './gemm.js';
import { WasmHeap } from './memory.js';
import { buildModule, probeRelaxed, probeShared, probeSimd } from './module.js';
import type { WasmFeatures } from './module.js';
import { ThreadPool } from './threads.js';

type Kernel = (...args: number[]) => void;

// Node's modules come from process.getBuiltinModule (Node >= 20.16), so nothing Node-specific is
// imported statically and browsers load this file unchanged; without it: no threads, no relaxed flag.
type NodeMods = { v8: typeof import('node:v8'); wt: typeof import('node:worker_threads'); os: typeof import('node:os') };
const getBuiltin = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
const node: NodeMods | null = typeof getBuiltin === 'function'
  ? { v8: getBuiltin('node:v8') as NodeMods['v8'], wt: getBuiltin('node:worker_threads') as NodeMods['wt'], os: getBuiltin('node:os') as NodeMods['os'] }
  : null;

function detect(): WasmFeatures {
  const simd = probeSimd();
  let relaxedSimd = probeRelaxed();
  if (!relaxedSimd && node !== null) {
    // Node 20 ships relaxed SIMD behind a flag; it must be set before the module is compiled.
    node.v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    relaxedSimd = probeRelaxed();
  }
  return { simd, relaxedSimd, threads: probeShared() && node !== null };
}

let features: WasmFeatures | null = null;

/**
 * Compile with V8's optimising compiler up front. By default V8 first compiles with its baseline
 * compiler (Liftoff) and tiers hot functions up later; measured on Node 20, the GEMM sometimes
 * stayed on baseline code for a whole run at half speed (15 instead of 31 GFLOP/s). So under Node
 * the flag is switched off for this one compilation and restored right after.
 */
function compileOptimised(bytes: Uint8Array<ArrayBuffer>): WebAssembly.Module {
  if (node === null) return new WebAssembly.Module(bytes);
  node.v8.setFlagsFromString('--no-liftoff');
  try {
    return new WebAssembly.Module(bytes);
  } finally {
    node.v8.setFlagsFromString('--liftoff');
  }
}

/** What this runtime supports (probed once). */
export function wasmFeatures(): WasmFeatures {
  return (features ??= detect());
}

const INITIAL_PAGES = 256; // 16 MiB
const MAXIMUM_PAGES = 32768; // 2 GiB: addresses stay below 2^31, so i32 arithmetic never wraps
const MAX_WORKERS = 63;

function defaultThreads(): number {
  if (node !== null) return node.os.availableParallelism();
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  return nav?.hardwareConcurrency ?? 1;
}

export class WasmRuntime {
  readonly heap: WasmHeap;
  readonly exports: Record<string, Kernel>;
  readonly names: string[];
  readonly pool: ThreadPool;
  private readonly work: number[] = [];
  threads: number;

  constructor(readonly features: WasmFeatures) {
    this.heap = new WasmHeap(INITIAL_PAGES, MAXIMUM_PAGES, features.threads);
    const bytes = buildModule({ initial: INITIAL_PAGES, maximum: MAXIMUM_PAGES, shared: features.threads }, features.relaxedSimd);
    const module = compileOptimised(bytes);
    const instance = new WebAssembly.Instance(module, { env: { mem: this.heap.memory } });
    this.exports = instance.exports as unknown as Record<string, Kernel>;
    this.names = Object.keys(this.exports);
    this.heap.zero = this.exports['zero']!;
    const fns = this.names.map((n) => this.exports[n]!);
    const Worker = features.threads && node !== null ? (node.wt.Worker as unknown as ConstructorParameters<typeof ThreadPool>[5]) : null;
    this.pool = new ThreadPool(this.heap, module, this.names, (fn, args) => fns[fn]!(...args), (t) => this.workArea(t), Worker, MAX_WORKERS);
    this.threads = features.threads ? Math.min(defaultThreads(), MAX_WORKERS + 1) : 1;
  }

  kernel(name: string): Kernel {
    const k = this.exports[name];
    if (k === undefined) throw new Error(`wasm backend: no kernel named ${name}`);
    return k;
  }

  fnIndex(name: string): number {
    return this.names.indexOf(name);
  }

  /** GEMM scratch of thread t (0 = the calling thread), allocated once. */
  workArea(t: number): number {
    while (this.work.length <= t) this.work.push(this.heap.malloc(GEMM_WORK_BYTES));
    return this.work[t]!;
  }
}

let rt: WasmRuntime | null = null;

export function runtime(): WasmRuntime {
  if (rt === null) {
    const f = wasmFeatures();
    if (!f.simd) throw new Error('wasm backend: this runtime has no WebAssembly SIMD; use the js backend (setBackend("js"))');
    rt = new WasmRuntime(f);
  }
  return rt;
}

/** Threads the wasm backend uses for large kernels (default: all cores; 1 without shared memory). */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setNumThreads: expected a positive integer, got ${n}`);
  const r = runtime();
  r.threads = r.features.threads ? Math.min(n, MAX_WORKERS + 1) : 1;
}

export function getNumThreads(): number {
  return runtime().threads;
}
