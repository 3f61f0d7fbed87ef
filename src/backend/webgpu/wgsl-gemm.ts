/**
 * The GEMM for GPUs with fast workgroup memory (issue 16): each workgroup of 16 x 16 invocations
 * computes a 64 x 64 tile of one batch's output; K advances 16 at a time, each step staging a
 * 64 x 16 slice of A and a 16 x 64 slice of B in workgroup memory (one load per element per
 * workgroup instead of one per invocation), between two barriers. Each invocation keeps a 4 x 4
 * register block: rows ty + 16 r and columns tx + 16 c (r, c < 4), strided so that neighbouring
 * invocations read neighbouring words of the staged slices and write neighbouring outputs.
 *
 * The sizes and offsets are parameters, not constants, so there are four pipelines (one per
 * transpose layout) whatever the shapes: the staging loads are the only global reads, and they are
 * laid out per layout so that neighbouring invocations read neighbouring addresses. Staged entries
 * outside A or B are zeros; edge rows and columns are computed and not stored. Each output sums its
 * k products in order in float32 (the staged zeros past k add exact zeros), as the reference does.
 *
 * On SwiftShader (a CPU) the barriers cost more than the loads they save, so there the backend
 * keeps the barrier-free kernel of wgsl-reduce.ts (matmulWgsl); gemmKernelFor() chooses.
 */
import type { MatmulLayout } from '../backend.js';
import { isCpuAdapter } from './device.js';
import type { GpuRuntime } from './runtime.js';
import type { GpuStorage } from './storage.js';
import { HEADER } from './wgsl.js';

/** 'tiled': this file's workgroup-memory kernel; 'registers': the barrier-free one (matmulWgsl). */
export type GemmKernel = 'tiled' | 'registers';
export const GEMM_KERNELS: readonly GemmKernel[] = ['tiled', 'registers'];

/** Invocations per side of a workgroup; each computes a BLOCK x BLOCK block of the output. */
const SIDE = 16;
const BLOCK = 4;
/** The output tile of one workgroup (TILE x TILE) and the K step staged in workgroup memory. */
export const TILE = SIDE * BLOCK;
const BK = 16;
/** Row length of the staged slices: one word of padding, so that a column of 16 spans 16 banks. */
const ROW = TILE + 1;
/** Staged elements of each slice per invocation. */
const LOADS = (TILE * BK) / (SIDE * SIDE);

/**
 * WGSL that stages one slice: element e = li + q * 256 of the slice goes to S[kk * ROW + x] (x the
 * row of A or column of B within the tile). `contiguousK`: the operand's K index is its unit-stride
 * one (A as [m, k], B as [n, k]), so neighbouring invocations take neighbouring kk; else neighbouring x.
 */
function stage(name: 'A' | 'B', contiguousK: boolean, size: 'm' | 'n', origin: 'i0' | 'j0'): string {
  const [kk, x] = contiguousK ? [`e % ${BK}u`, `e / ${BK}u`] : [`e / ${TILE}u`, `e % ${TILE}u`];
  const at = contiguousK ? `(${origin} + x) * k + gk` : `gk * ${size} + ${origin} + x`;
  return `
      for (var q = 0u; q < ${LOADS}u; q++) {
        let e = li + q * ${SIDE * SIDE}u;
        let kk = ${kk}; let x = ${x}; let gk = k0 + kk;
        var v = 0.0;
        if (${origin} + x < ${size} && gk < k) { v = ${name}[${name.toLowerCase()}Off + ${at}]; }
        ${name}s[kk * ${ROW}u + x] = v;
      }`;
}

/** One K step of the register block: 4 values of A's column, 4 of B's row, 16 products added. */
function step(kk: string): string {
  const s = (name: string, base: string) =>
    `vec4<f32>(${Array.from({ length: BLOCK }, (_, r) => `${name}s[${kk} * ${ROW}u + ${base} + ${r * SIDE}u]`).join(', ')})`;
  const adds = Array.from({ length: BLOCK }, (_, r) => `acc${r} += av[${r}] * bv;`).join(' ');
  return `{ let av = ${s('A', 'ty')}; let bv = ${s('B', 'tx')}; ${adds} }`;
}

