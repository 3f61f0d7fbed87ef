/**
 * Fused optimizer updates in WebAssembly SIMD: one pass over a parameter instead of one kernel
 * call per operation. Each kernel does exactly the float32 operations the reference does
 * (backend/js/optim.ts), in the same order and without fused multiply-adds, so results are
 * bit-identical to it and to the ops the optimizer composes without the kernel.
 */
import type { SgdStepHyper } from '../backend.js';
import type { Func, Local, ModuleBuilder } from './asm.js';

/** Bits of an SGD kernel's variant: which steps of the update it does. */
export const SGD_MAXIMIZE = 1, SGD_DECAY = 2, SGD_MOMENTUM = 4, SGD_FIRST = 8, SGD_NESTEROV = 16;

/** The variant of sgd_<flags> that does what h asks. */
export function sgdFlags(h: SgdStepHyper): number {
  let f = (h.maximize ? SGD_MAXIMIZE : 0) | (h.weightDecay !== 0 ? SGD_DECAY : 0);
  if (h.momentum !== 0) f |= SGD_MOMENTUM | (h.first ? SGD_FIRST : 0) | (h.nesterov ? SGD_NESTEROV : 0);
  return f;
}

/** Every variant's flags (momentum-free ones ignore the first and nesterov bits). */
export const SGD_VARIANTS: readonly number[] = Array.from({ length: 32 }, (_, f) => f).filter((f) => f & SGD_MOMENTUM || (f & (SGD_FIRST | SGD_NESTEROV)) === 0);

/**
 * Emits sgd_<flags>(p, g, bufIn, pOut, bufOut, n, hyper): hyper points at four float32 values
 * (lr, momentum, 1 - dampening, weightDecay); all arrays contiguous float32 of n elements.
 */
export function emitSgd(mod: ModuleBuilder, flags: number): Func {
  return mod.func(`sgd_${flags}`, Array(7).fill('i32'), [], (f, p, g, bi, po, bo, n, hp) => {
    const j = f.local('i32'), at = f.local('i32'), vecEnd = f.local('i32');
    // the scalars splatted once; the vector and scalar loops share one body written over `lanes`
    const sc = [f.local('v128'), f.local('v128'), f.local('v128'), f.local('v128')] as const;
    const ss = [f.local('f32'), f.local('f32'), f.local('f32'), f.local('f32')] as const;
    for (let i = 0; i < 4; i++) {
      f.get(hp).f32_load(4 * i).tee(ss[i]!).f32x4_splat().set(sc[i]!);
    }
    const body = (vec: boolean): void => {
      const x = f.local(vec ? 'v128' : 'f32'), gr = f.local(vec ? 'v128' : 'f32'), b = f.local(vec ? 'v128' : 'f32');
      const [lr, mu, keep, wd] = vec ? sc : ss;
      const load = (base: Local): void => { f.get(base).get(at).i32_add(); if (vec) f.v128_load(); else f.f32_load(); };
      const op = (name: 'add' | 'sub' | 'mul' | 'neg'): void => {
        if (vec) ({ add: () => f.f32x4_add(), sub: () => f.f32x4_sub(), mul: () => f.f32x4_mul(), neg: () => f.f32x4_neg() })[name]();
        else ({ add: () => f.f32_add(), sub: () => f.f32_sub(), mul: () => f.f32_mul(), neg: () => f.f32_neg() })[name]();
      };
      const store = (): void => { if (vec) f.v128_store(); else f.f32_store(); };
      f.get(j).i32(4).i32_mul().set(at);
      load(p); f.set(x);
      load(g);
      if (flags & SGD_MAXIMIZE) op('neg');
      f.set(gr);
      if (flags & SGD_DECAY) { f.get(gr).get(x).get(wd!); op('mul'); op('add'); f.set(gr); }
      if (flags & SGD_MOMENTUM) {
        if (flags & SGD_FIRST) f.get(gr).set(b);
        else { load(bi); f.get(mu!); op('mul'); f.get(gr).get(keep!); op('mul'); op('add'); f.set(b); }
        f.get(bo).get(at).i32_add().get(b); store();
        if (flags & SGD_NESTEROV) { f.get(gr).get(b).get(mu!); op('mul'); op('add'); f.set(gr); }
        else f.get(b).set(gr);
      }
      f.get(po).get(at).i32_add().get(x).get(gr).get(lr!); op('mul'); op('sub'); store();
    };
    f.get(n).i32(-4).i32_and().set(vecEnd);
    f.for_(j, () => f.i32(0), () => f.get(vecEnd), 4, () => body(true));
    f.for_(j, () => f.get(vecEnd), () => f.get(n), 1, () => body(false));
  });
}

/** Elements per partial sum of sumsq_rows: the partials do not depend on the thread count. */
export const SUMSQ_ROW = 1 << 14;

const HIGH_TO_LOW = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7];

/**
 * Emits sumsq_rows(x, out, rows, cols): out[r] (float64) = the sum over x[r, :] of x * x, each
 * square a float32 product, added in float64 (two lanes of two accumulators, then the tail).
 */
export function emitSumSquares(mod: ModuleBuilder): Func {
  return mod.func('sumsq_rows', ['i32', 'i32', 'i32', 'i32'], [], (f, x, out, rows, cols) => {
    const r = f.local('i32'), j = f.local('i32'), vecEnd = f.local('i32'), p = f.local('i32');
    const v = f.local('v128'), acc0 = f.local('v128'), acc1 = f.local('v128'), t = f.local('f64'), s = f.local('f32');
    f.get(cols).i32(-4).i32_and().set(vecEnd);
    f.for_(r, () => f.i32(0), () => f.get(rows), 1, () => {
      f.get(x).get(r).get(cols).i32_mul().i32(4).i32_mul().i32_add().set(p);
      f.f64(0).f64x2_splat().tee(acc0).set(acc1);
      f.for_(j, () => f.i32(0), () => f.get(vecEnd), 4, () => {
        f.get(p).get(j).i32(4).i32_mul().i32_add().v128_load().tee(v).get(v).f32x4_mul().set(v);
        f.get(acc0).get(v).f64x2_promote_low_f32x4().f64x2_add().set(acc0);
        f.get(acc1).get(v).get(v).i8x16_shuffle(HIGH_TO_LOW).f64x2_promote_low_f32x4().f64x2_add().set(acc1);
      });
      f.get(acc0).get(acc1).f64x2_add().set(acc0);
      f.get(acc0).f64x2_extract_lane(0).get(acc0).f64x2_extract_lane(1).f64_add().set(t);
      f.for_(j, () => f.get(vecEnd), () => f.get(cols), 1, () => {
        f.get(p).get(j).i32(4).i32_mul().i32_add().f32_load().tee(s).get(s).f32_mul();
        f.f64_promote_f32().get(t).f64_add().set(t);
      });
      f.get(out).get(r).i32(8).i32_mul().i32_add().get(t).f64_store();
    });
  });
}
