/**
 * The optional convolution kernels in WebAssembly, float32, with the reference's exact order of
 * operations (backend/js/conv.ts), so results are bit-identical.
 *
 *   col2im_f32(cols, out, n, c, h, w, kh, kw, sh, sw, dh, dw, outH, outW, cCount): each column
 *     entry (ch, i, j, b, oh, ow), ch < cCount, in order added to pixel (b, ch, oh sh + i dh,
 *     ow sw + j dw) of out [n, c, h, w], which the caller has zeroed. Channels never share a pixel,
 *     so threads take disjoint channel ranges (cols and out advanced to the first one).
 *     One (ch, i, j, b, oh) row touches outW distinct pixels, so with sw = 1 it adds four at a time.
 *   winargmax_f32(x, out, planes, h, w, kh, kw, sh, sw, dh, dw, outH, outW): per window the in-plane
 *     index of the largest element, the first on ties, the last NaN if any (int32 out; as PyTorch). Without
 *     branches on the data; with stride 1 or 2, four neighbouring windows at once in v128 lanes
 *     (2x2 windows with stride 2, max pooling's usual case, with their four taps unrolled and a
 *     row's last group moved back to end at the last window rather than left to the scalar loop).
 */
import type { Local, ModuleBuilder } from './asm.js';

// lint-allow-long-function: a kernel's WebAssembly instruction stream reads best as one block, top to bottom, like the assembly it is
export function emitConv(mod: ModuleBuilder): void {
  mod.func('col2im_f32', Array(15).fill('i32'), [], (f, cols, out, n, c, h, w, kh, kw, sh, sw, dh, dw, outH, outW, cCount) => {
    const ch = f.local('i32'), i = f.local('i32'), j = f.local('i32'), b = f.local('i32'), oh = f.local('i32'), ow = f.local('i32');
    const row = f.local('i32'), q = f.local('i32'), k = f.local('i32'), vecEnd = f.local('i32');
    f.get(cols).set(k);
    f.get(outW).i32(-4).i32_and().set(vecEnd);
    f.for_(ch, () => f.i32(0), () => f.get(cCount), 1, () => {
      f.for_(i, () => f.i32(0), () => f.get(kh), 1, () => {
        f.for_(j, () => f.i32(0), () => f.get(kw), 1, () => {
          f.for_(b, () => f.i32(0), () => f.get(n), 1, () => {
            // byte address of pixel (b, ch, i dh, j dw)
            f.get(out).get(b).get(c).i32_mul().get(ch).i32_add().get(h).i32_mul().get(i).get(dh).i32_mul().i32_add().get(w).i32_mul().get(j).get(dw).i32_mul().i32_add().i32(4).i32_mul().i32_add().set(row);
            f.for_(oh, () => f.i32(0), () => f.get(outH), 1, () => {
              f.get(row).set(q);
              f.i32(0).set(ow);
              f.get(sw).i32(1).i32_eq().if_(() => {
                f.for_(ow, () => f.i32(0), () => f.get(vecEnd), 4, () => {
                  f.get(q).get(q).v128_load().get(k).v128_load().f32x4_add().v128_store();
                  f.get(q).i32(16).i32_add().set(q);
                  f.get(k).i32(16).i32_add().set(k);
                });
              });
              f.for_(ow, () => f.get(ow), () => f.get(outW), 1, () => {
                f.get(q).get(q).f32_load().get(k).f32_load().f32_add().f32_store();
                f.get(q).get(sw).i32(4).i32_mul().i32_add().set(q);
                f.get(k).i32(4).i32_add().set(k);
              });
              f.get(row).get(sh).get(w).i32_mul().i32(4).i32_mul().i32_add().set(row);
            });
          });
        });
      });
    });
  });

  mod.func('winargmax_f32', Array(13).fill('i32'), [], (f, x, out, planes, h, w, kh, kw, sh, sw, dh, dw, outH, outW) => {
    const p = f.local('i32'), oh = f.local('i32'), ow = f.local('i32'), i = f.local('i32'), j = f.local('i32');
    const base = f.local('i32'), best = f.local('i32'), at = f.local('i32'), ptr = f.local('i32'), o = f.local('i32');
    const dwBytes = f.local('i32'), start = f.local('i32'), take = f.local('i32'), lastCol = f.local('i32');
    const bv = f.local('f32'), v = f.local('f32');
    const vb = f.local('v128'), vv = f.local('v128'), vbest = f.local('v128'), offs = f.local('v128'), vtake = f.local('v128');
    f.get(out).set(o);
    f.get(dw).i32(4).i32_mul().set(dwBytes);
    // lane offsets of four neighbouring windows' elements: 0, sw, 2 sw, 3 sw
    f.get(sw).i32x4_splat().v128_const_i32([0, 1, 2, 3]).i32x4_mul().set(offs);
    // a group fits while (ow + 3) sw + (kw - 1) dw + sw <= w: its last load (4 sw floats wide) ends inside the row
    f.get(kw).i32(1).i32_sub().get(dw).i32_mul().get(sw).i32_add().set(lastCol);

    // visit the elements of the window(s) starting at in-plane index `start`, row by row
    const walk = (each: () => void): void => {
      f.for_(i, () => f.i32(0), () => f.get(kh), 1, () => {
        f.get(start).get(i).get(dh).i32_mul().get(w).i32_mul().i32_add().tee(at);
        f.i32(4).i32_mul().get(base).i32_add().set(ptr);
        f.for_(j, () => f.i32(0), () => f.get(kw), 1, () => {
          each();
          f.get(ptr).get(dwBytes).i32_add().set(ptr);
          f.get(at).get(dw).i32_add().set(at);
        });
      });
    };
    // four windows' elements at ptr: adjacent (sw = 1) or every other one (sw = 2)
    const load4 = (): void => {
      f.get(sw).i32(1).i32_eq().if_(() => { f.get(ptr).v128_load().set(vv); }, () => {
        f.get(ptr).v128_load().get(ptr).v128_load(16).i8x16_shuffle([0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27]).set(vv);
      });
    };

    // the 2x2 stride-2 case
    const pool2 = f.local('i32'), wBytes = f.local('i32'), vidx = f.local('v128'), ra = f.local('v128'), rb = f.local('v128');
    const off1 = f.local('v128'), offW = f.local('v128'), offW1 = f.local('v128');
    f.get(kh).i32(2).i32_eq().get(kw).i32(2).i32_eq().i32_and().get(sh).i32(2).i32_eq().i32_and().get(sw).i32(2).i32_eq().i32_and();
    f.get(dh).i32(1).i32_eq().i32_and().get(dw).i32(1).i32_eq().i32_and().set(pool2);
    f.get(w).i32(4).i32_mul().set(wBytes);
    // a tap's in-plane offset from its window's start: 1 (right), w (below), w + 1
    f.i32(1).i32x4_splat().set(off1);
    f.get(w).i32x4_splat().set(offW);
    f.get(w).i32(1).i32_add().i32x4_splat().set(offW1);
    const EVEN = [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27];
    const ODD = [4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31];
    // one more tap of the four windows: its values are lanes `lanes` of (ra, rb); vbest keeps the
    // chosen tap's offset from the window's start (the start is added once at the end)
    const tap = (lanes: number[], off: Local): void => {
      f.get(ra).get(rb).i8x16_shuffle(lanes).set(vv);
      f.get(vv).get(vb).f32x4_gt().get(vv).get(vv).f32x4_ne().v128_or().set(vtake);
      f.get(vv).get(vb).get(vtake).v128_bitselect().set(vb);
      f.get(off).get(vbest).get(vtake).v128_bitselect().set(vbest);
    };

    f.for_(p, () => f.i32(0), () => f.get(planes), 1, () => {
      f.get(x).get(p).get(h).i32_mul().get(w).i32_mul().i32(4).i32_mul().i32_add().set(base);
      f.for_(oh, () => f.i32(0), () => f.get(outH), 1, () => {
        f.i32(0).set(ow);
        // 2x2 windows with stride 2 (max pooling's usual case): the taps of four windows unrolled
        f.get(pool2).if_(() => {
          f.block(() => f.loop(() => {
            f.get(ow).get(outW).i32_ge_s().br_if(1);
            // a last group that would run past the row's end starts at outW - 4 instead, redoing
            // some windows (same values) rather than leaving them to the scalar loop
            f.get(ow).i32(4).i32_add().get(outW).i32_gt_s().if_(() => {
              f.get(outW).i32(4).i32_lt_s().br_if(2);
              f.get(o).get(ow).get(outW).i32(4).i32_sub().i32_sub().i32(4).i32_mul().i32_sub().set(o);
              f.get(outW).i32(4).i32_sub().set(ow);
            });
            // the loads cover columns 2 ow .. 2 ow + 7 of two rows
            f.get(ow).i32(4).i32_add().i32(2).i32_mul().get(w).i32_gt_s().br_if(1);
            f.get(oh).get(sh).i32_mul().get(w).i32_mul().get(ow).get(sw).i32_mul().i32_add().set(start);
            f.get(base).get(start).i32(4).i32_mul().i32_add().set(ptr);
            f.get(start).i32x4_splat().get(offs).i32x4_add().set(vidx);
            // row 0: lanes (0, 2, 4, 6) are tap (0, 0) of the four windows, (1, 3, 5, 7) tap (0, 1)
            f.get(ptr).v128_load().set(ra);
            f.get(ptr).v128_load(16).set(rb);
            f.get(ra).get(rb).i8x16_shuffle(EVEN).set(vb);
            f.v128_const_i32([0, 0, 0, 0]).set(vbest);
            tap(ODD, off1);
            f.get(ptr).get(wBytes).i32_add().set(ptr);
            f.get(ptr).v128_load().set(ra);
            f.get(ptr).v128_load(16).set(rb);
            tap(EVEN, offW);
            tap(ODD, offW1);
            f.get(o).get(vbest).get(vidx).i32x4_add().v128_store();
            f.get(o).i32(16).i32_add().set(o);
            f.get(ow).i32(4).i32_add().set(ow).br(0);
          }));
        });
        // four windows at a time while they fit (sw 1 or 2, and the last load stays inside the row)
        f.get(sw).i32(3).i32_lt_s().if_(() => {
          f.block(() => f.loop(() => {
            f.get(ow).i32(4).i32_add().get(outW).i32_gt_s().br_if(1);
            f.get(ow).i32(3).i32_add().get(sw).i32_mul().get(lastCol).i32_add().get(w).i32_gt_s().br_if(1);
            f.get(oh).get(sh).i32_mul().get(w).i32_mul().get(ow).get(sw).i32_mul().i32_add().set(start);
            f.get(start).i32x4_splat().get(offs).i32x4_add().set(vbest);
            f.get(base).get(start).i32(4).i32_mul().i32_add().set(ptr);
            load4();
            f.get(vv).set(vb);
            walk(() => {
              load4();
              // take v when it is larger, or a NaN (so the last NaN wins): v > bv | v != v
              f.get(vv).get(vb).f32x4_gt().get(vv).get(vv).f32x4_ne().v128_or().set(vtake);
              f.get(vv).get(vb).get(vtake).v128_bitselect().set(vb);
              f.get(at).i32x4_splat().get(offs).i32x4_add().get(vbest).get(vtake).v128_bitselect().set(vbest);
            });
            f.get(o).get(vbest).v128_store();
            f.get(o).i32(16).i32_add().set(o);
            f.get(ow).i32(4).i32_add().set(ow).br(0);
          }));
        });
        // the remaining windows one at a time, same rule, branch-free
        f.for_(ow, () => f.get(ow), () => f.get(outW), 1, () => {
          f.get(oh).get(sh).i32_mul().get(w).i32_mul().get(ow).get(sw).i32_mul().i32_add().tee(start).set(best);
          f.get(base).get(best).i32(4).i32_mul().i32_add().f32_load().set(bv);
          walk(() => {
            f.get(ptr).f32_load().set(v);
            f.get(v).get(bv).f32_gt().get(v).get(v).f32_ne().i32_or().set(take);
            f.get(at).get(best).get(take).select().set(best);
            f.get(v).get(bv).get(take).select().set(bv);
          });
          f.get(o).get(best).i32_store();
          f.get(o).i32(4).i32_add().set(o);
        });
      });
    });
  });
}
