/**
 * float32 reductions and strided copies in WebAssembly.
 *
 * Sums accumulate in float64, like the reference backend, so the float32 result is the correctly
 * rounded sum in all but pathological cases (only the order of the float64 additions differs).
 * Max/min follow the reference rule per element: v replaces the running value when v is NaN or
 * beats it, so NaN wins and stays.
 *
 *   red_rows_<op>(x, out, rows, cols):  out[r] = op over x[r, :]     (reduce the last axis)
 *   red_cols_<op>(x, out, rows, cols, acc): out[c] = op over x[:, c] (reduce a leading axis;
 *                                        sum uses `acc`, cols float64 of scratch)
 *   red_mid_sum(x, out, count, segs, len, segStride): out[k] = sum over s < segs, j < len of
 *                                        x[k len + s segStride + j] (bytes for segStride): x seen as
 *                                        [segs, K, len] reduced over its first and last axes, the
 *                                        middle one kept (batch norm's sums over N and H W)
 *   copy2d_<bits>(src, sRow, sCol, dst, dRow, dCol, rows, cols): strided element copy (bytes)
 */
import type { ReduceOp } from '../backend.js';
import type { Func, Local, ModuleBuilder } from './asm.js';

/** Push the running value updated with v (both v128): (v != v || v op cur) ? v : cur. */
function vecPick(f: Func, op: 'max' | 'min', v: Local, cur: Local): void {
  f.get(v).get(cur);
  f.get(v).get(cur);
  if (op === 'max') f.f32x4_gt(); else f.f32x4_lt();
  f.get(v).get(v).f32x4_ne().v128_or();
  f.v128_bitselect();
}

function scalarPick(f: Func, op: 'max' | 'min', v: Local, cur: Local): void {
  f.get(v).get(cur);
  f.get(v).get(cur);
  if (op === 'max') f.f32_gt(); else f.f32_lt();
  f.get(v).get(v).f32_ne().i32_or();
  f.select();
}

const HIGH_TO_LOW = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7];

export function emitReduceRows(mod: ModuleBuilder, op: ReduceOp): Func {
  return mod.func(`red_rows_${op}`, ['i32', 'i32', 'i32', 'i32'], [], (f, x, out, rows, cols) => {
    const r = f.local('i32'), j = f.local('i32'), vecEnd = f.local('i32'), p = f.local('i32');
    const v = f.local('v128'), acc0 = f.local('v128'), acc1 = f.local('v128'), s = f.local('f32'), cur = f.local('f32'), t = f.local('f64');
    f.get(cols).i32(-4).i32_and().set(vecEnd);
    f.for_(r, () => f.i32(0), () => f.get(rows), 1, () => {
      f.get(x).get(r).get(cols).i32_mul().i32(4).i32_mul().i32_add().set(p);
      if (op === 'sum') {
        f.f64(0).f64x2_splat().tee(acc0).set(acc1);
        f.for_(j, () => f.i32(0), () => f.get(vecEnd), 4, () => {
          f.get(p).get(j).i32(4).i32_mul().i32_add().v128_load().set(v);
          f.get(acc0).get(v).f64x2_promote_low_f32x4().f64x2_add().set(acc0);
          f.get(acc1).get(v).get(v).i8x16_shuffle(HIGH_TO_LOW).f64x2_promote_low_f32x4().f64x2_add().set(acc1);
        });
        f.get(acc0).get(acc1).f64x2_add().set(acc0);
        f.get(acc0).f64x2_extract_lane(0).get(acc0).f64x2_extract_lane(1).f64_add().set(t);
        f.for_(j, () => f.get(vecEnd), () => f.get(cols), 1, () => {
          f.get(t).get(p).get(j).i32(4).i32_mul().i32_add().f32_load().f64_promote_f32().f64_add().set(t);
        });
        f.get(out).get(r).i32(4).i32_mul().i32_add().get(t).f32_demote_f64().f32_store();
      } else {
        const pick = op === 'max' ? 'max' : 'min';
        f.f32(op === 'max' ? -Infinity : Infinity).tee(cur).f32x4_splat().set(acc0);
        f.for_(j, () => f.i32(0), () => f.get(vecEnd), 4, () => {
          f.get(p).get(j).i32(4).i32_mul().i32_add().v128_load().set(v);
          vecPick(f, pick, v, acc0);
          f.set(acc0);
        });
        for (let lane = 0; lane < 4; lane++) {
          f.get(acc0).f32x4_extract_lane(lane).set(s);
          scalarPick(f, pick, s, cur);
          f.set(cur);
        }
        f.for_(j, () => f.get(vecEnd), () => f.get(cols), 1, () => {
          f.get(p).get(j).i32(4).i32_mul().i32_add().f32_load().set(s);
          scalarPick(f, pick, s, cur);
          f.set(cur);
        });
        f.get(out).get(r).i32(4).i32_mul().i32_add().get(cur).f32_store();
      }
    });
  });
}

