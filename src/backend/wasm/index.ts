/**
 * The wasm backend: tensors live in one WebAssembly.Memory and the hot kernels run as WebAssembly
 * (SIMD where it pays) generated at load time: float32 GEMM; elementwise arithmetic and
 * comparisons; relu/abs/neg/sqrt/sign/exp/sigmoid/tanh; sum/max/min reductions; strided copies;
 * gather/scatterAdd/indexSelect/indexAdd; col2im and max pooling's window argmax. Everything else
 * (float64 and int32 arithmetic, pow, log/log1p/erf/sin/cos, where, cast, arg-reductions, float64
 * scatter/index additions, layouts the kernels do not take) runs the reference backend's loops
 * directly on the Wasm memory views: same results, no copies. Large calls of the memory-bound
 * kernels (elementwise, row sums, copies, gathers, col2im, window argmax, zero fill) are cut into
 * ranges that the thread pool runs at once (parallel.ts); each range writes its own part of the
 * output with the same operations, so the bits do not depend on the number of threads.
 */
import { bytesPerElement } from '../../core/dtype.js';
import { contiguousStrides, shapeSize } from '../../core/shape.js';
import type { Storage } from '../../core/storage.js';
import type { AxisLayout, Backend, MatmulLayout, WindowLayout } from '../backend.js';
import { col2imReference, windowArgmaxReference } from '../js/conv.js';
import { sgdStepReference, sumSquaresReference } from '../js/optim.js';
import { crossEntropyRowsGradReference, crossEntropyRowsReference } from '../js/loss.js';
import { jsBackend } from '../js/index.js';
import { SIMD_BINARY, SIMD_UNARY } from './elementwise.js';
import type { SimdBinary } from './elementwise.js';
import { MR, NR } from './gemm.js';
import { forEachBlock, toBlocks } from './layout.js';
import type { Blocks } from './layout.js';
import { parallelCalls, parallelFor, parallelMinElements } from './parallel.js';
import { nativeGemm, nativeGemmActive } from './native-gemm.js';
import type { NativeAddon } from '../native/addon.js';
import { sgdFlags, SUMSQ_ROW } from './optim.js';
import { WasmStorage } from './memory.js';
import { runtime } from './runtime.js';
import { SIMD_TRANSCENDENTAL } from './transcendental.js';
import { SCRATCH } from './threads.js';
import type { Task } from './threads.js';

export { setNumThreads, getNumThreads, wasmFeatures } from './runtime.js';

const simdBinary = new Set<string>(SIMD_BINARY);
const simdUnary = new Set<string>([...SIMD_UNARY, ...SIMD_TRANSCENDENTAL]);

/** Blocks of a parallel product hold at least this many multiply-adds (a hand-off costs ~10 us). */
const PARALLEL_MIN_MACS = 1 << 17;

function isWasm(s: Storage): s is WasmStorage {
  return s instanceof WasmStorage;
}

/** Tell a wasm storage that the kernel about to run writes all of it (so it need not be cleared). */
function willWrite(s: Storage): void {
  if (s instanceof WasmStorage) s.writePtr();
}

const rd = (s: Storage): number => (s as WasmStorage).readPtr();
const wr = (s: Storage): number => (s as WasmStorage).writePtr();

function allF32(...ss: Storage[]): boolean {
  for (const s of ss) if (s.dtype !== 'float32' || !isWasm(s)) return false;
  return true;
}

/**
 * The native addon, ready to run a kernel now: null where it is not in use; else the wasm pool's
 * idle workers are parked (they would spin on the cores the native pool is about to use), and
 * from the first native call on, every wasm round parks the native pool's idle workers in turn.
 * Call after any heap allocation (the addon must see the grown memory).
 */
function nativeNow(rt: ReturnType<typeof runtime>): NativeAddon | null {
  const native = nativeGemm(rt.heap);
  if (native === null) return null;
  if (rt.pool.beforeRun === null) rt.pool.beforeRun = () => native.park();
  rt.pool.park();
  return native;
}

