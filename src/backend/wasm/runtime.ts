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
import type { WorkerSpawner } from './threads.js';

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
  return { simd, relaxedSimd, threads: probeShared() && (node !== null || pageCanThread()) };
}

type PageGlobals = {
  crossOriginIsolated?: boolean;
  Worker?: new (url: string) => { postMessage(data: unknown): void };
  Blob?: new (parts: string[], o: { type: string }) => unknown;
  URL?: { createObjectURL(blob: unknown): string };
};

/**
 * A page (or a worker) may run Web Workers over shared memory only when it is cross-origin
 * isolated (served with COOP: same-origin and COEP: require-corp), which is what lets it create
 * a shared WebAssembly.Memory and send it to workers.
 */
function pageCanThread(): boolean {
  const g = globalThis as PageGlobals;
  return g.crossOriginIsolated === true && typeof g.Worker === 'function' && typeof g.Blob === 'function' && typeof g.URL?.createObjectURL === 'function';
}

/** Why a page runs on one thread, said once (a notice, not an error: training works, only slower). */
let noticeGiven = false;
export function singleThreadReason(): string | null {
  if (node !== null || wasmFeatures().threads) return null;
  const g = globalThis as PageGlobals;
  if (g.crossOriginIsolated !== true) {
    return 'descent: this page is not cross-origin isolated, so the wasm backend runs on one thread; serve it with the headers "Cross-Origin-Opener-Policy: same-origin" and "Cross-Origin-Embedder-Policy: require-corp" to train on all cores';
  }
  return 'descent: this runtime has no shared WebAssembly memory or Web Workers, so the wasm backend runs on one thread';
}

function noticeOnce(): void {
  const reason = singleThreadReason();
  if (reason === null || noticeGiven) return;
  noticeGiven = true;
  (globalThis as { console?: { info(s: string): void } }).console?.info(reason);
}

/** Node's worker_threads (unref'd: an idle pool never keeps the process alive). */
function nodeSpawner(wt: NodeMods['wt']): WorkerSpawner {
  return (body, data) => {
    new wt.Worker(`const { workerData } = require('node:worker_threads');\n${body}`, { eval: true, workerData: data }).unref();
  };
}

/** Web Workers from a Blob URL; the module and the shared memory arrive in the first message. */
function pageSpawner(): WorkerSpawner {
  const g = globalThis as Required<PageGlobals>;
  let url: string | null = null;
  return (body, data) => {
    url ??= g.URL.createObjectURL(new g.Blob([`self.onmessage = (e) => {\n  self.onmessage = null;\n  const workerData = e.data;\n${body}\n};`], { type: 'text/javascript' }));
    new g.Worker(url).postMessage(data);
  };
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
    const spawn = !features.threads ? null : node !== null ? nodeSpawner(node.wt) : pageSpawner();
    this.pool = new ThreadPool(this.heap, module, this.names, (fn, args) => fns[fn]!(...args), (t) => this.workArea(t), spawn, MAX_WORKERS);
    noticeOnce();
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
  // Asked for threads it cannot have: say why (once per call, so the caller sees it where it asked).
  const reason = n > 1 && !r.features.threads ? singleThreadReason() : null;
  if (reason !== null) (globalThis as { console?: { warn(s: string): void } }).console?.warn(`setNumThreads(${n}): stays at 1. ${reason.replace(/^descent: /, '')}`);
}

export function getNumThreads(): number {
  return runtime().threads;
}