/** Row r of the register block into the output, the columns inside it (unrolled: no indexed registers). */
function store(r: number): string {
  const cols = Array.from({ length: BLOCK }, (_, c) => `if (jc${c} < n) { O[o + jc${c}] = acc${r}[${c}]; }`);
  return `if (i0 + ty + ${r * SIDE}u < m) { let o = outOff + (i0 + ty + ${r * SIDE}u) * n; ${cols.join(' ')} }`;
}

/**
 * The tiled GEMM for one transpose layout. P = [m, n, k, batch, tiles along n, aOffsets[batch],
 * bOffsets[batch]]; workgroup (x, y) computes tile x of batches y, y + groups.y, ... Barriers sit in
 * uniform control flow: every bound they depend on comes from P or the workgroup id.
 */
export function tiledMatmulWgsl(transA: boolean, transB: boolean): string {
  const rows = Array.from({ length: BLOCK }, (_, r) => r);
  return `${HEADER}
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> O: array<f32>;
var<workgroup> As: array<f32, ${BK * ROW}>;
var<workgroup> Bs: array<f32, ${BK * ROW}>;
@compute @workgroup_size(${SIDE}, ${SIDE})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let m = P[0]; let n = P[1]; let k = P[2]; let batch = P[3]; let tilesN = P[4];
  let i0 = (wg.x / tilesN) * ${TILE}u; let j0 = (wg.x % tilesN) * ${TILE}u;
  let tx = lid.x; let ty = lid.y;
  for (var bt = wg.y; bt < batch; bt += nw.y) {
    let aOff = P[5u + bt]; let bOff = P[5u + batch + bt];
    ${rows.map((r) => `var acc${r} = vec4<f32>(0.0);`).join(' ')}
    for (var k0 = 0u; k0 < k; k0 += ${BK}u) {${stage('A', !transA, 'm', 'i0')}${stage('B', transB, 'n', 'j0')}
      workgroupBarrier();
      for (var kk = 0u; kk < ${BK}u; kk++) ${step('kk')}
      workgroupBarrier();
    }
    let outOff = bt * m * n;
    ${rows.map((c) => `let jc${c} = j0 + tx + ${c * SIDE}u;`).join(' ')}
    ${rows.map(store).join('\n    ')}
  }
}`;
}

/** Encode out[b] = A[b] B[b] for every batch b with the tiled kernel. */
export function tiledMatmul(rt: GpuRuntime, a: GpuStorage, b: GpuStorage, out: GpuStorage, l: MatmulLayout): void {
  const { m, n, k, batch } = l;
  if (m * n * batch === 0) return;
  const tilesN = Math.ceil(n / TILE);
  rt.dispatch(
    `matmul-tiled:${l.transA}:${l.transB}`,
    () => tiledMatmulWgsl(l.transA, l.transB),
    [m, n, k, batch, tilesN, ...l.aOffsets, ...l.bOffsets],
    [a.input(), b.input(), out.output()],
    [Math.ceil(m / TILE) * tilesN, Math.min(batch, 65535)],
  );
}

/** The GEMM a user asked for (an option or DESCENT_WEBGPU_GEMM), checked; undefined when none was. */
export function parseGemmKernel(name: string | undefined): GemmKernel | undefined {
  if (name === undefined || name === '') return undefined;
  if (!(GEMM_KERNELS as readonly string[]).includes(name)) {
    throw new Error(`webgpu backend: unknown GEMM kernel '${name}' (expected ${GEMM_KERNELS.map((g) => `'${g}'`).join(' or ')})`);
  }
  return name as GemmKernel;
}

/** The default GEMM of an adapter: tiled, except on CPU adapters (SwiftShader, or any fallback adapter), where barriers are slow. */
export function gemmKernelFor(architecture: string, isFallback: boolean): GemmKernel {
  return isCpuAdapter(architecture, isFallback) ? 'registers' : 'tiled';
}
