/**
 * The wasm gather/scatterAdd and indexSelect/indexAdd kernels against the reference backend, on
 * values with NaN, +-Infinity, +-0 and subnormals among them (moved as bits, added in the same order).
 */
import '../helpers.js';
import { describe, it } from 'node:test';
import { Generator } from '../../src/index.js';
import { assertSame, jsBackend, pair, randomValues, release, wasmBackend } from './kernels.js';

const g = new Generator(13);

describe('wasm gather and scatterAdd vs reference', () => {
  it('float32 and int32 gather, float32 scatterAdd (repeated indices add up in order)', () => {
    // inner = 1 takes the last-axis path (several outer slices: each starts at its own slice)
    for (const [outer, n, inner, m] of [
      [1, 7, 1, 3],
      [3, 5, 4, 6],
      [2, 33, 7, 1],
      [1, 10, 1, 64],
      [5, 9, 1, 4],
      [3, 4, 1, 11],
    ] as const) {
      const size = outer * n * inner,
        q = outer * m * inner;
      const idxv = Array.from({ length: q }, () => Math.floor(g.nextFloat64() * n));
      const [ij, iw] = pair('int32', idxv);
      for (const dtype of ['float32', 'int32'] as const) {
        const [xj, xw] = pair(
          dtype,
          randomValues(g, size, true).map((v) => (dtype === 'int32' ? (Number.isFinite(v) ? Math.round(v * 100) : 7) : v)),
        );
        const oj = jsBackend.alloc(dtype, q),
          ow = wasmBackend.alloc(dtype, q);
        jsBackend.gather(xj, ij, oj, { outer, n, inner, m });
        wasmBackend.gather(xw, iw, ow, { outer, n, inner, m });
        assertSame(ow.data, oj.data, `gather ${dtype} [${outer}, ${n}, ${inner}] m=${m}`);
        release(xj, xw, oj, ow);
      }
      const [sj, sw] = pair('float32', randomValues(g, q, true));
      const [tj, tw] = pair('float32', randomValues(g, size, true));
      jsBackend.scatterAdd(sj, ij, tj, { outer, n, inner, m });
      wasmBackend.scatterAdd(sw, iw, tw, { outer, n, inner, m });
      assertSame(tw.data, tj.data, `scatterAdd [${outer}, ${n}, ${inner}] m=${m}`);
      // scatterAddZeroed: out starts as zeros whatever it held (junk here), slice by slice
      tj.data.fill(7);
      tw.data.fill(7);
      jsBackend.fill(tj, 0);
      jsBackend.scatterAdd(sj, ij, tj, { outer, n, inner, m });
      wasmBackend.scatterAddZeroed!(sw, iw, tw, { outer, n, inner, m });
      assertSame(tw.data, tj.data, `scatterAdd into zeros [${outer}, ${n}, ${inner}] m=${m}`);
      assertSame(
        tj.data,
        Array.from(tj.data, (_, k) => {
          let want = 0;
          const o = Math.floor(k / (n * inner)),
            r = k % (n * inner),
            a = Math.floor(r / inner),
            i = r % inner;
          for (let j = 0; j < m; j++) if (ij.data[(o * m + j) * inner + i] === a) want = Math.fround(want + sj.data[(o * m + j) * inner + i]!);
          return want;
        }),
        `scatterAdd into zeros, by hand [${outer}, ${n}, ${inner}] m=${m}`,
      );
      release(ij, iw, sj, sw, tj, tw);
    }
  });
});

describe('wasm indexSelect and indexAdd vs reference', () => {
  it('rows of every dtype (short rows by words, long rows by memory.copy); float32 index additions with repeats', () => {
    for (const [outer, n, inner, m] of [
      [1, 9, 1, 4],
      [2, 5, 3, 7],
      [1, 40, 33, 64],
      [3, 6, 257, 5],
    ] as const) {
      const [ij, iw] = pair(
        'int32',
        Array.from({ length: m }, () => Math.floor(g.nextFloat64() * n)),
      );
      for (const dtype of ['float32', 'int32', 'float64'] as const) {
        const [xj, xw] = pair(
          dtype,
          randomValues(g, outer * n * inner, true).map((v) => (dtype === 'int32' ? (Number.isFinite(v) ? Math.round(v * 100) : 7) : v)),
        );
        const oj = jsBackend.alloc(dtype, outer * m * inner),
          ow = wasmBackend.alloc(dtype, outer * m * inner);
        jsBackend.indexSelect(xj, ij, oj, { outer, n, inner, m });
        wasmBackend.indexSelect(xw, iw, ow, { outer, n, inner, m });
        assertSame(ow.data, oj.data, `indexSelect ${dtype} [${outer}, ${n}, ${inner}] m=${m}`);
        release(xj, xw, oj, ow);
      }
      const [sj, sw] = pair('float32', randomValues(g, outer * m * inner, true));
      const [tj, tw] = pair('float32', randomValues(g, outer * n * inner, true));
      jsBackend.indexAdd(sj, ij, tj, { outer, n, inner, m });
      wasmBackend.indexAdd(sw, iw, tw, { outer, n, inner, m });
      assertSame(tw.data, tj.data, `indexAdd [${outer}, ${n}, ${inner}] m=${m}`);
      release(ij, iw, sj, sw, tj, tw);
    }
  });
});
