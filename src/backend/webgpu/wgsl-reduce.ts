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
/** Each invocation computes a BLOCK x BLOCK block of the output. */
export const BLOCK = 8;

/**
 * The workgroup is a grid x grid grid of blocks: 16 x 16 where the output has at least 16 such
 * workgroups' worth of blocks, else 8 x 8, so that a small GEMM (n = 256: 4 big workgroups) still
 * spreads over SwiftShader's threads (measured there: n = 256 1.8 -> 2.6 GFLOP/s with 8 x 8).
 */
export function matmulGrid(m: number, n: number): number {
  return Math.ceil(m / BLOCK) * Math.ceil(n / BLOCK) >= 16 * 256 ? 16 : 8;
}

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

/** Workgroups of matmulWgsl for an m x n output (per batch). */
export function matmulGroups(m: number, n: number): number {
  const grid = matmulGrid(m, n);
  return Math.ceil(m / (BLOCK * grid)) * Math.ceil(n / (BLOCK * grid));
}

/**
 * The GEMM, barrier-free and register-blocked: each invocation computes an 8x8 block of one batch's
 * output from global memory, K unrolled by 2, with the sizes and strides as constants, so that one
 * kernel serves every transpose layout and the compiler sees fixed address steps. The invocations
 * of a workgroup cover grid x grid blocks (matmulGrid: a 128x128 or 64x64 output tile), so that
 * they share rows of A and columns of B in cache. P = [batch, aOffsets[batch], bOffsets[batch]]. Edge blocks load
 * clamped rows and columns and store only the real ones.
 *
 * Why 8x8: on SwiftShader (where this kernel runs; real GPUs take the tiled one) every storage
 * load is a per-lane gather with a bounds check, so loads, not multiply-adds, set the rate: an 8x8
 * block does 16 loads per 64 products where a 4x4 one did 8 per 16. Measured on SwiftShader (2
 * Zen 4 cores): n = 1024 2.2 -> 2.9 GFLOP/s, the MLP's 1024x512x784 NT 2.1 -> 2.6; 8x4 and 4x8
 * blocks gained little, 2x4 lost 40%. Each output still sums its k products in order in float32.
 */
