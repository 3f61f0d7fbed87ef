/// <reference types="@webgpu/types" />
/**
 * The webgpu backend: every kernel of the Backend interface in WGSL (wgsl.ts, wgsl-reduce.ts,
 * wgsl-gemm.ts) on one device, with buffers pooled, pipelines cached and dispatches batched into
 * few submissions (runtime.ts). Made by createWebgpuBackend() (asynchronous: finding an adapter and
 * a device is), usually through setBackendAsync('webgpu').
 *
 * float64: WGSL has no 64-bit floats, so float64 storages stay on the host and kernels on them run
 * the reference loops (backend/js), as do kernels whose inputs are all still on the host. A kernel
 * mixing float64 with a float32 storage that lives on the GPU throws (cast it on the host first).
 * Not provided (the ops then use their reference loops, which work on host-resident storages and
 * throw the async-read error on GPU-resident ones): zigguratMap and sumSquares (they return host
 * values synchronously).
 */
import type { DType } from '../../core/dtype.js';
import { contiguousStrides } from '../../core/shape.js';
import type { Storage } from '../../core/storage.js';
import type { AxisLayout, Backend, MatmulLayout, SgdStepHyper } from '../backend.js';
import { jsBackend } from '../js/index.js';
import { requestDevice } from './device.js';
import { f32Bits, groupsFor, i32Bits, stridedParams } from './layout.js';
import type { Binding, GpuMemoryInfo } from './runtime.js';
import { GpuRuntime } from './runtime.js';
import { GpuStorage } from './storage.js';
import { binaryWgsl, castWgsl, copyWgsl, fillWgsl, unaryWgsl, whereWgsl } from './wgsl.js';
import type { GpuType } from './wgsl.js';
import { argReduceWgsl, gatherWgsl, matmulGroups, matmulWgsl, reduceWgsl, scatterByRows, scatterRowsWgsl, scatterWgsl, sgdWgsl } from './wgsl-reduce.js';
import { crossEntropyKernels } from './cross-entropy.js';
import { convKernels } from './conv.js';
import type { GemmKernel } from './wgsl-gemm.js';
import { gemmKernelFor, parseGemmKernel, tiledMatmul } from './wgsl-gemm.js';
import { col2imReference, windowArgmaxReference } from '../js/conv.js';

export interface WebgpuBackend extends Backend {
  /** The adapter, e.g. 'google swiftshader'. */
  readonly adapter: string;
  /** The GEMM in use: 'tiled' (workgroup memory, wgsl-gemm.ts) or 'registers' (barrier-free, on CPU adapters). */
  readonly gemm: GemmKernel;
  /** GPU buffers in use and pooled (a leak shows as buffersCreated growing step after step). */
  memory(): GpuMemoryInfo;
  /** Submit what is queued and wait for the GPU (for timing). */
  sync(): Promise<void>;
  /** Release the device; the backend cannot be used afterwards. */
  destroy(): void;
}

const gpuType = (d: DType): GpuType => (d === 'int32' ? 'i32' : 'f32');
const gs = (s: Storage): GpuStorage => s as GpuStorage;

/** True when the kernel must run on the host: float64 is involved (WGSL has no float64). */
function onHost(...storages: (Storage | null)[]): boolean {
  return storages.some((s) => s !== null && s.dtype === 'float64');
}

