/**
 * Packing for the GEMM: copying a block of A into MR-row strips laid out [p][r], and a block of B
 * into NR-column strips laid out [p][c], so the micro-kernel reads both sequentially. Elements are
 * addressed through byte strides, A(i, p) = src[i*rs + p*cs] and B(p, j) = src[p*rs + j*cs], which
 * is how transposed operands are read without being materialised.
 *
 * Full strips take vector paths: when the strip's elements are already adjacent in the packed
 * order they move as whole vectors, and when they are adjacent along the other index, 4x4 blocks
 * are transposed in registers (two rounds of lane shuffles). Edge strips are copied one element
 * at a time and padded with zeros.
 */
import type { Func, Local, ModuleBuilder } from './asm.js';

/** Byte pattern for i8x16.shuffle picking 32-bit lanes (0-3 from the first vector, 4-7 the second). */
function lanes(l: readonly number[]): number[] {
  return l.flatMap((x) => [4 * x, 4 * x + 1, 4 * x + 2, 4 * x + 3]);
}

/** out[q][j] = inp[j][q] for 4x4 float32 blocks held in v128 locals. */
function transpose4(f: Func, inp: readonly Local[], tmp: readonly Local[], out: readonly Local[]): void {
  const [r0, r1, r2, r3] = inp as [Local, Local, Local, Local];
  const [t0, t1, t2, t3] = tmp as [Local, Local, Local, Local];
  f.get(r0).get(r1).i8x16_shuffle(lanes([0, 4, 1, 5])).set(t0); // r0[0] r1[0] r0[1] r1[1]
  f.get(r0).get(r1).i8x16_shuffle(lanes([2, 6, 3, 7])).set(t1); // r0[2] r1[2] r0[3] r1[3]
  f.get(r2).get(r3).i8x16_shuffle(lanes([0, 4, 1, 5])).set(t2);
  f.get(r2).get(r3).i8x16_shuffle(lanes([2, 6, 3, 7])).set(t3);
  f.get(t0).get(t2).i8x16_shuffle(lanes([0, 1, 4, 5])).set(out[0]!); // column 0
  f.get(t0).get(t2).i8x16_shuffle(lanes([2, 3, 6, 7])).set(out[1]!);
  f.get(t1).get(t3).i8x16_shuffle(lanes([0, 1, 4, 5])).set(out[2]!);
  f.get(t1).get(t3).i8x16_shuffle(lanes([2, 3, 6, 7])).set(out[3]!);
}

/**
 * Copy `width` lines of a strip element by element: line q (< valid) reads kc elements from
 * base + q*lineStride stepping by step; lines past `valid` are zeros. Packed position of (p, q)
 * is dst + (p*width + q)*4.
 */
function scalarStrip(f: Func, width: number, base: Local, lineStride: Local, step: Local, valid: Local, kc: Local, dst: Local): void {
  const q = f.local('i32'), p = f.local('i32'), s = f.local('i32'), d = f.local('i32');
  f.for_(q, () => f.i32(0), () => f.i32(width), 1, () => {
    f.get(dst).get(q).i32(4).i32_mul().i32_add().set(d);
    f.get(q).get(valid).i32_lt_s().if_(() => {
      f.get(base).get(q).get(lineStride).i32_mul().i32_add().set(s);
      f.for_(p, () => f.i32(0), () => f.get(kc), 1, () => {
        f.get(d).get(s).f32_load().f32_store();
        f.get(s).get(step).i32_add().set(s);
        f.get(d).i32(width * 4).i32_add().set(d);
      });
    }, () => {
      f.for_(p, () => f.i32(0), () => f.get(kc), 1, () => {
        f.get(d).f32(0).f32_store();
        f.get(d).i32(width * 4).i32_add().set(d);
      });
    });
  });
}

/**
 * A group of 4 lines (each read along p with unit stride from line[q]) transposed into packed
 * rows of `width` floats at column offset colByte: dst + p*width*4 + colByte gets (p, 0..3).
 */
function transposedGroup(f: Func, width: number, line: readonly Local[], kc: Local, dst: Local, colByte: number, v: { inp: Local[]; tmp: Local[]; out: Local[] }): void {
  const p = f.local('i32'), p4 = f.local('i32'), d = f.local('i32');
  f.get(kc).i32(-4).i32_and().set(p4);
  f.for_(p, () => f.i32(0), () => f.get(p4), 4, () => {
    for (let q = 0; q < 4; q++) f.get(line[q]!).get(p).i32(4).i32_mul().i32_add().v128_load().set(v.inp[q]!);
    transpose4(f, v.inp, v.tmp, v.out);
    f.get(dst).get(p).i32(width * 4).i32_mul().i32_add().i32(colByte).i32_add().set(d);
    for (let q = 0; q < 4; q++) f.get(d).get(v.out[q]!).v128_store(q * width * 4);
  });
  f.for_(p, () => f.get(p4), () => f.get(kc), 1, () => {
    f.get(dst).get(p).i32(width * 4).i32_mul().i32_add().i32(colByte).i32_add().set(d);
    for (let q = 0; q < 4; q++) f.get(d).get(line[q]!).get(p).i32(4).i32_mul().i32_add().f32_load().f32_store(q * 4);
  });
}