export function matmulWgsl(g: GemmShape): string {
  const idx = Array.from({ length: BLOCK }, (_, r) => r);
  const quads = [0, 1];
  const stepK = (kk: string, u: number) =>
    idx.map((r) => `let a${r}_${u} = A[ar${r} + (${kk}) * sak];`).join(' ') +
    quads.map((q) => ` let b${q}_${u} = vec4<f32>(${[0, 1, 2, 3].map((c) => `B[bc${4 * q + c} + (${kk}) * sbk]`).join(', ')});`).join('') +
    idx.map((r) => quads.map((q) => ` acc${r}_${q} += a${r}_${u} * b${q}_${u};`).join('')).join('');
  const store = (r: number) =>
    `if (i0 + ${r}u < m) { let o = outOff + (i0 + ${r}u) * n + j0; ` +
    idx.map((c) => `if (j0 + ${c}u < n) { O[o + ${c}u] = acc${r}_${c >> 2}[${c & 3}]; }`).join(' ') +
    ' }';
  const tm = Math.ceil(g.m / BLOCK),
    tn = Math.ceil(g.n / BLOCK),
    grid = matmulGrid(g.m, g.n);
  return `${HEADER}
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> O: array<f32>;
const m = ${g.m}u; const n = ${g.n}u; const k = ${g.k}u;
const sam = ${g.sam}u; const sak = ${g.sak}u; const sbk = ${g.sbk}u; const sbn = ${g.sbn}u;
const tm = ${tm}u; const tn = ${tn}u; const tbn = ${Math.ceil(tn / grid)}u;
@compute @workgroup_size(${grid * grid})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let batch = P[0];
  let blk = gid.x / ${grid * grid}u; let local = gid.x % ${grid * grid}u;
  let ti = (blk / tbn) * ${grid}u + local / ${grid}u; let tj = (blk % tbn) * ${grid}u + local % ${grid}u;
  if (ti >= tm || tj >= tn) { return; }
  let i0 = ti * ${BLOCK}u; let j0 = tj * ${BLOCK}u;
  for (var bt = gid.y; bt < batch; bt += nw.y) {
    let aOff = P[1u + bt]; let bOff = P[1u + batch + bt];
    ${idx.map((r) => `let ar${r} = aOff + min(i0 + ${r}u, m - 1u) * sam;`).join(' ')}
    ${idx.map((c) => `let bc${c} = bOff + min(j0 + ${c}u, n - 1u) * sbn;`).join(' ')}
    ${idx.map((r) => quads.map((q) => `var acc${r}_${q} = vec4<f32>(0.0);`).join(' ')).join(' ')}
    let k2 = k & ~1u;
    for (var kk = 0u; kk < k2; kk += 2u) {
      ${stepK('kk', 0)} ${stepK('kk + 1u', 1)}
    }
    if (k2 < k) { ${stepK('k2', 0)} }
    let outOff = bt * m * n;
    ${idx.map(store).join('\n    ')}
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

/** The bindings both scatter-adds read: source S, indices I, output O. */
const scatterHeader = (t: GpuType): string => `${HEADER}
@group(0) @binding(1) var<storage, read> S: array<${t}>;
@group(0) @binding(2) var<storage, read> I: array<i32>;
@group(0) @binding(3) var<storage, read_write> O: array<${t}>;`;

/**
 * P = [outer*n*inner, n, inner, m, zeroed]: each output (o, t, i) adds, in order of j, the source
 * entries whose index is t (no float atomics in WGSL: the owner of each output sums its own). Each
 * invocation reads all m indices of its row: outer*n*inner*m reads in all, cheap when m is small.
 */
export function scatterWgsl(t: GpuType, perElement: boolean): string {
  const z = t === 'f32' ? '0.0' : '0';
  return `${scatterHeader(t)}
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
 * The same scatter-add, one invocation per row (o, i) instead of per output: P = [outer*inner, n,
 * inner, m, zeroed]. It zeroes its row's n outputs when asked, then walks j in order and adds
 * S[o, j, i] to O[o, I, i]: m + n steps per row instead of n*m, every output summed in the
 * reference's order (the same bits), at the cost of less parallelism (outer*inner invocations).
 * Max pooling's backward (m windows scattered into n = H*W positions per plane) is its case.
 */
export function scatterRowsWgsl(t: GpuType, perElement: boolean): string {
  const z = t === 'f32' ? '0.0' : '0';
  return `${scatterHeader(t)}
${loop(`
    let nn = P[1]; let inner = P[2]; let m = P[3];
    let o = i / inner; let ii = i % inner;
    if (P[4] == 1u) { for (var t = 0u; t < nn; t++) { O[(o * nn + t) * inner + ii] = ${z}; } }
    for (var j = 0u; j < m; j++) {
      let src = (o * m + j) * inner + ii;
      let at = (o * nn + u32(I[${perElement ? 'src' : 'j'}])) * inner + ii;
      O[at] = O[at] + S[src];
    }`)}`;
}

/**
 * Which scatter-add kernel: the estimated steps of the longest invocation chain, with `lanes`
 * invocations running at once (a few thousand covers SwiftShader's and a GPU's occupancy alike):
 * per output, ceil(outputs / lanes) waves of m steps; per row, ceil(rows / lanes) waves of m + n.
 */
export function scatterByRows(outer: number, n: number, inner: number, m: number, lanes = 4096): boolean {
  const perOutput = Math.ceil((outer * n * inner) / lanes) * m;
  const perRow = Math.ceil((outer * inner) / lanes) * (m + n);
  return perRow < perOutput;
}

/**
 * P = [n, lr, momentum, keep = 1 - dampening, weightDecay (f32 bits), flags]: flags bit 0 weight
 * decay, 1 momentum, 2 first, 3 nesterov, 4 maximize, compiled in (one pipeline per combination,
 * so the branches fold away). The operations of the reference, in order.
 */
export function sgdWgsl(flags: number): string {
  return `${HEADER}
@group(0) @binding(1) var<storage, read> Pm: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read> Bi: array<f32>;
@group(0) @binding(4) var<storage, read_write> Po: array<f32>;
@group(0) @binding(5) var<storage, read_write> Bo: array<f32>;
${loop(`
    let lr = fp(1u); let mu = fp(2u); let keep = fp(3u); let wd = fp(4u); let fl = ${flags}u;
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