/**
 * C = op(A) op(B) for one batch entry; pointers in bytes, float32. Large products are cut into up
 * to two blocks per thread (column blocks a multiple of NR wide, or row blocks a multiple of MR
 * tall, each a whole GEMM of its own) that the threads claim one at a time.
 */
function gemm(m: number, n: number, k: number, a: number, rsA: number, csA: number, b: number, rsB: number, csB: number, c: number): void {
  const rt = runtime();
  const native = nativeNow(rt);
  if (native !== null) {
    // the same product on the same memory, natively (native-gemm.ts); its own threads, as many as
    // ours. Each pool parks the other's idle threads before it runs, so that on a machine with as
    // many cores as threads no idle thread spins on a core the running pool needs.
    native.sgemm(m, n, k, a, rsA, csA, b, rsB, csB, c, n, 0, rt.threads);
    return;
  }
  const threads = Math.min(rt.threads, rt.pool.capacity());
  if (k >= SPLIT_K_MIN_K && m * n <= SPLIT_K_MAX_MN) {
    // C^T = B^T A^T when its tiles waste less (conv1's weight gradient: m = 32, n = 9 pads to
    // 32 x 16 as is, 12 x 32 transposed): the product into a scratch block, then transposed out
    const padded = (r: number, c2: number) => Math.ceil(r / MR) * MR * Math.ceil(c2 / NR) * NR;
    if (padded(n, m) < padded(m, n)) {
      const t = rt.heap.malloc(m * n * 4);
      try {
        gemmSplitK(n, m, k, b, csB, rsB, a, csA, rsA, t, threads);
        rt.kernel('copy4d_32')(t, c, 1, 1, n, m, 0, 0, m * 4, 4, 0, 0, 4, n * 4, 1);
      } finally {
        rt.heap.freeBlock(t, m * n * 4);
      }
      return;
    }
    return gemmSplitK(m, n, k, a, rsA, csA, b, rsB, csB, c, threads);
  }
  const blocks = Math.min(2 * threads, Math.floor((m * n * k) / PARALLEL_MIN_MACS));
  if (threads <= 1 || blocks < 2) {
    rt.kernel('gemm_f32')(m, n, k, a, rsA * 4, csA * 4, b, rsB * 4, csB * 4, c, n * 4, rt.workArea(0));
    return;
  }
  const fn = rt.fnIndex('gemm_f32');
  const tasks: Task[] = [];
  if (n >= m) {
    // column blocks: C[:, j0:j1] = A B[:, j0:j1]
    const w = Math.ceil(n / blocks / NR) * NR;
    for (let j0 = 0; j0 < n; j0 += w) {
      tasks.push({ fn, args: [m, Math.min(w, n - j0), k, a, rsA * 4, csA * 4, b + j0 * csB * 4, rsB * 4, csB * 4, c + j0 * 4, n * 4, SCRATCH] });
    }
  } else {
    // row blocks: C[i0:i1, :] = A[i0:i1, :] B
    const h = Math.ceil(m / blocks / MR) * MR;
    for (let i0 = 0; i0 < m; i0 += h) {
      tasks.push({ fn, args: [Math.min(h, m - i0), n, k, a + i0 * rsA * 4, rsA * 4, csA * 4, b, rsB * 4, csB * 4, c + i0 * n * 4, n * 4, SCRATCH] });
    }
  }
  rt.pool.runAll(tasks, threads);
}

/**
 * The copy natively in one call (the same values), split over the native pool: in a convolution's
 * step a copy (im2col, a permute) sits between two products, whose pool is then awake. False where
 * the addon is not in use or the layout does not fit its limits (rank 8, strides below 2^31).
 */
function nativeCopy(ps: number, pd: number, bl: Blocks): boolean {
  const rt = runtime();
  if (bl.outer.length + 2 > 8 || !nativeGemmActive()) return false;
  const [sr, dr] = bl.rowStride as [number, number];
  const [sc, dc] = bl.colStride as [number, number];
  const v = [...bl.outer, bl.rows, bl.cols, ...bl.outerStrides[0]!, sr, sc, ...bl.outerStrides[1]!, dr, dc];
  if (v.some((x) => x !== (x | 0))) return false;
  nativeNow(rt)!.copyNd(ps, pd, Int32Array.from(v), rt.threads);
  return true;
}

