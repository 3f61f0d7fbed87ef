/**
 * Single-precision GEMM in WebAssembly SIMD, C = A B, organised as in Goto & van de Geijn
 * ("Anatomy of high-performance matrix multiplication", 2008):
 *
 *   for each NC-wide column block of B and C:
 *     for each KC-deep slice of the shared dimension:   pack B[kc x nc] into NR-wide strips
 *       for each MC-tall row block of A:                pack A[mc x kc] into MR-tall strips
 *         for each NR strip, for each MR strip:         C[MR x NR] (+)= A_strip B_strip (micro-kernel)
 *
 * The micro-kernel keeps the MR x NR tile of C in MR*NR/4 v128 registers (4 x 8: eight
 * accumulators of four lanes); each step p broadcasts one element of A per row and multiplies it
 * with the NR/4 vectors of row p of the B strip. The loop is NOT unrolled: V8's optimiser hoists
 * every load of an unrolled body to its top, and with x64's 15 allocatable vector registers the
 * accumulators then spill to the stack on every step (seen with --print-wasm-code). V8 also loads
 * the MR broadcasts of a step into separate registers, so MR*NR/4 accumulators + NR/4 B vectors +
 * MR broadcasts must fit in 15: 4 x 8 uses 14 and runs at ~49 GFLOP/s per core on Zen 4
 * (n = 512), where 4 x 12 unrolled 4x (spilling) ran at ~31 and 4 x 8 unrolled 2x at ~25
 * (bench/gemm-variants.ts). Packing reads A(i, p) and B(p, j) through arbitrary element
 * strides, so A^T and B^T are read straight from their stored layouts and never materialised.
 * Edge tiles are computed in full into a scratch tile (packing pads with zeros) and the valid part
 * is copied out. The first KC slice stores into C, later ones add: C need not be initialised.
 * All addresses and strides are in bytes.
 */
import type { Func, Local, ModuleBuilder } from './asm.js';
import { emitPackA, emitPackB } from './pack.js';

export const MR = 4;
export const NR = 8;
export const KC = 256;
export const MC = 128;
export const NC = 2040;
/** Bytes of scratch one gemm call needs: packed A block, packed B block, one edge tile. */
export const GEMM_WORK_BYTES = (MC * KC + KC * NC + 3 * 64) * 4;

