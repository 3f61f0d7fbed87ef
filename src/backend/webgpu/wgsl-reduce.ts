/**
 * WGSL of the kernels that sum or search: reductions, argmax/argmin, the GEMM, the axis kernels
 * (gather, scatter-add, index-select, index-add), the fused SGD step and softmax cross-entropy.
 * Sums run in order in float32, within the contract's bound 2 * terms * eps * sum |term|.
 */
import type { ArgReduceOp, ReduceOp } from '../backend.js';
import type { GpuType } from './wgsl.js';
import { HEADER, loop } from './wgsl.js';

/**
 * P = [nOut, count, rk, rr, keptShape[rk], keptStrides[rk], redShape[rr], redStrides[rr]]: output
 * o starts at the kept dims' offset and walks `count` elements over the reduced dims.
 */
export function reduceWgsl(op: ReduceOp, t: GpuType): string {
  const f = t === 'f32';
  const init = op === 'sum' ? (f ? '0.0' : '0') : f ? (op === 'max' ? '-infF()' : 'infF()') : op === 'max' ? 'i32(-2147483647 - 1)' : '2147483647';
  const step = op === 'sum' ? 'acc = acc + v;' : f ? `if (isNan(v)) { acc = v; break; } acc = ${op}(acc, v);` : `acc = ${op}(acc, v);`;
  return `${HEADER}
@group(0) @binding(1) var<storage, read> X: array<${t}>;
@group(0) @binding(2) var<storage, read_write> O: array<${t}>;
${loop(`
    let count = P[1]; let rk = P[2]; let rr = P[3];
    var rem = i; var base = 0u;
    for (var d = rk; d > 0u; d--) { let s = P[3u + d]; base += (rem % s) * P[3u + rk + d]; rem = rem / s; }
    let rs = 4u + 2u * rk;
    var acc: ${t} = ${init};
    for (var r = 0u; r < count; r++) {
      var q = r; var o = base;
      for (var d = rr; d > 0u; d--) { let s = P[rs + d - 1u]; o += (q % s) * P[rs + rr + d - 1u]; q = q / s; }
      let v = X[o];
      ${step}
    }
    O[i] = acc;`)}`;
}

/** P = [outer * inner, n, inner]: the first largest (smallest) along the middle axis; a NaN wins. */
export function argReduceWgsl(op: ArgReduceOp): string {
  const better = op === 'argmax' ? 'v > best' : 'v < best';
  return `${HEADER}
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> O: array<i32>;
${loop(`
    let n = P[1]; let inner = P[2];
    let base = (i / inner) * n * inner + i % inner;
    var best = X[base]; var at = 0u;
    if (!isNan(best)) {
      for (var j = 1u; j < n; j++) {
        let v = X[base + j * inner];
        if (isNan(v)) { at = j; break; }
        if (${better}) { best = v; at = j; }
      }
    }
    O[i] = i32(at);`)}`;
}

/** A GEMM's sizes and strides, compiled into its pipeline as constants (one pipeline per shape class). */
/** The workgroup is a GRID x GRID grid of 4x4 blocks. */
export const GRID = 16;

export interface GemmShape {
  m: number;
  n: number;
  k: number;
  /** A[i, kk] = A[aOff + i*sam + kk*sak]; B[kk, j] = B[bOff + kk*sbk + j*sbn]. */
  sam: number;
  sak: number;
  sbk: number;
  sbn: number;
}

/**
 * The GEMM, barrier-free and register-blocked: each invocation computes a 4x4 block of one batch's
 * output from global memory, K unrolled by 4 (as jax-js's WebGPU matmul), with the sizes and
 * strides as constants, so that one kernel serves every transpose layout and the compiler sees
 * fixed address steps. The 64 invocations of a workgroup cover 8x8 blocks (a 32x32 output tile),
 * so that they share rows of A and columns of B in cache. P = [batch, aOffsets[batch],
 * bOffsets[batch]]. Edge blocks load clamped rows and columns and store only the real ones.
 */
