/**
 * The optional native CPU kernels: a Node-API addon (C++ sources in native/ at the repository
 * root) built at install by scripts/build-native.mjs. It works in place on the wasm backend's
 * shared WebAssembly.Memory: `setMemory` hands it a view of the memory once (again after growth)
 * and every call after that passes byte offsets into it, so tensors never move.
 *
 * Browser-safe: nothing here is imported from node:* statically. Node's modules come from
 * process.getBuiltinModule, and where that is missing (a browser) loadNative() says so and
 * returns null, like every other reason the addon is unavailable (DESCENT_NATIVE=0, not built,
 * fails to load); the caller then keeps the wasm kernels.
 */

/** The vector ISA a kernel path is written for ('generic' is portable C++). */
export type NativeIsa = 'avx512' | 'avx2' | 'generic';

/** What the CPU (and operating system) support, as the addon's dispatch sees it. */
export interface NativeFeatures {
  avx2: boolean;
  fma: boolean;
  avx512f: boolean;
}

/** The addon's functions (native/src/addon.cc). */
export interface NativeAddon {
  /** The view all byte offsets refer to: `new Uint8Array(memory.buffer)`, again after memory.grow. */
  setMemory(u8: Uint8Array): void;
  /**
   * C[i*ldc + j] = (accumulate ? C[i*ldc + j] : 0) + sum_p A[i*rsA + p*csA] * B[p*rsB + j*csB]
   * for 0 <= i < m, 0 <= j < n, in float32. a, b, c are byte offsets into the memory; strides are
   * in elements (any sign), so the four transpose layouts are only strides; ldc >= n. C must not
   * overlap A or B. threads: at most this many threads (0: getNumThreads()); products under about
   * 2^20 multiply-adds run on the calling thread. Throws a RangeError naming the argument when
   * an operand would reach outside the memory; m, n or k = 0 touch nothing, except that k = 0
   * without accumulate writes zeros to C.
   */
  sgemm(
    m: number,
    n: number,
    k: number,
    a: number,
    rsA: number,
    csA: number,
    b: number,
    rsB: number,
    csB: number,
    c: number,
    ldc: number,
    accumulate: 0 | 1,
    threads: number,
  ): void;
  /**
   * torch.optim.SGD's update of one float32 parameter of n elements, in place or not (pOut may be
   * p, bOut may be bIn): the same float32 operations in the same order as the reference
   * (backend/js/optim.ts), each rounded alone, so the same bits. Offsets in bytes; flags are
   * wasm/optim.ts's SGD_* bits (bIn is read only with momentum after the first step, bOut written
   * only with momentum); keep = 1 - dampening; the four hyperparameters are rounded to float32.
   * Updates under about 2^17 elements run on the calling thread.
   */
  sgdStep(
    p: number,
    g: number,
    bIn: number,
    pOut: number,
    bOut: number,
    n: number,
    lr: number,
    momentum: number,
    keep: number,
    weightDecay: number,
    flags: number,
    threads: number,
  ): void;
  /**
   * Sums of squares by rows, the wasm kernel sumsq_rows's bits (wasm/optim.ts): out[r] (float64)
   * = the sum over the float32 x[r * cols, (r + 1) * cols) of x * x, each square rounded to
   * float32, added in four float64 lanes (j % 4), then (l0 + l2) + (l1 + l3), then the rest in
   * order. x and out are byte offsets (out 8-aligned). Under about 2^16 elements on the caller.
   */
  sumSquaresRows(x: number, out: number, rows: number, cols: number, threads: number): void;
  /**
   * A strided copy of 32-bit values, as the wasm kernel copy4d_32 does it (wasm/reduce.ts), in any
   * rank from 1 to 8: layout holds the sizes, then the source's strides, then the destination's
   * (elements, any sign); element k moves from src + 4 sum(k_i s_i) to dst + 4 sum(k_i d_i) (byte
   * offsets). Rows go in row-major order, a unit-stride row moved as memmove moves it; split over
   * threads only where the byte ranges are disjoint and no two elements land on one destination.
   */
  copyNd(src: number, dst: number, layout: Int32Array, threads: number): void;
  /**
   * col2im in float32 (Backend.col2im, the reference's sums in its order, so the same bits): out
   * (NCHW) is zero plus each entry of cols [c, kh, kw, n, outH, outW] added at its pixel. Byte
   * offsets; every window must fit the image (else a RangeError). Split over channels.
   */
  col2im(
    cols: number,
    out: number,
    n: number,
    c: number,
    h: number,
    w: number,
    kh: number,
    kw: number,
    strideH: number,
    strideW: number,
    dilationH: number,
    dilationW: number,
    outH: number,
    outW: number,
    threads: number,
  ): void;
  /** Idle pool threads stop spinning and sleep at once (another thread pool is about to run). */
  park(): void;
  /** Default threads for sgemm(..., threads = 0); initially the number of CPUs. */
  setNumThreads(n: number): void;
  getNumThreads(): number;
  /** The kernel path in use: the widest the CPU has, or DESCENT_NATIVE_ISA, or the last setIsa. */
  isa(): NativeIsa;
  /** Forces a path (tests, benchmarks); throws when the CPU lacks it. */
  setIsa(name: NativeIsa): void;
  features(): NativeFeatures;
}

