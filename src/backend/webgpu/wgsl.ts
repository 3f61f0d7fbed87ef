/**
 * The WGSL sources of the webgpu backend's kernels, one function per kernel family, keyed by what
 * varies (op and element type). Every kernel reads its sizes and strides from binding 0 (`P`, an
 * array<u32> of parameters) and loops grid-stride over its outputs, so one pipeline serves every
 * shape. No kernel here uses workgroup memory or barriers: on SwiftShader (a CPU) a barrier costs
 * far more than the memory traffic it saves. Only the GEMM has a tiled variant for real GPUs
 * (wgsl-gemm.ts); the barrier-free one (wgsl-reduce.ts) gets its reuse from registers instead.
 *
 * Special values: SwiftShader's max/min drop NaN and `x != x` is folded away, so NaN is tested on
 * the bits (isNan) wherever a NaN must come through.
 */
import type { BinaryOp, UnaryOp } from '../backend.js';

export type GpuType = 'f32' | 'i32';

export const WG = 64;

export const HEADER = `
@group(0) @binding(0) var<storage, read> P: array<u32>;
fn isNan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
// (P[0] & 0u): NaN and Inf may not be constant expressions in WGSL, so they are made at run time
fn nanF() -> f32 { return bitcast<f32>(0x7fc00000u | (P[0] & 0u)); }
fn infF() -> f32 { return bitcast<f32>(0x7f800000u | (P[0] & 0u)); }
fn fp(i: u32) -> f32 { return bitcast<f32>(P[i]); }
`;

/** A grid-stride loop over n = P[0] outputs, with `body` run for each index i. */
export function loop(body: string): string {
  return `
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let n = P[0];
  let stride = nw.x * ${WG}u;
  for (var i = gid.x; i < n; i += stride) {
${body}
  }
}`;
}

/**
 * Offsets of strided operands, with the rank compiled in (one pipeline per rank): P = [n, rank,
 * shape[rank], strides of operand 0, 1, ..., base offsets of each operand]. The statements set
 * `o0`, `o1`, ... to each operand's element for output index i: the coordinates are found once
 * (one division per dimension but the outermost, none at rank 1) and shared by the operands.
 * A loop over a run-time rank with a division per dimension and operand cost SwiftShader 3-4x on
 * the MLP's bias add and ReLU backward (37 ms against 9 for a ReLU of the same size).
 */
function stridedOffsets(operands: number, rank: number): string {
  const shape = (d: number) => `P[${2 + d}]`;
  const stride = (k: number, d: number) => `P[${2 + rank * (k + 1) + d}]`;
  const base = (k: number) => `P[${2 + rank * (operands + 1) + k}]`;
  const lines: string[] = [];
  if (rank > 1) lines.push('var q = i;');
  for (let d = rank - 1; d >= 1; d--) lines.push(`let q${d} = q / ${shape(d)}; let c${d} = q - q${d} * ${shape(d)}; q = q${d};`);
  if (rank > 0) lines.push(rank > 1 ? 'let c0 = q;' : 'let c0 = i;');
  for (let k = 0; k < operands; k++) {
    const terms = Array.from({ length: rank }, (_, d) => ` + c${d} * ${stride(k, d)}`).join('');
    lines.push(`let o${k} = ${base(k)}${terms};`);
  }
  return lines.join(' ');
}

export function fillWgsl(t: GpuType): string {
  return `${HEADER}
@group(0) @binding(1) var<storage, read_write> O: array<${t}>;
${loop(`O[i] = bitcast<${t}>(P[1]);`)}`;
}

export function castWgsl(from: GpuType, to: GpuType): string {
  // float to int32 truncates toward zero (the reference's Math.trunc(x) | 0 for values in range)
  return `${HEADER}
@group(0) @binding(1) var<storage, read> X: array<${from}>;
@group(0) @binding(2) var<storage, read_write> O: array<${to}>;
${loop(`O[i] = ${to}(X[i]);`)}`;
}

const UNARY_F32: { [K in UnaryOp]: string } = {
  neg: '-x',
  exp: 'exp_(x)',
  log: 'log_(x)',
  log1p: 'log1p_(x)',
  sqrt: 'sqrt(x)',
  abs: 'abs(x)',
  sign: 'sign(x)',
  relu: 'select(max(x, 0.0), x, isNan(x))',
  sigmoid: 'sigmoid_(x)',
  tanh: 'tanh_(x)',
  erf: 'erf_(x)',
  sin: 'trig_(x, 0)',
  cos: 'trig_(x, 1)',
};