/**
 * Strided copy of 32-bit elements (byte pointers, element strides): the layout reduced to blocks of
 * up to four dimensions, each one copy4d_32 call; a single block is split across threads along its
 * first dimension longer than 1, several blocks run as separate tasks.
 */
function copy32(ps: number, pd: number, shape: readonly number[], srcStrides: readonly number[], dstStrides: readonly number[], apart: boolean): void {
  const bl = toBlocks(shape, [srcStrides, dstStrides]);
  if (apart && nativeCopy(ps, pd, bl)) return; // (a copy within one storage keeps the wasm kernel's order)
  const r = bl.outer.length, cut = Math.max(0, r - 2);
  // the last two outer dimensions (padded with size-1 ones) go to the kernel; the rest loop here
  const dims = bl.outer.slice(cut), ss = bl.outerStrides[0]!.slice(cut), ds = bl.outerStrides[1]!.slice(cut);
  while (dims.length < 2) { dims.push(1); ss.push(0); ds.push(0); }
  const js: Blocks = { ...bl, outer: bl.outer.slice(0, cut), outerStrides: bl.outerStrides.map((s) => s.slice(0, cut)) };
  const [sr, dr] = bl.rowStride as [number, number];
  const [sc, dc] = bl.colStride as [number, number];
  // the four kernel dimensions with their byte strides: [size, src stride, dst stride]
  const k4: [number, number, number][] = [[dims[0]!, ss[0]! * 4, ds[0]! * 4], [dims[1]!, ss[1]! * 4, ds[1]! * 4], [bl.rows, sr * 4, dr * 4], [bl.cols, sc * 4, dc * 4]];
  const argsAt = (s: number, d: number, k: [number, number, number][]): number[] =>
    [s, d, k[0]![0], k[1]![0], k[2]![0], k[3]![0], k[0]![1], k[1]![1], k[2]![1], k[3]![1], k[0]![2], k[1]![2], k[2]![2], k[3]![2], apart ? 1 : 0];
  const total = shapeSize(shape);
  if (js.outer.length === 0) {
    // one block: split its first dimension longer than 1 (rows at the latest: cols is split never)
    const axis = k4.findIndex(([n], i) => n > 1 || i === 2);
    const [, sStep, dStep] = k4[axis]!;
    parallelFor('copy4d_32', k4[axis]![0], total, (s, len) => {
      const k = k4.map((e, i) => (i === axis ? [len, e[1], e[2]] : e) as [number, number, number]);
      return argsAt(ps + s * sStep, pd + s * dStep, k);
    });
    return;
  }
  const calls: number[][] = [];
  forEachBlock(js, ([so, doff]) => { calls.push(argsAt(ps + so! * 4, pd + doff! * 4, k4)); });
  if (total >= parallelMinElements() && calls.length <= 1024) {
    parallelCalls('copy4d_32', calls);
  } else {
    const k = runtime().kernel('copy4d_32');
    for (const a of calls) k(...a);
  }
}

/**
 * out[o, idx[o, j, i], i] += src[o, j, i]; with zeroFirst, out starts as zeros whatever it held:
 * each kernel call clears its own outer slices just before adding into them.
 */
function scatterAdd(src: Storage, idx: Storage, out: Storage, l: AxisLayout, zeroFirst: boolean): void {
  if (allF32(src, out) && isWasm(idx) && idx.dtype === 'int32') {
    // different outer slices add into different slices of out: they may run at once
    const ps = rd(src), pi = rd(idx), po = zeroFirst ? wr(out) : rd(out), per = l.m * l.inner;
    const touched = l.outer * (per + (zeroFirst ? l.n * l.inner : 0));
    parallelFor('scatteradd_f32', l.outer, touched, (s, len) => [ps + s * per * 4, pi + s * per * 4, po + s * l.n * l.inner * 4, len, l.n, l.inner, l.m, zeroFirst ? 1 : 0]);
    return;
  }
  if (zeroFirst) jsBackend.fill(out, 0);
  jsBackend.scatterAdd(src, idx, out, l);
}

