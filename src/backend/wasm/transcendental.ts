/**
 * exp, sigmoid and tanh of float32 tensors in WebAssembly SIMD. Each float32 lane is widened to
 * float64, the function is evaluated there to about 1e-14 relative error, and the result is
 * rounded once to float32. The reference backend also evaluates in float64 (Math.exp) and rounds
 * once, so the two agree bit for bit except when the exact value lies within ~1e-14 (relative)
 * of a rounding boundary between two float32 numbers — then they may differ by one ulp.
 *
 * exp(x): n = round(x / ln 2), r = x - n ln 2 (ln 2 split in two parts, so r is exact to
 * double precision), |r| <= ln(2)/2; e^r by its Taylor polynomial to degree 12 (remainder
 * 0.35^13/13! < 1e-15), and 2^n put straight into the exponent bits: ((n + 1023) << 52).
 * x is first clamped to [-104, 89], outside of which the float32 result is 0 or +Infinity anyway.
 * sigmoid(x) = 1/(1 + e) for x >= 0 and e/(1 + e) otherwise, with e = exp(-|x|) <= 1, as the
 * reference does (no overflow). tanh(x) = sign(x) (1 - e)/(1 + e) with e = exp(-2|x|); below
 * |x| = 0.01, where 1 - e would cancel, its odd Taylor series to x^9 (error < 1e-22 |x|).
 */
import type { Func, Local, ModuleBuilder } from './asm.js';

export const SIMD_TRANSCENDENTAL = ['exp', 'sigmoid', 'tanh'] as const;
export type SimdTranscendental = (typeof SIMD_TRANSCENDENTAL)[number];

const LN2_HI = 0.6931471803691238; // 32 significant bits: n * LN2_HI is exact for |n| < 2^21
const LN2_LO = 1.9082149292705877e-10;
const MAGIC = 6755399441055744; // 1.5 * 2^52: adding it leaves round(n) in the low mantissa bits

interface Tmp { r: Local; p: Local; n: Local }

/** Push exp(x) for the f64x2 in local x. */
function expF64(f: Func, x: Local, t: Tmp): void {
  // n = nearest(x log2 e) of the clamped x, kept in x
  f.get(x).v128_const_f64(-104).f64x2_max().v128_const_f64(89).f64x2_min().set(x);
  f.get(x).v128_const_f64(Math.LOG2E).f64x2_mul().f64x2_nearest().set(t.n);
  f.get(x).get(t.n).v128_const_f64(LN2_HI).f64x2_mul().f64x2_sub().get(t.n).v128_const_f64(LN2_LO).f64x2_mul().f64x2_sub().set(t.r);
  // Horner: p = 1 + r(1 + r/2(1 + r/3(...(1 + r/12))))
  f.v128_const_f64(1).set(t.p);
  for (let i = 12; i >= 1; i--) f.get(t.p).get(t.r).f64x2_mul().v128_const_f64(1 / i).f64x2_mul().v128_const_f64(1).f64x2_add().set(t.p);
  // 2^n from the bits of n + MAGIC
  f.get(t.p);
  f.get(t.n).v128_const_f64(MAGIC).f64x2_add().v128_const_f64(MAGIC).i64x2_sub(); // n as int64
  f.i32(52).i64x2_shl().v128_const_f64(1).i64x2_add(); // (n << 52) + bits of 1.0 (1023 << 52)
  f.f64x2_mul();
}

/** Push f(x) for the f64x2 in local x (x may be overwritten). */
function evalF64(f: Func, op: SimdTranscendental, x: Local, t: Tmp, e: Local, s: Local): void {
  if (op === 'exp') return expF64(f, x, t);
  // keep x; e = exp(-k|x|)
  f.get(x).set(s);
  f.get(x).f64x2_abs().v128_const_f64(op === 'tanh' ? -2 : -1).f64x2_mul().set(x);
  expF64(f, x, t);
  f.set(e);
  if (op === 'sigmoid') {
    f.v128_const_f64(1).get(e).v128_const_f64(1).f64x2_add().f64x2_div(); // 1/(1+e)
    f.get(e).get(e).v128_const_f64(1).f64x2_add().f64x2_div(); // e/(1+e)
    f.get(s).v128_const_f64(0).f64x2_ge().v128_bitselect();
    return;
  }
  // |tanh x| = (1-e)/(1+e), then the sign of x; the series below 0.01
  f.v128_const_f64(1).get(e).f64x2_sub().get(e).v128_const_f64(1).f64x2_add().f64x2_div().set(e);
  f.get(e).f64x2_neg().get(e).get(s).v128_const_f64(0).f64x2_lt().v128_bitselect().set(e);
  // x - x^3/3 + 2x^5/15 - 17x^7/315 + 62x^9/2835 = x (1 + x2 (-1/3 + x2 (2/15 + x2 (-17/315 + x2 62/2835))))
  f.get(s).get(s).f64x2_mul().set(t.r);
  f.v128_const_f64(62 / 2835).set(t.p);
  for (const c of [-17 / 315, 2 / 15, -1 / 3, 1]) f.get(t.p).get(t.r).f64x2_mul().v128_const_f64(c).f64x2_add().set(t.p);
  f.get(t.p).get(s).f64x2_mul();
  f.get(e);
  f.get(s).f64x2_abs().v128_const_f64(0.01).f64x2_lt();
  f.v128_bitselect();
}

const HIGH_TO_LOW = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7];
const JOIN_LOW = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];

/** Emits un_<op>(x, out, n) over contiguous float32. */
export function emitTranscendental(mod: ModuleBuilder, op: SimdTranscendental): Func {
  return mod.func(`un_${op}`, ['i32', 'i32', 'i32'], [], (f, x, out, n) => {
    const j = f.local('i32'), vecEnd = f.local('i32');
    const v = f.local('v128'), a = f.local('v128'), lo = f.local('v128'), e = f.local('v128'), s = f.local('v128');
    const t = { r: f.local('v128'), p: f.local('v128'), n: f.local('v128') };
    f.get(n).i32(-4).i32_and().set(vecEnd);
    f.for_(j, () => f.i32(0), () => f.get(vecEnd), 4, () => {
      f.get(x).get(j).i32(4).i32_mul().i32_add().v128_load().set(v);
      f.get(v).f64x2_promote_low_f32x4().set(a);
      evalF64(f, op, a, t, e, s);
      f.f32x4_demote_f64x2_zero().set(lo);
      f.get(v).get(v).i8x16_shuffle(HIGH_TO_LOW).f64x2_promote_low_f32x4().set(a);
      evalF64(f, op, a, t, e, s);
      f.f32x4_demote_f64x2_zero().set(v);
      f.get(out).get(j).i32(4).i32_mul().i32_add();
      f.get(lo).get(v).i8x16_shuffle(JOIN_LOW).v128_store();
    });
    // the tail, one element at a time through the same vector code
    f.for_(j, () => f.get(vecEnd), () => f.get(n), 1, () => {
      f.get(x).get(j).i32(4).i32_mul().i32_add().f32_load().f32x4_splat().f64x2_promote_low_f32x4().set(a);
      f.get(out).get(j).i32(4).i32_mul().i32_add();
      evalF64(f, op, a, t, e, s);
      f.f32x4_demote_f64x2_zero().f32x4_extract_lane(0).f32_store();
    });
  });
}
