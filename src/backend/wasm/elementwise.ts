/**
 * float32 elementwise kernels in WebAssembly SIMD: four lanes per step, then a scalar tail. Each
 * kernel reproduces the reference backend's definition exactly (same IEEE operations, same NaN and
 * comparison rules), so results are bit-identical to the js backend's float32 results.
 *
 * Binary kernels work on a 2-D view [rows, cols] of the broadcast output: each operand advances by
 * its own row step (bytes; 0 repeats a row) and is read along the row either elementwise ('v') or
 * as one repeated scalar ('s'). This covers same-shape operands, a scalar operand, a row vector
 * ([N, C] + [C]) and a column vector ([N, C] + [N, 1]).
 */
import type { BinaryOp, UnaryOp } from '../backend.js';
import type { Func, Local, ModuleBuilder } from './asm.js';

/** The binary ops with a SIMD kernel; pow goes to the reference loop. */
export const SIMD_BINARY = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'reluBackward'] as const satisfies readonly BinaryOp[];
export type SimdBinary = (typeof SIMD_BINARY)[number];
export const SIMD_UNARY = ['neg', 'abs', 'sqrt', 'relu', 'sign'] as const satisfies readonly UnaryOp[];
export type SimdUnary = (typeof SIMD_UNARY)[number];
export type ReadPattern = 'vv' | 'vs' | 'sv';

/** Push op(a, b) for two v128 locals. */
function vecBinary(f: Func, op: SimdBinary, a: Local, b: Local): void {
  const cmp = (emit: () => void): void => { f.get(a).get(b); emit(); f.v128_const_f32(1).v128_and(); };
  switch (op) {
    case 'add': f.get(a).get(b).f32x4_add(); return;
    case 'sub': f.get(a).get(b).f32x4_sub(); return;
    case 'mul': f.get(a).get(b).f32x4_mul(); return;
    case 'div': f.get(a).get(b).f32x4_div(); return;
    case 'maximum':
    case 'minimum':
      // (a > b ? a : b), then NaN if either is NaN (a + b is NaN exactly then), as the reference
      f.get(a).get(b).f32x4_add();
      f.get(a).get(b).get(a).get(b);
      if (op === 'maximum') f.f32x4_gt(); else f.f32x4_lt();
      f.v128_bitselect();
      f.get(a).get(a).f32x4_ne().get(b).get(b).f32x4_ne().v128_or();
      f.v128_bitselect();
      return;
    case 'eq': return cmp(() => f.f32x4_eq());
    case 'ne': return cmp(() => f.f32x4_ne());
    case 'lt': return cmp(() => f.f32x4_lt());
    case 'le': return cmp(() => f.f32x4_le());
    case 'gt': return cmp(() => f.f32x4_gt());
    case 'ge': return cmp(() => f.f32x4_ge());
    // a's bits except where b <= 0 (all-ones lanes there): +0; a NaN b compares false and keeps a
    case 'reluBackward': f.get(a).get(b).v128_const_f32(0).f32x4_le().v128_andnot(); return;
  }
}

/** Push op(a, b) for two f32 locals (the scalar tail). */
function scalarBinary(f: Func, op: SimdBinary, a: Local, b: Local): void {
  const cmp = (emit: () => void): void => { f.f32(1).f32(0).get(a).get(b); emit(); f.select(); };
  switch (op) {
    case 'add': f.get(a).get(b).f32_add(); return;
    case 'sub': f.get(a).get(b).f32_sub(); return;
    case 'mul': f.get(a).get(b).f32_mul(); return;
    case 'div': f.get(a).get(b).f32_div(); return;
    case 'maximum':
    case 'minimum':
      f.get(a).get(b).f32_add();
      f.get(a).get(b).get(a).get(b);
      if (op === 'maximum') f.f32_gt(); else f.f32_lt();
      f.select();
      f.get(a).get(a).f32_ne().get(b).get(b).f32_ne().i32_or();
      f.select();
      return;
    case 'eq': return cmp(() => f.f32_eq());
    case 'ne': return cmp(() => f.f32_ne());
    case 'lt': return cmp(() => f.f32_lt());
    case 'le': return cmp(() => f.f32_le());
    case 'gt': return cmp(() => f.f32_gt());
    case 'ge': return cmp(() => f.f32_ge());
    case 'reluBackward': f.f32(0).get(a).get(b).f32(0).f32_le().select(); return;
  }
}