/** A product with a small output and a long shared dimension (a weight gradient summed over many pixels). */
const SPLIT_K_MIN_K = 8192, SPLIT_K_MAX_MN = 4096, SPLIT_K_SLICES = 4;

/**
 * C = sum over s of A[:, K_s] B[K_s, :] for SPLIT_K_SLICES fixed slices K_s of the shared dimension,
 * each a GEMM of its own, then the partial products added in slice order. Cutting rows or columns
 * of such a product would give each thread a sliver of C and make every one pack all of the long
 * operand; slices share that work out. The slices and the order of the sums do not depend on the
 * number of threads, so neither do the results.
 */
function gemmSplitK(m: number, n: number, k: number, a: number, rsA: number, csA: number, b: number, rsB: number, csB: number, c: number, threads: number): void {
  const rt = runtime();
  const len = Math.ceil(k / SPLIT_K_SLICES), mn = m * n;
  const partial = rt.heap.malloc((SPLIT_K_SLICES - 1) * mn * 4);
  try {
    const fn = rt.fnIndex('gemm_f32');
    const tasks: Task[] = [];
    for (let s = 0, p0 = 0; p0 < k; s++, p0 += len) {
      const dst = s === 0 ? c : partial + (s - 1) * mn * 4;
      tasks.push({ fn, args: [m, n, Math.min(len, k - p0), a + p0 * csA * 4, rsA * 4, csA * 4, b + p0 * rsB * 4, rsB * 4, csB * 4, dst, n * 4, SCRATCH] });
    }
    if (threads > 1) rt.pool.runAll(tasks, threads);
    else for (const t of tasks) rt.kernel('gemm_f32')(...t.args.map((v) => (v === SCRATCH ? rt.workArea(0) : v)));
    const add = rt.kernel('bin_add_vv');
    for (let s = 1; s < tasks.length; s++) add(c, 0, partial + (s - 1) * mn * 4, 0, c, 1, mn);
  } finally {
    rt.heap.freeBlock(partial, (SPLIT_K_SLICES - 1) * mn * 4);
  }
}