export function emitReduceMiddleSum(mod: ModuleBuilder): Func {
  return mod.func('red_mid_sum', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [], (f, x, out, count, segs, len, segStride) => {
    const k = f.local('i32'), sg = f.local('i32'), j = f.local('i32'), vecEnd = f.local('i32'), p = f.local('i32');
    const v = f.local('v128'), acc0 = f.local('v128'), acc1 = f.local('v128'), t = f.local('f64');
    f.get(len).i32(-4).i32_and().set(vecEnd);
    f.for_(k, () => f.i32(0), () => f.get(count), 1, () => {
      f.f64(0).f64x2_splat().tee(acc0).set(acc1);
      f.f64(0).set(t);
      f.for_(sg, () => f.i32(0), () => f.get(segs), 1, () => {
        f.get(x).get(k).get(len).i32_mul().i32(4).i32_mul().i32_add().get(sg).get(segStride).i32_mul().i32_add().set(p);
        f.for_(j, () => f.i32(0), () => f.get(vecEnd), 4, () => {
          f.get(p).get(j).i32(4).i32_mul().i32_add().v128_load().set(v);
          f.get(acc0).get(v).f64x2_promote_low_f32x4().f64x2_add().set(acc0);
          f.get(acc1).get(v).get(v).i8x16_shuffle(HIGH_TO_LOW).f64x2_promote_low_f32x4().f64x2_add().set(acc1);
        });
        f.for_(j, () => f.get(vecEnd), () => f.get(len), 1, () => {
          f.get(t).get(p).get(j).i32(4).i32_mul().i32_add().f32_load().f64_promote_f32().f64_add().set(t);
        });
      });
      f.get(acc0).get(acc1).f64x2_add().set(acc0);
      f.get(out).get(k).i32(4).i32_mul().i32_add();
      f.get(acc0).f64x2_extract_lane(0).get(acc0).f64x2_extract_lane(1).f64_add().get(t).f64_add().f32_demote_f64().f32_store();
    });
  });
}

export function emitReduceCols(mod: ModuleBuilder, op: ReduceOp): Func {
  return mod.func(`red_cols_${op}`, ['i32', 'i32', 'i32', 'i32', 'i32'], [], (f, x, out, rows, cols, acc) => {
    const r = f.local('i32'), j = f.local('i32'), vecEnd = f.local('i32'), p = f.local('i32'), q = f.local('i32');
    const v = f.local('v128'), cur = f.local('v128'), s = f.local('f32'), sc = f.local('f32');
    f.get(cols).i32(-4).i32_and().set(vecEnd);
    if (op === 'sum') {
      // acc[c] = 0, then add each row promoted to float64, then round once
      f.get(acc).i32(0).get(cols).i32(8).i32_mul().memory_fill();
      f.for_(r, () => f.i32(0), () => f.get(rows), 1, () => {
        f.get(x).get(r).get(cols).i32_mul().i32(4).i32_mul().i32_add().set(p);
        f.for_(j, () => f.i32(0), () => f.get(vecEnd), 4, () => {
          f.get(p).get(j).i32(4).i32_mul().i32_add().v128_load().set(v);
          f.get(acc).get(j).i32(8).i32_mul().i32_add().set(q);
          f.get(q).get(q).v128_load().get(v).f64x2_promote_low_f32x4().f64x2_add().v128_store();
          f.get(q).get(q).v128_load(16).get(v).get(v).i8x16_shuffle(HIGH_TO_LOW).f64x2_promote_low_f32x4().f64x2_add().v128_store(16);
        });
        f.for_(j, () => f.get(vecEnd), () => f.get(cols), 1, () => {
          f.get(acc).get(j).i32(8).i32_mul().i32_add().set(q);
          f.get(q).get(q).f64_load().get(p).get(j).i32(4).i32_mul().i32_add().f32_load().f64_promote_f32().f64_add().f64_store();
        });
      });
      f.for_(j, () => f.i32(0), () => f.get(cols), 1, () => {
        f.get(out).get(j).i32(4).i32_mul().i32_add().get(acc).get(j).i32(8).i32_mul().i32_add().f64_load().f32_demote_f64().f32_store();
      });
      return;
    }
    const pick = op === 'max' ? 'max' : 'min';
    f.for_(j, () => f.i32(0), () => f.get(cols), 1, () => {
      f.get(out).get(j).i32(4).i32_mul().i32_add().f32(op === 'max' ? -Infinity : Infinity).f32_store();
    });
    f.for_(r, () => f.i32(0), () => f.get(rows), 1, () => {
      f.get(x).get(r).get(cols).i32_mul().i32(4).i32_mul().i32_add().set(p);
      f.for_(j, () => f.i32(0), () => f.get(vecEnd), 4, () => {
        f.get(out).get(j).i32(4).i32_mul().i32_add().tee(q).v128_load().set(cur);
        f.get(p).get(j).i32(4).i32_mul().i32_add().v128_load().set(v);
        f.get(q);
        vecPick(f, pick, v, cur);
        f.v128_store();
      });
      f.for_(j, () => f.get(vecEnd), () => f.get(cols), 1, () => {
        f.get(out).get(j).i32(4).i32_mul().i32_add().tee(q).f32_load().set(sc);
        f.get(p).get(j).i32(4).i32_mul().i32_add().f32_load().set(s);
        f.get(q);
        scalarPick(f, pick, s, sc);
        f.f32_store();
      });
    });
  });
}