// lint-allow-long-function: the Backend object, one short method per kernel, each a dispatch
function makeBackend(rt: GpuRuntime, adapter: string, gemm: GemmKernel): WebgpuBackend {
  const run = (key: string, wgsl: () => string, params: number[], bindings: Binding[], n: number) => {
    if (n > 0) rt.dispatch(key, wgsl, params, bindings, groupsFor(n));
  };
  const zero = (s: GpuStorage): void => {
    const t = gpuType(s.dtype);
    const out = s.output();
    run(`fill:${t}`, () => fillWgsl(t), [s.size, 0], [out], s.size);
  };
  const ce = crossEntropyKernels(rt);
  const conv = convKernels(rt);
  const b: WebgpuBackend = {
    name: 'webgpu',
    // SwiftShader (and GPUs generally) drop NaN in min/max builtins and flush subnormals; results
    // are promised only for finite values, transcendental functions within a few units in the last place
    guarantees: { specials: 'finite-only', subnormals: 'flushed', ulps: 8 },
    adapter,
    gemm,
    memory: () => rt.memory(),
    sync: () => rt.sync(),
    flush: () => rt.flush(),
    destroy: () => rt.destroy(),

    alloc(dtype, size) {
      return new GpuStorage(rt, dtype, size, zero);
    },
    fill(out, value) {
      if (onHost(out)) return jsBackend.fill(out, value);
      const t = gpuType(out.dtype);
      run(`fill:${t}`, () => fillWgsl(t), [out.size, t === 'f32' ? f32Bits(value) : i32Bits(Math.trunc(value) | 0)], [gs(out).output()], out.size);
    },
    cast(x, out) {
      if (onHost(x, out)) return jsBackend.cast(x, out);
      const [f, t] = [gpuType(x.dtype), gpuType(out.dtype)];
      run(`cast:${f}:${t}`, () => castWgsl(f, t), [x.size], [gs(x).input(), gs(out).output()], x.size);
    },
    unary(op, x, out) {
      if (onHost(x) || x.dtype === 'int32') return jsBackend.unary(op, x, out);
      run(`unary:${op}`, () => unaryWgsl(op), [x.size], [gs(x).input(), gs(out).output()], x.size);
    },
    binary(op, a, bb, out, shape, as, bs) {
      if (onHost(a, bb, out)) return jsBackend.binary(op, a, bb, out, shape, as, bs);
      const t = gpuType(out.dtype);
      const p = stridedParams(shape, [as, bs], [0, 0]);
      run(`binary:${op}:${t}:${p[1]}`, () => binaryWgsl(op, t, p[1]!), p, [gs(a).input(), gs(bb).input(), gs(out).output()], out.size);
    },
    where(c, a, bb, out, shape, cs, as, bs) {
      if (onHost(c, a, bb, out)) return jsBackend.where(c, a, bb, out, shape, cs, as, bs);
      const [ct, t] = [gpuType(c.dtype), gpuType(out.dtype)];
      const p = stridedParams(shape, [cs, as, bs], [0, 0, 0]);
      run(`where:${ct}:${t}:${p[1]}`, () => whereWgsl(ct, t, p[1]!), p, [gs(c).input(), gs(a).input(), gs(bb).input(), gs(out).output()], out.size);
    },
    reduce(op, x, out, shape, axes) {
      if (onHost(x)) return jsBackend.reduce(op, x, out, shape, axes);
      const t = gpuType(x.dtype);
      const strides = contiguousStrides(shape);
      const kept = shape.map((_, d) => d).filter((d) => !axes.includes(d));
      const red = [...axes];
      const count = red.reduce((s, d) => s * shape[d]!, 1);
      const p = [out.size, count, kept.length, red.length, ...kept.map((d) => shape[d]!), ...kept.map((d) => strides[d]!)];
      p.push(...red.map((d) => shape[d]!), ...red.map((d) => strides[d]!));
      run(`reduce:${op}:${t}`, () => reduceWgsl(op, t), p, [gs(x).input(), gs(out).output()], out.size);
    },
    argReduce(op, x, out, outer, n, inner) {
      if (onHost(x) || x.dtype === 'int32') return jsBackend.argReduce(op, x, out, outer, n, inner);
      run(`arg:${op}`, () => argReduceWgsl(op), [outer * inner, n, inner], [gs(x).input(), gs(out).output()], outer * inner);
    },
    matmul(a, bb, out, l) {
      if (onHost(a, bb, out)) return jsBackend.matmul(a, bb, out, l);
      (gemm === 'tiled' ? tiledMatmul : matmul)(rt, gs(a), gs(bb), gs(out), l);
    },
    copy(src, dst, shape, srcOffset, srcStrides, dstOffset, dstStrides) {
      if (onHost(src, dst)) return jsBackend.copy(src, dst, shape, srcOffset, srcStrides, dstOffset, dstStrides);
      const t = gpuType(src.dtype);
      const n = shape.reduce((x, y) => x * y, 1);
      const p = stridedParams(shape, [srcStrides, dstStrides], [srcOffset, dstOffset]);
      run(`copy:${t}:${p[1]}`, () => copyWgsl(t, p[1]!), p, [gs(src).input(), gs(dst).inout()], n);
    },
    gather(x, idx, out, l) {
      if (onHost(x)) return jsBackend.gather(x, idx, out, l);
      axisMove(true, x, idx, out, l);
    },
    indexSelect(x, idx, out, l) {
      if (onHost(x)) return jsBackend.indexSelect(x, idx, out, l);
      axisMove(false, x, idx, out, l);
    },
    scatterAdd(src, idx, out, l) {
      if (onHost(src)) return jsBackend.scatterAdd(src, idx, out, l);
      axisAdd(true, false, src, idx, out, l);
    },
    scatterAddZeroed(src, idx, out, l) {
      if (onHost(src)) {
        jsBackend.fill(out, 0);
        return jsBackend.scatterAdd(src, idx, out, l);
      }
      axisAdd(true, true, src, idx, out, l);
    },
    indexAdd(src, idx, out, l) {
      if (onHost(src)) return jsBackend.indexAdd(src, idx, out, l);
      axisAdd(false, false, src, idx, out, l);
    },
    sgdStep(p, grad, bufIn, pOut, bufOut, h) {
      if (onHost(p)) return jsBackend.sgdStep!(p, grad, bufIn, pOut, bufOut, h);
      sgdStep(rt, gs(p), gs(grad), bufIn && gs(bufIn), gs(pOut), bufOut && gs(bufOut), h);
    },
    col2im(cols, out, l) {
      if (onHost(cols)) return col2imReference(cols, out, l);
      conv.col2im(gs(cols), gs(out), l);
    },
    windowArgmax(x, out, l) {
      if (onHost(x)) return windowArgmaxReference(x, out, l);
      conv.windowArgmax(gs(x), gs(out), l);
    },
    crossEntropyRows(x, target, out, rows, cols) {
      if (onHost(x)) return jsBackend.crossEntropyRows!(x, target, out, rows, cols);
      ce.rows(gs(x), gs(target), gs(out), rows, cols);
    },
    crossEntropyRowsGrad(x, target, g, out, rows, cols) {
      if (onHost(x)) return jsBackend.crossEntropyRowsGrad!(x, target, g, out, rows, cols);
      ce.grad(gs(x), gs(target), gs(g), gs(out), rows, cols);
    },
  };

  function axisMove(perElement: boolean, x: Storage, idx: Storage, out: Storage, l: AxisLayout): void {
    const t = gpuType(x.dtype);
    const n = l.outer * l.m * l.inner;
    run(`gather:${t}:${perElement}`, () => gatherWgsl(t, perElement), [n, l.n, l.inner, l.m], [gs(x).input(), gs(idx).input(), gs(out).output()], n);
  }
  function axisAdd(perElement: boolean, zeroed: boolean, src: Storage, idx: Storage, out: Storage, l: AxisLayout): void {
    const t = gpuType(src.dtype);
    const o = zeroed ? gs(out).output() : gs(out).inout();
    const bindings = [gs(src).input(), gs(idx).input(), o];
    if (scatterByRows(l.outer, l.n, l.inner, l.m)) {
      const rows = l.outer * l.inner;
      run(`scatterRows:${t}:${perElement}`, () => scatterRowsWgsl(t, perElement), [rows, l.n, l.inner, l.m, zeroed ? 1 : 0], bindings, rows);
    } else {
      const n = l.outer * l.n * l.inner;
      run(`scatter:${t}:${perElement}`, () => scatterWgsl(t, perElement), [n, l.n, l.inner, l.m, zeroed ? 1 : 0], bindings, n);
    }
  }
  return b;
}