/** Emits: gemm_f32(m, n, k, A, rsA, csA, B, rsB, csB, C, ldc, work). */
// lint-allow-long-function: the GEMM's instruction stream (packing loops and micro-kernel) reads best as one block, like the assembly it is
export function emitGemm(mod: ModuleBuilder, relaxed: boolean, cfg: { mr: number; nr: number; unroll: number } = { mr: MR, nr: NR, unroll: 1 }): Func {
  // (the tile shape is a parameter so variants can be compared; the exported constants are the default)
  const { mr: MR, nr: NR, unroll: UNROLL } = cfg;
  const NV = NR / 4;
  // micro(kc, pa, pb, c, ldc, accumulate): C tile (+)= sum_p pa[p, 0:MR]^T pb[p, 0:NR]
  const micro = mod.func('gemm_micro', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [], (f, kc, pa, pb, c, ldc, accum) => {
    const acc: Local[][] = [];
    for (let r = 0; r < MR; r++) acc.push(Array.from({ length: NV }, () => f.local('v128')));
    const b = Array.from({ length: NV }, () => f.local('v128'));
    const a = f.local('v128');
    const p = f.local('i32');
    const addr = f.local('i32');
    for (const row of acc) for (const v of row) f.v128_const_f32(0).set(v);
    // One step of the shared dimension, reading A at byte offset aOff and B at bOff.
    const step = (aOff: number, bOff: number): void => {
      for (let h = 0; h < NV; h++) f.get(pb).v128_load(bOff + 16 * h).set(b[h]!);
      for (let r = 0; r < MR; r++) {
        f.get(pa).v128_load32_splat(aOff + r * 4).set(a);
        for (let h = 0; h < NV; h++) {
          if (relaxed) f.get(a).get(b[h]!).get(acc[r]![h]!).f32x4_relaxed_madd().set(acc[r]![h]!);
          else f.get(acc[r]![h]!).get(a).get(b[h]!).f32x4_mul().f32x4_add().set(acc[r]![h]!);
        }
      }
    };
    f.get(kc).set(p);
    // main loop (unrolled UNROLL times) while p >= UNROLL, then the remaining steps one by one
    f.block(() => f.loop(() => {
      f.get(p).i32(UNROLL).i32_lt_s().br_if(1);
      for (let u = 0; u < UNROLL; u++) step(u * MR * 4, u * NR * 4);
      f.get(pa).i32(UNROLL * MR * 4).i32_add().set(pa);
      f.get(pb).i32(UNROLL * NR * 4).i32_add().set(pb);
      f.get(p).i32(UNROLL).i32_sub().set(p).br(0);
    }));
    if (UNROLL > 1) f.block(() => f.loop(() => {
      f.get(p).i32_eqz().br_if(1);
      step(0, 0);
      f.get(pa).i32(MR * 4).i32_add().set(pa);
      f.get(pb).i32(NR * 4).i32_add().set(pb);
      f.get(p).i32(1).i32_sub().set(p).br(0);
    }));
    for (let r = 0; r < MR; r++) {
      f.get(c).i32(r).get(ldc).i32_mul().i32_add().set(addr);
      for (let h = 0; h < NV; h++) {
        f.get(addr);
        f.get(accum).if_(() => { f.get(addr).v128_load(h * 16).get(acc[r]![h]!).f32x4_add().set(acc[r]![h]!); });
        f.get(acc[r]![h]!).v128_store(h * 16);
      }
    }
  }, false);

  const packA = emitPackA(mod, MR);
  const packB = emitPackB(mod, NR);

  const iMicro = mod.indexOf(micro), iPackA = mod.indexOf(packA), iPackB = mod.indexOf(packB);
  // tileOut(tile, c, ldc, mr, nr, accumulate): C[0:mr, 0:nr] (+)= tile[0:mr, 0:nr] (tile rows NR wide)
  const tileOut = mod.func('gemm_tile_out', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [], (f, tile, c, ldc, mr, nr, accum) => {
    const i = f.local('i32'), j = f.local('i32'), src = f.local('i32'), dst = f.local('i32');
    f.for_(i, () => f.i32(0), () => f.get(mr), 1, () => {
      f.for_(j, () => f.i32(0), () => f.get(nr), 1, () => {
        f.get(tile).get(i).i32(NR).i32_mul().get(j).i32_add().i32(4).i32_mul().i32_add().set(src);
        f.get(c).get(i).get(ldc).i32_mul().i32_add().get(j).i32(4).i32_mul().i32_add().set(dst);
        f.get(accum).if_(
          () => { f.get(dst).get(src).f32_load().get(dst).f32_load().f32_add().f32_store(); },
          () => { f.get(dst).get(src).f32_load().f32_store(); },
        );
      });
    });
  }, false);
  const iTile = mod.indexOf(tileOut);

  return mod.func('gemm_f32', Array(12).fill('i32'), [], (f, m, n, k, A, rsA, csA, B, rsB, csB, C, ldc, work) => {
    const jc = f.local('i32'), pc = f.local('i32'), ic = f.local('i32'), jr = f.local('i32'), ir = f.local('i32');
    const nc = f.local('i32'), kc = f.local('i32'), mc = f.local('i32'), lim = f.local('i32');
    const pA = f.local('i32'), pB = f.local('i32'), tile = f.local('i32'), accum = f.local('i32'), cp = f.local('i32');
    const mr = f.local('i32'), nr = f.local('i32'), pa = f.local('i32'), pb = f.local('i32');
    const kcB = f.local('i32'), mcB = f.local('i32');
    // Balanced blocks: k = 784 is cut 196+196+196+196 rather than 256+256+256+16, m = 130 as
    // 68+62 rather than 128+2, so no block is a thin remainder.
    const balanced = (out: Local, total: Local, block: number, multiple: number): void => {
      f.get(total).i32(block - 1).i32_add().i32(block).i32_div_u().set(lim); // number of blocks
      f.get(total).get(lim).i32_add().i32(1).i32_sub().get(lim).i32_div_u();
      f.i32(multiple - 1).i32_add().i32(-multiple).i32_and().set(out);
    };
    balanced(kcB, k, KC, 1);
    balanced(mcB, m, MC, MR);
    f.get(work).set(pA);
    f.get(work).i32(MC * KC * 4 + 64 * 4).i32_add().set(pB);
    f.get(pB).i32(KC * NC * 4 + 64 * 4).i32_add().set(tile);
    const minRest = (out: Local, total: Local, at: Local, block: number): void => {
      f.get(total).get(at).i32_sub().set(lim);
      f.i32(block).set(out);
      f.get(lim).get(out).i32_lt_s().if_(() => { f.get(lim).set(out); });
    };
    const minRestL = (out: Local, total: Local, at: Local, block: Local): void => {
      f.get(total).get(at).i32_sub().set(lim);
      f.get(block).set(out);
      f.get(lim).get(out).i32_lt_s().if_(() => { f.get(lim).set(out); });
    };
    f.for_(jc, () => f.i32(0), () => f.get(n), NC, () => {
      minRest(nc, n, jc, NC);
      f.for_(pc, () => f.i32(0), () => f.get(k), kcB, () => {
        minRestL(kc, k, pc, kcB);
        f.get(pc).i32(0).i32_ne().set(accum);
        f.get(B).get(pc).get(rsB).i32_mul().i32_add().get(jc).get(csB).i32_mul().i32_add();
        f.get(rsB).get(csB).get(kc).get(nc).get(pB).call(iPackB);
        f.for_(ic, () => f.i32(0), () => f.get(m), mcB, () => {
          minRestL(mc, m, ic, mcB);
          f.get(A).get(ic).get(rsA).i32_mul().i32_add().get(pc).get(csA).i32_mul().i32_add();
          f.get(rsA).get(csA).get(mc).get(kc).get(pA).call(iPackA);
          f.for_(jr, () => f.i32(0), () => f.get(nc), NR, () => {
            minRest(nr, nc, jr, NR);
            f.get(pB).get(jr).get(kc).i32_mul().i32(4).i32_mul().i32_add().set(pb);
            f.for_(ir, () => f.i32(0), () => f.get(mc), MR, () => {
              minRest(mr, mc, ir, MR);
              f.get(pA).get(ir).get(kc).i32_mul().i32(4).i32_mul().i32_add().set(pa);
              f.get(C).get(ic).get(ir).i32_add().get(ldc).i32_mul().i32_add().get(jc).get(jr).i32_add().i32(4).i32_mul().i32_add().set(cp);
              f.get(mr).i32(MR).i32_eq().get(nr).i32(NR).i32_eq().i32_and().if_(() => {
                f.get(kc).get(pa).get(pb).get(cp).get(ldc).get(accum).call(iMicro);
              }, () => {
                f.get(kc).get(pa).get(pb).get(tile).i32(NR * 4).i32(0).call(iMicro);
                f.get(tile).get(cp).get(ldc).get(mr).get(nr).get(accum).call(iTile);
              });
            });
          });
        });
      });
    });
  });
}