const MATH_F32 = `
fn exp_(x: f32) -> f32 {
  // exp(x) = 2^n exp(r), r = x - n ln 2 in two parts (Cody and Waite): the builtin's error grows with
  // |x|, so it only sees |r| <= ln(2)/2; 2^n is applied in two steps so that 2^128 is never formed
  let n = round(x * 1.4426950408889634);
  let r = (x - n * 0.693145751953125) - n * 1.428606765330187e-6;
  let e = exp(r);
  let k = i32(clamp(n, -300.0, 300.0));
  if (isNan(x)) { return x; }
  return ldexp(ldexp(e, k / 2), k - k / 2);
}
fn log1pSmall(f: f32) -> f32 {
  // log(1 + f) = 2 atanh(s), s = f / (2 + f), by its series (|f| < 0.5: |s| < 0.2): the builtin log
  // has an absolute error bound, far too coarse in relative terms near 1
  let s = f / (2.0 + f);
  let z = s * s;
  return 2.0 * s * (1.0 + z * (0.33333333333 + z * (0.2 + z * (0.14285714286 + z * (0.11111111111 + z * 0.09090909091)))));
}
fn log_(x: f32) -> f32 {
  if (x > 0.5 && x < 1.5) { return log1pSmall(x - 1.0); }
  return log(x);
}
fn log1p_(x: f32) -> f32 {
  if (abs(x) < 0.5) { return log1pSmall(x); }
  return log(1.0 + x);
}
fn tanh_(x: f32) -> f32 {
  // its Taylor series near 0 (the builtin's error there is absolute, not relative), else
  // 1 - 2 / (exp(2|x|) + 1) with |x| clamped to 15 (tanh(15) is 1 in float32; SwiftShader's own
  // tanh gives NaN from |x| >= 89)
  let a = abs(x);
  if (isNan(x)) { return x; }
  if (a < 0.5) {
    let z = x * x;
    return x * (1.0 + z * (-0.33333333333 + z * (0.13333333333 + z * (-0.053968253968 + z * (0.021869488536 + z * (-0.0088632355299 + z * (0.0035921280366 + z * (-0.0014558343870 + z * 0.00059002744094))))))));
  }
  let t = 1.0 - 2.0 / (exp_(2.0 * min(a, 15.0)) + 1.0);
  return select(t, -t, x < 0.0);
}
fn trig_(x: f32, shift: i32) -> f32 {
  // x = k pi/2 + r with pi/2 in three parts (Cody and Waite, as Cephes' sinf), so that the polynomials
  // work on |r| <= pi/4; cos x = sin(x + pi/2) is quadrant k + 1
  let k = round(x * 0.63661977236758134);
  let r = ((x - k * 1.5703125) - k * 4.837512969970703125e-4) - k * 7.54978995489188216e-8;
  let q = (i32(k) + shift) & 3;
  // Cephes' sinf and cosf polynomials on |r| <= pi/4 (SwiftShader's builtins are off by ~5e-5)
  let z = r * r;
  let sr = ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1) * z * r + r;
  let cr = ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2) * z * z - 0.5 * z + 1.0;
  let v = select(sr, cr, (q & 1) == 1);
  return select(v, -v, q >= 2);
}
fn sigmoid_(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp_(-x)); }
  let e = exp_(x);
  return select(e / (1.0 + e), x, isNan(x));
}
fn erf_(x: f32) -> f32 {
  if (isNan(x)) { return x; }
  let a = abs(x);
  if (a < 0.5) {
    // the Maclaurin series 2/sqrt(pi) * (x - x^3/3 + x^5/10 - x^7/42 + x^9/216 - x^11/1320 + x^13/9360)
    let z = x * x;
    return x * 1.1283791671 * (1.0 + z * (-0.33333333333 + z * (0.1 + z * (-0.0238095238 + z * (0.0046296296 + z * (-0.00075757576 + z * 0.00010683761))))));
  }
  if (a > 6.0) { return sign(x); }
  // erfc by Numerical Recipes' Chebyshev fit (relative error below 1.2e-7)
  let t = 1.0 / (1.0 + 0.5 * a);
  let y = t * exp_(-a * a - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return sign(x) * (1.0 - y);
}`;