function matmul(rt: GpuRuntime, a: GpuStorage, b: GpuStorage, out: GpuStorage, l: MatmulLayout): void {
  const { m, n, k, batch } = l;
  if (m * n * batch === 0) return;
  const [sam, sak] = l.transA ? [1, m] : [k, 1];
  const [sbk, sbn] = l.transB ? [1, k] : [n, 1];
  const g = { m, n, k, sam, sak, sbk, sbn };
  const groups = matmulGroups(m, n);
  rt.dispatch(
    `matmul:${m}:${n}:${k}:${l.transA}:${l.transB}`,
    () => matmulWgsl(g),
    [batch, ...l.aOffsets, ...l.bOffsets],
    [a.input(), b.input(), out.output()],
    [groups, Math.min(batch, 65535)],
  );
}

function sgdStep(rt: GpuRuntime, p: GpuStorage, g: GpuStorage, bufIn: GpuStorage | null, pOut: GpuStorage, bufOut: GpuStorage | null, h: SgdStepHyper): void {
  const momentum = h.momentum !== 0;
  if (momentum && (!bufOut || (!h.first && !bufIn))) throw new TypeError('sgdStep: momentum needs bufOut (and bufIn after the first step)');
  if (p.size === 0) return;
  const flags = (h.weightDecay !== 0 ? 1 : 0) | (momentum ? 2 : 0) | (h.first ? 4 : 0) | (h.nesterov ? 8 : 0) | (h.maximize ? 16 : 0);
  const params = [p.size, f32Bits(h.lr), f32Bits(h.momentum), f32Bits(1 - h.dampening), f32Bits(h.weightDecay), flags];
  const pIn = p.input(),
    gIn = g.input();
  // without a momentum buffer, small scratch buffers fill its slots (never read or written)
  const bi = momentum && !h.first ? bufIn!.input() : rt.scratchRead();
  const po = pOut.output();
  const bo = momentum ? bufOut!.output() : rt.scratch();
  rt.dispatch(`sgd:${flags}`, () => sgdWgsl(flags), params, [pIn, gIn, bi, po, bo], groupsFor(p.size));
}

export interface WebgpuOptions {
  /**
   * The GEMM kernel, instead of the adapter's default (tiled, except on CPU adapters such as
   * SwiftShader). In Node, the environment variable DESCENT_WEBGPU_GEMM=tiled|registers sets it too.
   */
  gemm?: GemmKernel;
}

/** Find a WebGPU device and make the backend on it (see device.ts for where the device comes from). */
export async function createWebgpuBackend(options: WebgpuOptions = {}): Promise<WebgpuBackend> {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const forced = parseGemmKernel(options.gemm ?? env?.DESCENT_WEBGPU_GEMM);
  const info = await requestDevice();
  const gemm = forced ?? gemmKernelFor(info.architecture, info.isFallback);
  const rt = new GpuRuntime(info.device, info.architecture);
  return makeBackend(rt, info.adapterName, gemm);
}