export function matmulWgsl(g: GemmShape): string {
  const rows = [0, 1, 2, 3];
  const stepK = (kk: string, u: number) =>
    rows.map((r) => `let a${r}_${u} = A[ar${r} + (${kk}) * sak];`).join(' ') +
    ` let b_${u} = vec4<f32>(${rows.map((c) => `B[bc${c} + (${kk}) * sbk]`).join(', ')}); ` +
    rows.map((r) => `acc${r} += a${r}_${u} * b_${u};`).join(' ');
  const tm = Math.ceil(g.m / 4),
    tn = Math.ceil(g.n / 4);
  return `${HEADER}
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> O: array<f32>;
const m = ${g.m}u; const n = ${g.n}u; const k = ${g.k}u;
const sam = ${g.sam}u; const sak = ${g.sak}u; const sbk = ${g.sbk}u; const sbn = ${g.sbn}u;
const tm = ${tm}u; const tn = ${tn}u; const tbn = ${Math.ceil(tn / GRID)}u;
@compute @workgroup_size(${GRID * GRID})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let batch = P[0];
  let blk = gid.x / ${GRID * GRID}u; let local = gid.x % ${GRID * GRID}u;
  let ti = (blk / tbn) * ${GRID}u + local / ${GRID}u; let tj = (blk % tbn) * ${GRID}u + local % ${GRID}u;
  if (ti >= tm || tj >= tn) { return; }
  let i0 = ti * 4u; let j0 = tj * 4u;
  for (var bt = gid.y; bt < batch; bt += nw.y) {
    let aOff = P[1u + bt]; let bOff = P[1u + batch + bt];
    ${rows.map((r) => `let ar${r} = aOff + min(i0 + ${r}u, m - 1u) * sam;`).join(' ')}
    ${rows.map((c) => `let bc${c} = bOff + min(j0 + ${c}u, n - 1u) * sbn;`).join(' ')}
    var acc0 = vec4<f32>(0.0); var acc1 = vec4<f32>(0.0); var acc2 = vec4<f32>(0.0); var acc3 = vec4<f32>(0.0);
    let k4 = k & ~3u;
    for (var kk = 0u; kk < k4; kk += 4u) {
      ${stepK('kk', 0)} ${stepK('kk + 1u', 1)} ${stepK('kk + 2u', 2)} ${stepK('kk + 3u', 3)}
    }
    for (var kk = k4; kk < k; kk++) { ${stepK('kk', 0)} }
    let outOff = bt * m * n;
    let accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    for (var r = 0u; r < 4u; r++) {
      let i = i0 + r;
      if (i < m) {
        for (var c = 0u; c < 4u; c++) { if (j0 + c < n) { O[outOff + i * n + j0 + c] = accs[r][c]; } }
      }
    }
  }
}`;
}

/** P = [outer*m*inner, n, inner, m]: gather (per-element indices) or indexSelect (one per j). */
export function gatherWgsl(t: GpuType, perElement: boolean): string {
  return `${HEADER}
@group(0) @binding(1) var<storage, read> X: array<${t}>;
@group(0) @binding(2) var<storage, read> I: array<i32>;
@group(0) @binding(3) var<storage, read_write> O: array<${t}>;
${loop(`
    let nn = P[1]; let inner = P[2]; let m = P[3];
    let o = i / (m * inner); let j = (i / inner) % m; let ii = i % inner;
    let at = u32(I[${perElement ? 'i' : 'j'}]);
    O[i] = X[(o * nn + at) * inner + ii];`)}`;
}

/**
 * P = [outer*n*inner, n, inner, m, zeroed]: each output (o, t, i) adds, in order of j, the source
 * entries whose index is t (no float atomics in WGSL: the owner of each output sums its own).
 */
export function scatterWgsl(t: GpuType, perElement: boolean): string {
  const z = t === 'f32' ? '0.0' : '0';
  return `${HEADER}
@group(0) @binding(1) var<storage, read> S: array<${t}>;
@group(0) @binding(2) var<storage, read> I: array<i32>;
@group(0) @binding(3) var<storage, read_write> O: array<${t}>;
${loop(`
    let nn = P[1]; let inner = P[2]; let m = P[3];
    let o = i / (nn * inner); let tt = i32((i / inner) % nn); let ii = i % inner;
    var acc = select(O[i], ${z}, P[4] == 1u);
    for (var j = 0u; j < m; j++) {
      let src = (o * m + j) * inner + ii;
      if (I[${perElement ? 'src' : 'j'}] == tt) { acc = acc + S[src]; }
    }
    O[i] = acc;`)}`;
}

/**
 * P = [n, lr, momentum, keep = 1 - dampening, weightDecay (f32 bits), flags]: flags bit 0 weight
 * decay, 1 momentum, 2 first, 3 nesterov, 4 maximize. The operations of the reference, in order.
 */
export function sgdWgsl(): string {
  return `${HEADER}
@group(0) @binding(1) var<storage, read> Pm: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read> Bi: array<f32>;
@group(0) @binding(4) var<storage, read_write> Po: array<f32>;
@group(0) @binding(5) var<storage, read_write> Bo: array<f32>;
${loop(`
    let lr = fp(1u); let mu = fp(2u); let keep = fp(3u); let wd = fp(4u); let fl = P[5];
    let x = Pm[i];
    var g = select(G[i], -G[i], (fl & 16u) != 0u);
    if ((fl & 1u) != 0u) { let d = x * wd; g = g + d; }
    if ((fl & 2u) != 0u) {
      var b = g;
      if ((fl & 4u) == 0u) { let u = Bi[i] * mu; let v = g * keep; b = u + v; }
      Bo[i] = b;
      if ((fl & 8u) != 0u) { let w = b * mu; g = g + w; } else { g = b; }
    }
    let step = g * lr;
    Po[i] = x - step;`)}`;
}