export function unaryWgsl(op: UnaryOp): string {
  return `${HEADER}${MATH_F32}
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> O: array<f32>;
${loop(`let x = X[i]; O[i] = ${UNARY_F32[op]};`)}`;
}

const POW_F32 = `
fn pow_(a: f32, b: f32) -> f32 {
  // C's pow: 1^y = 1 and x^0 = 1 even for NaN; a negative base needs an integer exponent
  if (b == 0.0 || a == 1.0) { return 1.0; }
  if (isNan(a) || isNan(b)) { return nanF(); }
  let m = abs(a);
  if (m == 0.0) { return select(0.0, infF(), b < 0.0); }
  var r = exp2(b * log2(m));
  if (a < 0.0) {
    if (floor(b) != b) { return nanF(); }
    if (floor(b * 0.5) != b * 0.5) { r = -r; }
  }
  return r;
}
fn ipow_(a: i32, b: i32) -> i32 {
  if (b < 0) { return select(select(0, select(1, -1, (b & 1) == 1), a == -1), 1, a == 1); }
  var r = 1;
  for (var k = 0; k < b; k++) { r = r * a; }
  return r;
}`;

const BINARY_F32: { [K in BinaryOp]: string } = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'a / b',
  pow: 'pow_(a, b)',
  maximum: 'select(select(max(a, b), b, isNan(b)), a, isNan(a))',
  minimum: 'select(select(min(a, b), b, isNan(b)), a, isNan(a))',
  eq: 'select(0.0, 1.0, a == b)',
  ne: 'select(1.0, 0.0, a == b)',
  lt: 'select(0.0, 1.0, a < b)',
  le: 'select(0.0, 1.0, a <= b)',
  gt: 'select(0.0, 1.0, a > b)',
  ge: 'select(0.0, 1.0, a >= b)',
  reluBackward: 'select(a, 0.0, b <= 0.0)',
};

const BINARY_I32: { [K in BinaryOp]: string } = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  // the reference divides in float64 and truncates; x / 0 is +-Infinity or NaN there, 0 as int32
  div: 'select(a / b, 0, b == 0)',
  pow: 'ipow_(a, b)',
  maximum: 'max(a, b)',
  minimum: 'min(a, b)',
  eq: 'select(0, 1, a == b)',
  ne: 'select(0, 1, a != b)',
  lt: 'select(0, 1, a < b)',
  le: 'select(0, 1, a <= b)',
  gt: 'select(0, 1, a > b)',
  ge: 'select(0, 1, a >= b)',
  reluBackward: 'select(a, 0, b <= 0)',
};

/** `rank`: of the merged shape (stridedParams), compiled in. */
export function binaryWgsl(op: BinaryOp, t: GpuType, rank: number): string {
  const expr = t === 'f32' ? BINARY_F32[op] : BINARY_I32[op];
  return `${HEADER}${POW_F32}
@group(0) @binding(1) var<storage, read> A: array<${t}>;
@group(0) @binding(2) var<storage, read> B: array<${t}>;
@group(0) @binding(3) var<storage, read_write> O: array<${t}>;
${loop(`${stridedOffsets(2, rank)} let a = A[o0]; let b = B[o1]; O[i] = ${expr};`)}`;
}

export function whereWgsl(ct: GpuType, t: GpuType, rank: number): string {
  return `${HEADER}
@group(0) @binding(1) var<storage, read> C: array<${ct}>;
@group(0) @binding(2) var<storage, read> A: array<${t}>;
@group(0) @binding(3) var<storage, read> B: array<${t}>;
@group(0) @binding(4) var<storage, read_write> O: array<${t}>;
${loop(`${stridedOffsets(3, rank)} let c = C[o0]; O[i] = select(B[o2], A[o1], c != ${ct === 'f32' ? '0.0' : '0'} || ${ct === 'f32' ? 'isNan(c)' : 'false'});`)}`;
}

/** Strided copy: operand 0 the source, operand 1 the destination (both with base offsets). */
export function copyWgsl(t: GpuType, rank: number): string {
  return `${HEADER}
@group(0) @binding(1) var<storage, read> S: array<${t}>;
@group(0) @binding(2) var<storage, read_write> D: array<${t}>;
${loop(`${stridedOffsets(2, rank)} D[o1] = S[o0];`)}`;
}
