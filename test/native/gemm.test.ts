/**
 * The native addon's sgemm (native/src) on every kernel path this CPU has, against a float64
 * reference computed in JS on the same float32 inputs, held in a shared WebAssembly.Memory as the
 * wasm backend holds them: all four transpose layouts, general strides, odd sizes, accumulation,
 * threads, and NaN, infinities, signed zeros and subnormals as a plain loop gives them. The addon
 * must be built (`npm run build:native`); only DESCENT_SKIP_NATIVE=1 (a machine that cannot build
 * it) or DESCENT_NATIVE=0 skips these tests.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Layout } from './harness.js';
import { checkProduct, expectLoaded, freeAll, native, pathsOnThisCpu, place, placeC, random, readC, reset, sgemm, skipSuite, uniform } from './harness.js';

expectLoaded();

describe('native sgemm: results', { skip: skipSuite }, () => {
  const addon = native!;
  const isas = native ? pathsOnThisCpu(native) : [];

  const SIZES = [1, 2, 3, 5, 7, 13, 17, 31, 33, 63, 65, 127, 129, 255, 257];
  const LAYOUTS: [Layout, Layout][] = [
    ['row', 'row'],
    ['col', 'row'],
    ['row', 'col'],
    ['col', 'col'],
  ];

  it('matches the reference in all four transpose layouts, odd sizes mixed for m, n and k', () => {
    reset();
    for (let s = 0; s < SIZES.length; s++) {
      // each size once as m, once as n and once as k, beside two others from across the list
      const [m, n, k] = [SIZES[s]!, SIZES[(s + 5) % SIZES.length]!, SIZES[(s + 10) % SIZES.length]!];
      for (const [m1, n1, k1] of [
        [m, n, k],
        [n, k, m],
        [k, m, n],
      ] as const) {
        const [la, lb] = LAYOUTS[s % 4]!;
        freeAll();
        const a = place(m1, k1, la, random),
          b = place(k1, n1, lb, random);
        checkProduct(addon, isas, a, b, `${m1}x${n1}x${k1} A ${la} B ${lb}`);
      }
    }
    reset();
  });

  it('matches the reference in every layout at 129 x 257 x 255 (several k, m and tile blocks) on 2 and 3 threads', () => {
    for (const [la, lb] of LAYOUTS) {
      reset();
      const a = place(129, 255, la, random),
        b = place(255, 257, lb, random);
      checkProduct(addon, isas, a, b, `129x257x255 A ${la} B ${lb}`, la === 'row' ? 3 : 2);
    }
    reset();
  });

  it('takes general and negative strides, and tall and wide products split over threads', () => {
    reset();
    checkProduct(addon, isas, place(37, 45, 'strided', random), place(45, 29, 'strided', random), 'strided');
    checkProduct(addon, isas, place(37, 45, 'negative', random), place(45, 29, 'negative', random), 'negative strides');
    checkProduct(addon, isas, place(21, 300, 'strided', random), place(300, 19, 'negative', random), 'strided x negative');
    freeAll();
    checkProduct(addon, isas, place(4000, 200, 'row', random), place(200, 5, 'row', random), 'tall (split by rows)', 2);
    freeAll();
    // n = 2100 is more than one column block (nc = 2048) of any path; both have over 2^20
    // multiply-adds, so they are split (smaller products run on the calling thread)
    checkProduct(addon, isas, place(3, 400, 'col', random), place(400, 2100, 'row', random), 'wide (split by columns)', 2);
    reset();
  });

  it('a small C over a long k (a weight gradient: k cut into fixed runs, partials added in order) matches, the same bits on 1 and 2 threads', () => {
    // 32 x 9 computes as C^T = B^T A^T (fewer padded tiles); 40 x 40 as it is; k spans 3-5 runs and a short last one
    for (const [m, n, k, la, lb] of [
      [32, 9, 9000, 'row', 'col'],
      [9, 32, 4100, 'col', 'row'],
      [40, 40, 6150, 'row', 'row'],
      [3, 5, 8193, 'col', 'col'],
    ] as const) {
      reset();
      checkProduct(addon, isas, place(m, k, la, random), place(k, n, lb, random), `split-K ${m}x${n}x${k} A ${la} B ${lb}`);
    }
    reset();
  });

  it('k = 0 writes zeros, or leaves C as it was when accumulating; m = 0 or n = 0 touches nothing', () => {
    reset();
    for (const isa of isas) {
      addon.setIsa(isa);
      const c = placeC(4, 5, () => NaN);
      addon.sgemm(4, 5, 0, 0, 0, 0, 0, 0, 0, c.off, c.rs, 0, 1);
      assert.deepEqual(Array.from(readC(c)), new Array(20).fill(0), isa);
      const c1 = placeC(4, 5, (i, j) => i + j);
      addon.sgemm(4, 5, 0, 0, 0, 0, 0, 0, 0, c1.off, c1.rs, 1, 1);
      assert.deepEqual(
        Array.from(readC(c1)),
        Array.from({ length: 20 }, (_, e) => Math.floor(e / 5) + (e % 5)),
        isa,
      );
      const before = readC(c1);
      addon.sgemm(0, 5, 3, 0, 0, 0, 0, 0, 0, c1.off, c1.rs, 0, 1);
      addon.sgemm(4, 0, 3, 0, 0, 0, 0, 0, 0, c1.off, c1.rs, 0, 1);
      assert.deepEqual(readC(c1), before, isa);
    }
    reset();
  });

  it('propagates NaN, infinities and signed zeros as a plain loop does, across k blocks', () => {
    reset();
    const m = 13,
      n = 37,
      k = 300;
    const small = (): number => Math.fround(uniform() * 4);
    const aVals = Array.from({ length: m * k }, small),
      bVals = Array.from({ length: k * n }, small);
    aVals[2 * k + 5] = NaN; // row 2 of C: all NaN
    aVals[4 * k + 10] = Infinity; // row 4: +-Inf by the sign of B(10, j) ...
    bVals[10 * n + 7] = 0; // ... except C(4, 7) = NaN, since Inf * 0 is NaN
    bVals[10 * n + 8] = -0; // ... and C(4, 8) = NaN (Inf * -0)
    aVals[6 * k + 3] = Infinity; // row 6: Inf from p = 3 in the first k block ...
    aVals[6 * k + 290] = -Infinity; // ... and -Inf from p = 290 in the second: NaN where B(3, j), B(290, j) have one sign
    bVals[100 * n + 20] = -Infinity; // column 20: -Inf * A(i, 100), NaN where that is 0
    aVals[9 * k + 100] = 0;
    for (let t = 0; t < 40; t++) aVals[Math.floor(uniform() * 0.5 * m * k + 0.5 * m * k)] = t % 2 ? 0 : -0;
    for (let t = 0; t < 20; t++) bVals[Math.floor((uniform() * 0.5 + 0.5) * k * n)] = t % 3 === 0 ? NaN : t % 3 === 1 ? Infinity : -Infinity;
    const a = place(m, k, 'row', (i, p) => aVals[i * k + p]!),
      b = place(k, n, 'row', (p, j) => bVals[p * n + j]!);
    checkProduct(addon, isas, a, b, 'specials');
    for (const isa of isas) {
      addon.setIsa(isa);
      const c = placeC(m, n, () => 0);
      sgemm(addon, a, b, c, 0, 1);
      const out = readC(c);
      assert.ok(Number.isNaN(out[2 * n]!) && Number.isNaN(out[4 * n + 7]!) && Number.isNaN(out[4 * n + 8]!) && Number.isNaN(out[9 * n + 20]!), isa);
    }
    reset();
  });

  it('gives +0 where every product is a zero (0 + -0 = +0), as the reference loop starting at 0 does', () => {
    reset();
    const zero = (): number => (uniform() < 0 ? -0 : 0);
    const a = place(5, 7, 'row', zero),
      b = place(7, 19, 'col', zero);
    for (const isa of isas) {
      addon.setIsa(isa);
      for (const accumulate of [0, 1] as const) {
        const c = placeC(5, 19, () => -0); // accumulating: -0 + (+0) = +0 too
        sgemm(addon, a, b, c, accumulate, 1);
        assert.ok(
          readC(c).every((x) => Object.is(x, 0)),
          `${isa} accumulate=${accumulate}`,
        );
      }
    }
    reset();
  });

  it('keeps subnormal products and sums (no flush to zero)', () => {
    reset();
    // C(i, j) = A(i, j') B(j', j) with one nonzero product: 2^-70 * 2^-75 = 2^-145 (subnormal, exact),
    // 2^-140 * 1 = 2^-140 and 2^-149 (the smallest subnormal) * 3 = 3 * 2^-149.
    const aVals = [2 ** -70, 2 ** -140, 2 ** -149],
      bVals = [2 ** -75, 1, 3];
    const a = place(3, 3, 'row', (i, p) => (i === p ? aVals[i]! : 0)),
      b = place(3, 3, 'row', (p, j) => (p === j ? bVals[p]! : 0));
    for (const isa of isas) {
      addon.setIsa(isa);
      const c = placeC(3, 3, () => NaN);
      sgemm(addon, a, b, c, 0, 1);
      const out = readC(c);
      assert.deepEqual([out[0], out[4], out[8]], [2 ** -145, 2 ** -140, 3 * 2 ** -149], isa);
      assert.ok(
        [1, 2, 3, 5, 6, 7].every((e) => Object.is(out[e], 0)),
        isa,
      );
      sgemm(addon, a, b, c, 1, 1); // subnormal + subnormal
      assert.deepEqual(
        Array.from(readC(c)).filter((_, e) => e % 4 === 0),
        [2 ** -144, 2 ** -139, 6 * 2 ** -149],
        isa,
      );
    }
    reset();
  });
});