/** Emits bin_<op>_<pattern>(a, aRow, b, bRow, out, rows, cols); out is contiguous [rows, cols]. */
export function emitBinary(mod: ModuleBuilder, op: SimdBinary, pat: ReadPattern): Func {
  return mod.func(`bin_${op}_${pat}`, Array(7).fill('i32'), [], (f, a, aRow, b, bRow, out, rows, cols) => {
    const r = f.local('i32'), j = f.local('i32'), pa = f.local('i32'), pb = f.local('i32'), vecEnd = f.local('i32');
    const va = f.local('v128'), vb = f.local('v128'), sa = f.local('f32'), sb = f.local('f32');
    const aVec = pat !== 'sv', bVec = pat !== 'vs';
    f.get(cols).i32(-4).i32_and().set(vecEnd);
    f.for_(r, () => f.i32(0), () => f.get(rows), 1, () => {
      f.get(a).get(r).get(aRow).i32_mul().i32_add().set(pa);
      f.get(b).get(r).get(bRow).i32_mul().i32_add().set(pb);
      if (!aVec) { f.get(pa).f32_load().tee(sa).f32x4_splat().set(va); }
      if (!bVec) { f.get(pb).f32_load().tee(sb).f32x4_splat().set(vb); }
      f.for_(j, () => f.i32(0), () => f.get(vecEnd), 4, () => {
        if (aVec) f.get(pa).get(j).i32(4).i32_mul().i32_add().v128_load().set(va);
        if (bVec) f.get(pb).get(j).i32(4).i32_mul().i32_add().v128_load().set(vb);
        f.get(out).get(j).i32(4).i32_mul().i32_add();
        vecBinary(f, op, va, vb);
        f.v128_store();
      });
      f.for_(j, () => f.get(vecEnd), () => f.get(cols), 1, () => {
        if (aVec) f.get(pa).get(j).i32(4).i32_mul().i32_add().f32_load().set(sa);
        if (bVec) f.get(pb).get(j).i32(4).i32_mul().i32_add().f32_load().set(sb);
        f.get(out).get(j).i32(4).i32_mul().i32_add();
        scalarBinary(f, op, sa, sb);
        f.f32_store();
      });
      f.get(out).get(cols).i32(4).i32_mul().i32_add().set(out);
    });
  });
}

/** Emits un_<op>(x, out, n) over contiguous float32. */
export function emitUnary(mod: ModuleBuilder, op: SimdUnary): Func {
  return mod.func(`un_${op}`, ['i32', 'i32', 'i32'], [], (f, x, out, n) => {
    const j = f.local('i32'), vecEnd = f.local('i32'), v = f.local('v128'), s = f.local('f32');
    const vec = (): void => {
      switch (op) {
        case 'neg': f.get(v).f32x4_neg(); return;
        case 'abs': f.get(v).f32x4_abs(); return;
        case 'sqrt': f.get(v).f32x4_sqrt(); return;
        // x < 0 ? 0 : x: x's bits cleared where x < 0 (NaN and -0 stay, as the reference)
        case 'relu': f.get(v).get(v).v128_const_f32(0).f32x4_lt().v128_andnot(); return;
        // x > 0 ? 1 : x < 0 ? -1 : x != 0 ? x : +0 (NaN stays; either zero gives +0)
        case 'sign':
          f.v128_const_f32(1).v128_const_f32(-1);
          f.get(v).get(v).v128_const_f32(0).f32x4_ne().v128_and();
          f.get(v).v128_const_f32(0).f32x4_lt().v128_bitselect();
          f.get(v).v128_const_f32(0).f32x4_gt().v128_bitselect();
          return;
      }
    };
    const scalar = (): void => {
      switch (op) {
        case 'neg': f.get(s).f32_neg(); return;
        case 'abs': f.get(s).f32_abs(); return;
        case 'sqrt': f.get(s).f32_sqrt(); return;
        case 'relu': f.f32(0).get(s).get(s).f32(0).f32_lt().select(); return;
        case 'sign':
          f.f32(1).f32(-1).get(s).f32(0).get(s).f32(0).f32_ne().select();
          f.get(s).f32(0).f32_lt().select().get(s).f32(0).f32_gt().select();
          return;
      }
    };
    f.get(n).i32(-4).i32_and().set(vecEnd);
    f.for_(j, () => f.i32(0), () => f.get(vecEnd), 4, () => {
      f.get(x).get(j).i32(4).i32_mul().i32_add().v128_load().set(v);
      f.get(out).get(j).i32(4).i32_mul().i32_add();
      vec();
      f.v128_store();
    });
    f.for_(j, () => f.get(vecEnd), () => f.get(n), 1, () => {
      f.get(x).get(j).i32(4).i32_mul().i32_add().f32_load().set(s);
      f.get(out).get(j).i32(4).i32_mul().i32_add();
      scalar();
      f.f32_store();
    });
  });
}