export const wasmBackend: Backend = {
  name: 'wasm',
  // WebAssembly's float arithmetic, SIMD included, is IEEE 754 with gradual underflow (the spec
  // allows no flushing); relaxed SIMD's multiply-add, used by the GEMM only, may or may not fuse,
  // which changes roundings within the GEMM's error bound but no NaN, infinity or subnormal
  // (measured and checked by test/backend/contract.test.ts)
  guarantees: { specials: 'ieee', subnormals: 'kept' },

  alloc(dtype, size) {
    return new WasmStorage(runtime().heap, dtype, size);
  },

  fill(out, value) {
    if (isWasm(out) && value === 0 && !Object.is(value, -0)) {
      // all-zero bits: memory.fill
      const p = out.writePtr(), bytes = out.size * bytesPerElement(out.dtype);
      parallelFor('zero', bytes >> 4, bytes >> 2, (s, len) => [p + s * 16, s * 16 + len * 16 >= (bytes & ~15) ? bytes - s * 16 : len * 16]);
      return;
    }
    willWrite(out);
    out.data.fill(value);
  },

  cast(x, out) {
    willWrite(out);
    jsBackend.cast(x, out);
  },

  unary(op, x, out) {
    if (simdUnary.has(op) && allF32(x, out)) {
      const px = rd(x), po = wr(out);
      parallelFor(`un_${op}`, out.size, out.size, (s, len) => [px + s * 4, po + s * 4, len], 16);
      return;
    }
    willWrite(out);
    jsBackend.unary(op, x, out);
  },

  binary(op, a, b, out, shape, aStrides, bStrides) {
    if (shapeSize(shape) === 0) return;
    if (simdBinary.has(op) && allF32(a, b, out)) {
      const bl = toBlocks(shape, [contiguousStrides(shape), aStrides, bStrides]);
      const ac = bl.colStride[1]!, bc = bl.colStride[2]!;
      const pat = ac === 1 && bc === 1 ? 'vv' : ac === 1 && bc === 0 ? 'vs' : ac === 0 && bc === 1 ? 'sv' : bl.cols === 1 ? 'vv' : null;
      if (pat !== null) {
        const name = `bin_${op as SimdBinary}_${pat}`;
        const pa = rd(a), pb = rd(b), po = wr(out);
        const aRow = bl.rowStride[1]! * 4, bRow = bl.rowStride[2]! * 4;
        const { rows, cols } = bl;
        if (bl.outer.length === 0 && rows === 1) {
          // one long row: ranges of it (an 's' operand is one repeated element and stays put)
          parallelFor(name, cols, cols, (s, len) => [pa + s * ac * 4, aRow, pb + s * bc * 4, bRow, po + s * 4, 1, len], 16);
        } else if (bl.outer.length === 0) {
          parallelFor(name, rows, rows * cols, (s, len) => [pa + s * aRow, aRow, pb + s * bRow, bRow, po + s * cols * 4, len, cols]);
        } else {
          const calls: number[][] = [];
          forEachBlock(bl, ([oo, ao, bo]) => { calls.push([pa + ao! * 4, aRow, pb + bo! * 4, bRow, po + oo! * 4, rows, cols]); });
          if (shapeSize(shape) >= parallelMinElements() && calls.length <= 1024) parallelCalls(name, calls);
          else {
            const k = runtime().kernel(name);
            for (const c of calls) k(...c);
          }
        }
        return;
      }
    }
    willWrite(out);
    jsBackend.binary(op, a, b, out, shape, aStrides, bStrides);
  },

  where(cond, a, b, out, shape, cStrides, aStrides, bStrides) {
    willWrite(out);
    jsBackend.where(cond, a, b, out, shape, cStrides, aStrides, bStrides);
  },

  reduce(op, x, out, shape, axes) {
    const contiguousAxes = axes.length > 0 && axes.every((ax, i) => i === 0 || ax === axes[i - 1]! + 1);
    if (contiguousAxes && allF32(x, out) && shapeSize(shape) > 0) {
      // x seen as [outer, r, inner] with the reduced axes in the middle
      const outer = shapeSize(shape.slice(0, axes[0]!));
      const r = shapeSize(shape.slice(axes[0]!, axes[axes.length - 1]! + 1));
      const inner = shapeSize(shape.slice(axes[axes.length - 1]! + 1));
      const rt = runtime();
      const px = rd(x), po = wr(out);
      if (inner === 1) {
        parallelFor(`red_rows_${op}`, outer, outer * r, (s, len) => [px + s * r * 4, po + s * 4, len, r]);
      } else {
        const k = rt.kernel(`red_cols_${op}`);
        const acc = rt.heap.malloc(inner * 8);
        try {
          for (let o = 0; o < outer; o++) k(px + o * r * inner * 4, po + o * inner * 4, r, inner, acc);
        } finally {
          rt.heap.freeBlock(acc, inner * 8);
        }
      }
      return;
    }
    if (axes.length > 0 && allF32(x, out) && shapeSize(shape) > 0) {
      const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
      if (op === 'sum' && kept[0]! > 0 && kept.every((ax, i) => ax === kept[0]! + i) && kept.at(-1)! < shape.length - 1) {
        // [segs, K, len] summed over its first and last axes (batch norm's sums over N and H W)
        const segs = shapeSize(shape.slice(0, kept[0]!)), count = shapeSize(kept.map((i) => shape[i]!)), len = shapeSize(shape.slice(kept.at(-1)! + 1));
        const px = rd(x), po = wr(out);
        parallelFor('red_mid_sum', count, segs * count * len, (s, n) => [px + s * len * 4, po + s * 4, n, segs, len, count * len * 4]);
        return;
      }
      // Other axes apart: copy x with the kept axes first and the reduced ones last, then reduce
      // rows. One extra pass over x, instead of the reference loop's per-element index arithmetic
      // (~30x slower).
      const perm = [...kept, ...axes];
      const pshape = perm.map((i) => shape[i]!);
      const xStrides = contiguousStrides(shape);
      const outer = shapeSize(kept.map((i) => shape[i]!)), r = shapeSize(axes.map((i) => shape[i]!));
      const rt = runtime();
      const tmp = rt.heap.malloc(outer * r * 4);
      try {
        copy32(rd(x), tmp, pshape, perm.map((i) => xStrides[i]!), contiguousStrides(pshape), true);
        const po = wr(out);
        parallelFor(`red_rows_${op}`, outer, outer * r, (s, len) => [tmp + s * r * 4, po + s * 4, len, r]);
      } finally {
        rt.heap.freeBlock(tmp, outer * r * 4);
      }
      return;
    }
    willWrite(out);
    jsBackend.reduce(op, x, out, shape, axes);
  },

  argReduce(op, x, out, outer, n, inner) {
    willWrite(out);
    jsBackend.argReduce(op, x, out, outer, n, inner);
  },

  matmul(a, b, out, l: MatmulLayout) {
    if (!allF32(a, b, out)) {
      willWrite(out);
      return jsBackend.matmul(a, b, out, l);
    }
    const { m, n, k, transA, transB } = l;
    if (m === 0 || n === 0) return;
    if (k === 0) {
      out.data.fill(0);
      return;
    }
    // A(i, p) at i*rsA + p*csA, B(p, j) at p*rsB + j*csB: the transposes are only strides
    const [rsA, csA] = transA ? [1, m] : [k, 1];
    const [rsB, csB] = transB ? [1, k] : [n, 1];
    const pa = rd(a), pb = rd(b), po = wr(out);
    for (let bt = 0; bt < l.batch; bt++) {
      gemm(m, n, k, pa + l.aOffsets[bt]! * 4, rsA, csA, pb + l.bOffsets[bt]! * 4, rsB, csB, po + bt * m * n * 4);
    }
  },

  copy(src, dst, shape, srcOffset, srcStrides, dstOffset, dstStrides) {
    if (!isWasm(src) || !isWasm(dst) || src.dtype !== dst.dtype || shapeSize(shape) === 0) {
      return jsBackend.copy(src, dst, shape, srcOffset, srcStrides, dstOffset, dstStrides);
    }
    const eb = bytesPerElement(src.dtype);
    // A copy that fills the whole destination (permute, im2col, expand, slice) need not have it
    // cleared first; pad and concat write only part of theirs, which must read as zeros elsewhere.
    const cs = contiguousStrides(shape);
    const whole = dstOffset === 0 && shapeSize(shape) === dst.size && shape.every((d, i) => d === 1 || dstStrides[i] === cs[i]);
    const pd0 = whole && src !== dst ? dst.writePtr() : dst.readPtr();
    if (eb === 4) return copy32(src.readPtr() + srcOffset * 4, pd0 + dstOffset * 4, shape, srcStrides, dstStrides, src !== dst);
    const bl = toBlocks(shape, [srcStrides, dstStrides]);
    const k = runtime().kernel('copy2d_64');
    // the destination may be written only in part (pad, concat): it reads as zeros elsewhere
    const ps = src.readPtr() + srcOffset * eb, pd = pd0 + dstOffset * eb;
    const [sr, dr] = bl.rowStride as [number, number];
    const [sc, dc] = bl.colStride as [number, number];
    forEachBlock(bl, ([so, doff]) => k(ps + so! * eb, sr * eb, sc * eb, pd + doff! * eb, dr * eb, dc * eb, bl.rows, bl.cols));
  },

  gather(x, idx, out, l) {
    if (isWasm(x) && isWasm(idx) && isWasm(out) && x.dtype !== 'float64' && idx.dtype === 'int32') {
      const px = rd(x), pi = rd(idx), po = wr(out), per = l.m * l.inner;
      parallelFor('gather_32', l.outer, l.outer * per, (s, len) => [px + s * l.n * l.inner * 4, pi + s * per * 4, po + s * per * 4, len, l.n, l.inner, l.m]);
      return;
    }
    willWrite(out);
    jsBackend.gather(x, idx, out, l);
  },
  scatterAdd(src, idx, out, l) {
    scatterAdd(src, idx, out, l, false);
  },
  scatterAddZeroed(src, idx, out, l) {
    scatterAdd(src, idx, out, l, true);
  },
  zigguratMap(buf, std, tables) {
    if (!isWasm(buf) || buf.dtype !== 'float32' || tables.length !== 256) throw new TypeError('wasm zigguratMap: needs a float32 wasm storage and 256 table entries');
    const rt = runtime(), n = buf.size;
    const mem = rt.heap.malloc(256 * 8 + Math.max(1, n) * 4); // the tables, then room for every index
    try {
      new Float64Array(rt.heap.buffer, mem, 256).set(tables);
      const count = rt.kernel('ziggurat_map_f32')(buf.readPtr(), n, mem, std, mem + 2048) as unknown as number;
      return new Int32Array(rt.heap.buffer, mem + 2048, count).slice();
    } finally {
      rt.heap.freeBlock(mem, 256 * 8 + Math.max(1, n) * 4);
    }
  },
  indexSelect(x, idx, out, l) {
    if (isWasm(x) && isWasm(idx) && isWasm(out) && x.dtype === out.dtype && idx.dtype === 'int32') {
      runtime().kernel('index_select')(rd(x), rd(idx), wr(out), l.outer, l.n, l.inner, l.m, bytesPerElement(x.dtype));
      return;
    }
    willWrite(out);
    jsBackend.indexSelect(x, idx, out, l);
  },
  indexAdd(src, idx, out, l) {
    if (allF32(src, out) && isWasm(idx) && idx.dtype === 'int32') {
      runtime().kernel('index_add_f32')(rd(src), rd(idx), rd(out), l.outer, l.n, l.inner, l.m);
      return;
    }
    jsBackend.indexAdd(src, idx, out, l);
  },

  sgdStep(p, grad, bufIn, pOut, bufOut, h) {
    const momentum = h.momentum !== 0;
    if (!allF32(p, grad, pOut) || (momentum && (bufOut === null || !allF32(bufOut) || (!h.first && (bufIn === null || !allF32(bufIn)))))) {
      if (bufOut) willWrite(bufOut);
      willWrite(pOut);
      return sgdStepReference(p, grad, bufIn, pOut, bufOut, h);
    }
    const rt = runtime(), n = p.size;
    const native = nativeNow(rt);
    if (native !== null) {
      // natively (the addon's update, the same bits) on the pool the backward pass's products just
      // used, so no worker of ours is woken for it
      const pbi = momentum && !h.first ? rd(bufIn!) : 0, pbo = momentum ? wr(bufOut!) : 0;
      native.sgdStep(rd(p), rd(grad), pbi, wr(pOut), pbo, n, h.lr, h.momentum, 1 - h.dampening, h.weightDecay, sgdFlags(h), rt.threads);
      return;
    }
    const hp = rt.heap.malloc(16);
    try {
      new Float32Array(rt.heap.buffer, hp, 4).set([h.lr, h.momentum, 1 - h.dampening, h.weightDecay]);
      const pp = rd(p), pg = rd(grad), pbi = momentum && !h.first ? rd(bufIn!) : 0, pbo = momentum ? wr(bufOut!) : 0, ppo = wr(pOut);
      parallelFor(`sgd_${sgdFlags(h)}`, n, 4 * n, (s, len) => [pp + s * 4, pg + s * 4, pbi && pbi + s * 4, ppo + s * 4, pbo && pbo + s * 4, len, hp], 16);
    } finally {
      rt.heap.freeBlock(hp, 16);
    }
  },

  sumSquares(x) {
    if (!allF32(x)) {
      if (x.dtype !== 'float64') throw new TypeError(`sumSquares: expected a float storage, got ${x.dtype}`);
      return sumSquaresReference(x);
    }
    // rows of SUMSQ_ROW elements (and a last, shorter one), each a float64 partial sum; the
    // partials are added in order, so the result does not depend on the thread count
    const rt = runtime(), n = x.size, rows = Math.floor(n / SUMSQ_ROW), tail = n - rows * SUMSQ_ROW;
    const parts = rows + (tail > 0 ? 1 : 0);
    if (parts === 0) return 0;
    const px = rd(x), po = rt.heap.malloc(parts * 8);
    const native = nativeNow(rt);
    try {
      if (native !== null) {
        // the same rows in the same order natively (the same bits), on the pool the backward pass used
        if (rows > 0) native.sumSquaresRows(px, po, rows, SUMSQ_ROW, rt.threads);
        if (tail > 0) native.sumSquaresRows(px + rows * SUMSQ_ROW * 4, po + rows * 8, 1, tail, 1);
      } else {
        if (rows > 0) parallelFor('sumsq_rows', rows, rows * SUMSQ_ROW, (s, len) => [px + s * SUMSQ_ROW * 4, po + s * 8, len, SUMSQ_ROW]);
        if (tail > 0) rt.kernel('sumsq_rows')(px + rows * SUMSQ_ROW * 4, po + rows * 8, 1, tail);
      }
      const partial = new Float64Array(rt.heap.buffer, po, parts);
      let s = 0;
      for (let i = 0; i < parts; i++) s += partial[i]!;
      return s;
    } finally {
      rt.heap.freeBlock(po, parts * 8);
    }
  },

  // The softmax cross-entropy of a classifier head ([B, C], C small) is one short loop per row:
  // the reference loops on the heap's views, in place of the two dozen kernel calls it replaces.
  crossEntropyRows(x, target, out, rows, cols) {
    willWrite(out);
    crossEntropyRowsReference(x, target, out, rows, cols);
  },
  crossEntropyRowsGrad(x, target, g, out, rows, cols) {
    willWrite(out);
    crossEntropyRowsGradReference(x, target, g, out, rows, cols);
  },

  col2im(cols, out, l: WindowLayout) {
    if (!allF32(cols, out)) {
      willWrite(out);
      return col2imReference(cols, out, l);
    }
    const rt = runtime();
    const pc = rd(cols), po = wr(out), plane = l.h * l.w, colsPerChannel = l.kh * l.kw * l.n * l.outH * l.outW;
    const native = nativeNow(rt);
    if (native !== null) {
      // the same sums in the same order natively (the same bits), on the pool the products use
      native.col2im(pc, po, l.n, l.c, l.h, l.w, l.kh, l.kw, l.strideH, l.strideW, l.dilationH, l.dilationW, l.outH, l.outW, rt.threads);
      return;
    }
    rt.heap.zero(po, l.n * l.c * plane * 4);
    parallelFor('col2im_f32', l.c, l.c * colsPerChannel, (s, len) => [pc + s * colsPerChannel * 4, po + s * plane * 4, l.n, l.c, l.h, l.w, l.kh, l.kw, l.strideH, l.strideW, l.dilationH, l.dilationW, l.outH, l.outW, len]);
  },

  windowArgmax(x, out, l: WindowLayout) {
    if (!allF32(x) || !isWasm(out)) {
      willWrite(out);
      return windowArgmaxReference(x, out, l);
    }
    const px = rd(x), po = wr(out), planes = l.n * l.c, inPlane = l.h * l.w, outPlane = l.outH * l.outW;
    parallelFor('winargmax_f32', planes, planes * inPlane, (s, len) => [px + s * inPlane * 4, po + s * outPlane * 4, len, l.h, l.w, l.kh, l.kw, l.strideH, l.strideW, l.dilationH, l.dilationW, l.outH, l.outW]);
  },
};
