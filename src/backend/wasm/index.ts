/**
 * The wasm backend: tensors live in one WebAssembly.Memory and the hot kernels run as WebAssembly
 * (SIMD where it pays) generated at load time: float32 GEMM; elementwise arithmetic and
 * comparisons; relu/abs/neg/sqrt/sign/exp/sigmoid/tanh; sum/max/min reductions; strided copies;
 * gather/scatterAdd/indexSelect/indexAdd; col2im and max pooling's window argmax. Everything else
 * (float64 and int32 arithmetic, pow, log/log1p/erf/sin/cos, where, cast, arg-reductions, float64
 * scatter/index additions, layouts the kernels do not take) runs the reference backend's loops
 * directly on the Wasm memory views: same results, no copies.
 */
import { bytesPerElement } from '../../core/dtype.js';
import { contiguousStrides, shapeSize } from '../../core/shape.js';
import type { Storage } from '../../core/storage.js';
import type { Backend, MatmulLayout, WindowLayout } from '../backend.js';
import { col2imReference, windowArgmaxReference } from '../js/conv.js';
import { jsBackend } from '../js/index.js';
import { SIMD_BINARY, SIMD_UNARY } from './elementwise.js';
import type { SimdBinary } from './elementwise.js';
import { MR, NR } from './gemm.js';
import { forEachBlock, toBlocks } from './layout.js';
import { WasmStorage } from './memory.js';
import { runtime } from './runtime.js';
import { SIMD_TRANSCENDENTAL } from './transcendental.js';
import { SCRATCH } from './threads.js';
import type { Task } from './threads.js';

export { setNumThreads, getNumThreads, wasmFeatures } from './runtime.js';
export { sgdStep, adamStep } from './fused.js';
export type { SgdOptions, AdamOptions } from './fused.js';

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
 * C = op(A) op(B) for one batch entry; pointers in bytes, float32. Large products are cut into up
 * to two blocks per thread (column blocks a multiple of NR wide, or row blocks a multiple of MR
 * tall, each a whole GEMM of its own) that the threads claim one at a time.
 */
function gemm(m: number, n: number, k: number, a: number, rsA: number, csA: number, b: number, rsB: number, csB: number, c: number): void {
  const rt = runtime();
  const threads = Math.min(rt.threads, rt.pool.capacity());
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

export const wasmBackend: Backend = {
  name: 'wasm',

  alloc(dtype, size) {
    return new WasmStorage(runtime().heap, dtype, size);
  },

  fill(out, value) {
    if (isWasm(out) && value === 0 && !Object.is(value, -0)) {
      // all-zero bits: memory.fill
      runtime().heap.zero(out.writePtr(), out.size * bytesPerElement(out.dtype));
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
      runtime().kernel(`un_${op}`)(rd(x), wr(out), out.size);
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
        const k = runtime().kernel(`bin_${op as SimdBinary}_${pat}`);
        const pa = rd(a), pb = rd(b), po = wr(out);
        const aRow = bl.rowStride[1]! * 4, bRow = bl.rowStride[2]! * 4;
        forEachBlock(bl, ([oo, ao, bo]) => k(pa + ao! * 4, aRow, pb + bo! * 4, bRow, po + oo! * 4, bl.rows, bl.cols));
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
        rt.kernel(`red_rows_${op}`)(px, po, outer, r);
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
    const bl = toBlocks(shape, [srcStrides, dstStrides]);
    const k = runtime().kernel(eb === 4 ? 'copy2d_32' : 'copy2d_64');
    // the destination may be written only in part (pad, concat): it reads as zeros elsewhere
    const ps = src.readPtr() + srcOffset * eb, pd = dst.readPtr() + dstOffset * eb;
    const [sr, dr] = bl.rowStride as [number, number];
    const [sc, dc] = bl.colStride as [number, number];
    forEachBlock(bl, ([so, doff]) => k(ps + so! * eb, sr * eb, sc * eb, pd + doff! * eb, dr * eb, dc * eb, bl.rows, bl.cols));
  },

  gather(x, idx, out, l) {
    if (isWasm(x) && isWasm(idx) && isWasm(out) && x.dtype !== 'float64' && idx.dtype === 'int32') {
      runtime().kernel('gather_32')(rd(x), rd(idx), wr(out), l.outer, l.n, l.inner, l.m);
      return;
    }
    willWrite(out);
    jsBackend.gather(x, idx, out, l);
  },
  scatterAdd(src, idx, out, l) {
    if (allF32(src, out) && isWasm(idx) && idx.dtype === 'int32') {
      runtime().kernel('scatteradd_f32')(rd(src), rd(idx), rd(out), l.outer, l.n, l.inner, l.m);
      return;
    }
    jsBackend.scatterAdd(src, idx, out, l);
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

  col2im(cols, out, l: WindowLayout) {
    if (!allF32(cols, out)) {
      willWrite(out);
      return col2imReference(cols, out, l);
    }
    runtime().kernel('col2im_f32')(rd(cols), wr(out), l.n, l.c, l.h, l.w, l.kh, l.kw, l.strideH, l.strideW, l.dilationH, l.dilationW, l.outH, l.outW);
  },

  windowArgmax(x, out, l: WindowLayout) {
    if (!allF32(x) || !isWasm(out)) {
      willWrite(out);
      return windowArgmaxReference(x, out, l);
    }
    runtime().kernel('winargmax_f32')(rd(x), wr(out), l.n * l.c, l.h, l.w, l.kh, l.kw, l.strideH, l.strideW, l.dilationH, l.dilationW, l.outH, l.outW);
  },
};