function vecLocals(f: Func): { inp: Local[]; tmp: Local[]; out: Local[] } {
  const four = (): Local[] => [0, 1, 2, 3].map(() => f.local('v128'));
  return { inp: four(), tmp: four(), out: four() };
}

/** packA(src, rs, cs, mc, kc, dst): dst[strip][p][r] = A(strip*MR + r, p), zero past mc. MR must be 4. */
export function emitPackA(mod: ModuleBuilder, MR: number): Func {
  if (MR !== 4) throw new Error(`emitPackA: the vector paths assume MR = 4, got ${MR}`);
  return mod.func('gemm_packA', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [], (f, src, rs, cs, mc, kc, dst) => {
    const ir = f.local('i32'), rows = f.local('i32'), base = f.local('i32'), p = f.local('i32');
    const line = [0, 1, 2, 3].map(() => f.local('i32'));
    const v = vecLocals(f);
    f.for_(ir, () => f.i32(0), () => f.get(mc), MR, () => {
      f.get(mc).get(ir).i32_sub().set(rows);
      f.get(src).get(ir).get(rs).i32_mul().i32_add().set(base);
      f.get(rows).i32(MR).i32_ge_s().get(cs).i32(4).i32_eq().i32_and().if_(() => {
        // rows of A contiguous along p: transpose 4x4 blocks
        for (let q = 0; q < 4; q++) f.get(base).i32(q).get(rs).i32_mul().i32_add().set(line[q]!);
        transposedGroup(f, MR, line, kc, dst, 0, v);
      }, () => {
        f.get(rows).i32(MR).i32_ge_s().get(rs).i32(4).i32_eq().i32_and().if_(() => {
          // A stored transposed: the strip's 4 rows are adjacent for each p
          f.for_(p, () => f.i32(0), () => f.get(kc), 1, () => {
            f.get(dst).get(p).i32(16).i32_mul().i32_add().get(base).get(p).get(cs).i32_mul().i32_add().v128_load().v128_store();
          });
        }, () => scalarStrip(f, MR, base, rs, cs, rows, kc, dst));
      });
      f.get(dst).get(kc).i32(MR * 4).i32_mul().i32_add().set(dst);
    });
  }, false);
}

/** packB(src, rs, cs, kc, nc, dst): dst[strip][p][c] = B(p, strip*NR + c), zero past nc. NR a multiple of 4. */
export function emitPackB(mod: ModuleBuilder, NR: number): Func {
  const NV = NR / 4;
  return mod.func('gemm_packB', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [], (f, src, rs, cs, kc, nc, dst) => {
    const jr = f.local('i32'), cols = f.local('i32'), base = f.local('i32'), p = f.local('i32'), s = f.local('i32'), d = f.local('i32');
    const line = [0, 1, 2, 3].map(() => f.local('i32'));
    const v = vecLocals(f);
    f.for_(jr, () => f.i32(0), () => f.get(nc), NR, () => {
      f.get(nc).get(jr).i32_sub().set(cols);
      f.get(src).get(jr).get(cs).i32_mul().i32_add().set(base);
      f.get(cols).i32(NR).i32_ge_s().get(cs).i32(4).i32_eq().i32_and().if_(() => {
        // rows of B contiguous: each p copies NV vectors
        f.get(base).set(s);
        f.get(dst).set(d);
        f.for_(p, () => f.i32(0), () => f.get(kc), 1, () => {
          for (let h = 0; h < NV; h++) f.get(d).get(s).v128_load(16 * h).v128_store(16 * h);
          f.get(s).get(rs).i32_add().set(s);
          f.get(d).i32(NR * 4).i32_add().set(d);
        });
      }, () => {
        f.get(cols).i32(NR).i32_ge_s().get(rs).i32(4).i32_eq().i32_and().if_(() => {
          // B stored transposed (columns contiguous along p): transpose 4x4 blocks per 4 columns
          for (let g = 0; g < NV; g++) {
            for (let q = 0; q < 4; q++) f.get(base).i32(4 * g + q).get(cs).i32_mul().i32_add().set(line[q]!);
            transposedGroup(f, NR, line, kc, dst, 16 * g, v);
          }
        }, () => scalarStrip(f, NR, base, cs, rs, cols, kc, dst));
      });
      f.get(dst).get(kc).i32(NR * 4).i32_mul().i32_add().set(dst);
    });
  }, false);
}