export interface NativeStatus {
  loaded: boolean;
  /** Why the addon is not in use (when loaded is false). */
  reason?: string;
  isa?: NativeIsa;
}

type NodeProcess = { getBuiltinModule?: (id: string) => unknown; env?: Record<string, string | undefined> };
type NodeMods = { module: typeof import('node:module'); fs: typeof import('node:fs'); url: typeof import('node:url') };

/** Relative to this file, the same from src/backend/native/ (tsx) and dist/backend/native/. */
const ADDON_RELATIVE = '../../../native/build/Release/descent_native.node';

let addon: NativeAddon | null | undefined;
let status: NativeStatus = { loaded: false, reason: 'loadNative() has not been called' };

function nodeModules(proc: NodeProcess | undefined): NodeMods | null {
  const get = proc?.getBuiltinModule;
  if (typeof get !== 'function') return null;
  return { module: get('node:module') as NodeMods['module'], fs: get('node:fs') as NodeMods['fs'], url: get('node:url') as NodeMods['url'] };
}

function attempt(): NativeAddon | null {
  const proc = (globalThis as { process?: NodeProcess }).process;
  if (proc?.env?.DESCENT_NATIVE === '0') return fail('DESCENT_NATIVE=0 turns the native kernels off');
  const node = nodeModules(proc);
  if (node === null) return fail('not running on Node (process.getBuiltinModule is missing)');
  // A variable, not a literal: bundlers would otherwise try to copy the (maybe missing) file as an asset.
  const file = node.url.fileURLToPath(new URL(ADDON_RELATIVE, import.meta.url));
  if (!node.fs.existsSync(file)) return fail(`not built (${file} is missing); build it with \`npm run build:native\``);
  try {
    const loaded = node.module.createRequire(import.meta.url)(file) as NativeAddon;
    status = { loaded: true, isa: loaded.isa() };
    return loaded;
  } catch (e) {
    return fail(`failed to load ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function fail(reason: string): null {
  status = { loaded: false, reason };
  return null;
}

/** The native addon, loaded once; null (with the reason in nativeStatus()) when unavailable. */
export function loadNative(): NativeAddon | null {
  if (addon === undefined) addon = attempt();
  return addon;
}

/** Whether the addon is loaded, which kernel path it runs, or why it is not in use. */
export function nativeStatus(): NativeStatus {
  if (addon === undefined) loadNative();
  if (addon !== null && addon !== undefined) status = { loaded: true, isa: addon.isa() };
  return { ...status };
}