/** Strided copy of 4- or 8-byte elements; rows with unit strides on both sides use memory.copy. */
export function emitCopy2d(mod: ModuleBuilder, bytes: 4 | 8): Func {
  return mod.func(`copy2d_${bytes * 8}`, Array(8).fill('i32'), [], (f, src, sRow, sCol, dst, dRow, dCol, rows, cols) => {
    const r = f.local('i32'), j = f.local('i32'), s = f.local('i32'), d = f.local('i32');
    f.for_(r, () => f.i32(0), () => f.get(rows), 1, () => {
      f.get(src).get(r).get(sRow).i32_mul().i32_add().set(s);
      f.get(dst).get(r).get(dRow).i32_mul().i32_add().set(d);
      // contiguous rows: memory.copy, unless short (its call costs more than a few moves)
      f.get(sCol).i32(bytes).i32_eq().get(dCol).i32(bytes).i32_eq().i32_and().get(cols).i32(32).i32_ge_s().i32_and().if_(() => {
        f.get(d).get(s).get(cols).i32(bytes).i32_mul().memory_copy();
      }, () => {
        f.for_(j, () => f.i32(0), () => f.get(cols), 1, () => {
          f.get(d);
          f.get(s);
          if (bytes === 4) f.i32_load().i32_store(); else f.i64_load().i64_store();
          f.get(s).get(sCol).i32_add().set(s);
          f.get(d).get(dCol).i32_add().set(d);
        });
      });
    });
  });
}

/**
 * copy4d_32(src, dst, n0, n1, rows, cols, s0, s1, sRow, sCol, d0, d1, dRow, dCol, apart): element
 * (a, b, r, j) of a [n0, n1, rows, cols] block of 32-bit values moves from src + a s0 + b s1 +
 * r sRow + j sCol to dst + a d0 + b d1 + r dRow + j dCol (strides in bytes). Four dimensions per
 * call, so an im2col (six dimensions) costs a few calls from JS rather than one per short row;
 * rows with unit strides on both sides move four elements at a time. When `apart` (source and
 * destination do not overlap) a row's last cols mod 4 elements move as the vector of its last four,
 * rewriting a few with the same values: an 11-wide im2col row is three vector moves, not 2 + 3.
 */
export function emitCopy4d(mod: ModuleBuilder): Func {
  return mod.func('copy4d_32', Array(15).fill('i32'), [], (f, src, dst, n0, n1, rows, cols, s0, s1, sRow, sCol, d0, d1, dRow, dCol, apart) => {
    const a = f.local('i32'), b = f.local('i32'), r = f.local('i32'), j = f.local('i32');
    const s = f.local('i32'), d = f.local('i32'), unit = f.local('i32'), vecEnd = f.local('i32'), tail = f.local('i32');
    f.get(sCol).i32(4).i32_eq().get(dCol).i32(4).i32_eq().i32_and().set(unit);
    f.get(cols).i32(-4).i32_and().set(vecEnd);
    // the overlapping last vector: unit steps, at least four elements, a ragged end, no aliasing
    f.get(unit).get(apart).i32_and().get(cols).i32(4).i32_ge_s().i32_and().get(cols).i32(3).i32_and().i32(0).i32_ne().i32_and().set(tail);
    f.for_(a, () => f.i32(0), () => f.get(n0), 1, () => {
      f.for_(b, () => f.i32(0), () => f.get(n1), 1, () => {
        f.for_(r, () => f.i32(0), () => f.get(rows), 1, () => {
          f.get(src).get(a).get(s0).i32_mul().i32_add().get(b).get(s1).i32_mul().i32_add().get(r).get(sRow).i32_mul().i32_add().set(s);
          f.get(dst).get(a).get(d0).i32_mul().i32_add().get(b).get(d1).i32_mul().i32_add().get(r).get(dRow).i32_mul().i32_add().set(d);
          f.i32(0).set(j);
          f.get(unit).if_(() => {
            f.for_(j, () => f.i32(0), () => f.get(vecEnd), 4, () => {
              f.get(d).get(s).v128_load().v128_store();
              f.get(s).i32(16).i32_add().set(s);
              f.get(d).i32(16).i32_add().set(d);
            });
            f.get(tail).if_(() => {
              // s, d point just past the whole vectors; the last four elements end cols - vecEnd further
              f.get(d).get(cols).get(vecEnd).i32_sub().i32(4).i32_mul().i32(16).i32_sub().i32_add();
              f.get(s).get(cols).get(vecEnd).i32_sub().i32(4).i32_mul().i32(16).i32_sub().i32_add();
              f.v128_load().v128_store();
              f.get(cols).set(j);
            });
          });
          f.for_(j, () => f.get(j), () => f.get(cols), 1, () => {
            f.get(d).get(s).i32_load().i32_store();
            f.get(s).get(sCol).i32_add().set(s);
            f.get(d).get(dCol).i32_add().set(d);
          });
        });
      });
    });
  });
}
