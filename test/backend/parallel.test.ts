/**
 * The wasm kernels that split one call across threads (parallel.ts, copy4d, split-K GEMM): with two
 * threads on inputs large enough to be split (>= 2^15 elements) they must give the reference's bits
 * (or, for the GEMM, the single-thread bits and the reference within float32 rounding). The native
 * kernels are turned off here (with them, wasm calls under 2^18 elements run on one thread).
 */
import '../helpers.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MatmulLayout, WindowLayout } from '../../src/backend/backend.js';
import { getNumThreads, setNumThreads } from '../../src/backend/index.js';
import { col2imReference, windowArgmaxReference } from '../../src/backend/js/conv.js';
import { useNativeGemm } from '../../src/backend/wasm/native-gemm.js';
import { parallelCalls } from '../../src/backend/wasm/parallel.js';
import { contiguousStrides } from '../../src/core/shape.js';
import { Generator } from '../../src/index.js';
import { assertSame, jsBackend, pair, randomValues, release, wasmBackend } from './kernels.js';

const g = new Generator(11);

/** With n threads and the native kernels off (these are the wasm kernels' splits; native ones have their own tests). */
function withThreads(n: number, fn: () => void): void {
  const before = getNumThreads();
  setNumThreads(n);
  useNativeGemm(false);
  try {
    fn();
  } finally {
    useNativeGemm(true);
    setNumThreads(before);
  }
}

describe('wasm kernels split across threads', () => {
  it('im2col-shaped and permuting copies (six and four dimensions, odd sizes) equal the reference', () => {
    // im2col of x [6, 7, 31, 29] with 3x3 windows: [C, kh, kw, N, OH, OW] = [7, 3, 3, 6, 29, 27]
    // reading x at strides (H W, W, 1, C H W, W, 1); then a [N, C, H W] -> [C, N, H W] permute
    const [n, c, h, w] = [6, 7, 31, 29]; // 37,758 elements: above the 2^15 threshold
    const cases: [number[], number[]][] = [
      [
        [c, 3, 3, n, h - 2, w - 2],
        [h * w, w, 1, c * h * w, w, 1],
      ],
      [
        [c, n, h, w],
        [h * w, c * h * w, w, 1],
      ],
      [
        [c * n, h * w],
        [1, c * n],
      ], // a transpose: neither side has unit steps along the row
    ];
    withThreads(2, () => {
      for (const [shape, ss] of cases) {
        const size = shape.reduce((a, b) => a * b, 1);
        const [sj, sw] = pair('float32', randomValues(g, n * c * h * w, true));
        const dj = jsBackend.alloc('float32', size),
          dw = wasmBackend.alloc('float32', size);
        jsBackend.copy(sj, dj, shape, 0, ss, 0, contiguousStrides(shape));
        wasmBackend.copy(sw, dw, shape, 0, ss, 0, contiguousStrides(shape));
        assertSame(dw.data, dj.data, `copy [${shape}] strides [${ss}]`);
        release(sj, sw, dj, dw);
      }
    });
  });

  it('col2im and window argmax over thread-sized ranges of channels and planes equal the reference', () => {
    const conv: WindowLayout = { n: 6, c: 7, h: 31, w: 31, kh: 3, kw: 3, strideH: 1, strideW: 1, dilationH: 1, dilationW: 1, outH: 29, outW: 29 };
    const pool: WindowLayout = { n: 6, c: 7, h: 31, w: 31, kh: 2, kw: 2, strideH: 2, strideW: 2, dilationH: 1, dilationW: 1, outH: 15, outW: 15 };
    withThreads(2, () => {
      const nCols = conv.c * 9 * conv.n * conv.outH * conv.outW,
        nImg = conv.n * conv.c * conv.h * conv.w;
      const [cj, cw] = pair('float32', randomValues(g, nCols));
      const oj = jsBackend.alloc('float32', nImg),
        ow = wasmBackend.alloc('float32', nImg);
      ow.data.fill(7); // the backend must clear it first
      col2imReference(cj, oj, conv);
      wasmBackend.col2im!(cw, ow, conv);
      assertSame(ow.data, oj.data, 'col2im');
      const [xj, xw] = pair('float32', randomValues(g, nImg, true));
      const nOut = pool.n * pool.c * pool.outH * pool.outW;
      const aj = jsBackend.alloc('int32', nOut),
        aw = wasmBackend.alloc('int32', nOut);
      windowArgmaxReference(xj, aj, pool);
      wasmBackend.windowArgmax!(xw, aw, pool);
      assertSame(aw.data, aj.data, 'window argmax');
      release(cj, cw, oj, ow, xj, xw, aj, aw);
    });
  });

  it('split-K GEMM (small output, k >= 8192): the same bits on 1 and 2 threads, the reference within rounding', () => {
    // [32, 9] and [16, 3] run transposed (C^T = B^T A^T wastes less of the 4 x 8 tiles), [5, 7] as is
    for (const [m, n, k, transB] of [
      [32, 9, 9001, true],
      [16, 3, 9001, false],
      [5, 7, 8192 * 2 + 3, false],
    ] as const) {
      const l: MatmulLayout = { batch: 1, m, n, k, transA: false, transB, aOffsets: [0], bOffsets: [0] };
      const av = randomValues(g, m * k),
        bv = randomValues(g, k * n);
      const [aj, aw] = pair('float32', av),
        [bj, bw] = pair('float32', bv);
      const oj = jsBackend.alloc('float32', m * n),
        one = wasmBackend.alloc('float32', m * n),
        two = wasmBackend.alloc('float32', m * n);
      withThreads(1, () => wasmBackend.matmul(aw, bw, one, l));
      withThreads(2, () => wasmBackend.matmul(aw, bw, two, l));
      assert.deepEqual([...two.data], [...one.data], `m=${m} n=${n} k=${k}: threads change the result`);
      // float32 accumulation of a length-k dot product errs by at most ~k 2^-24 sum |a b| (we allow 2x)
      jsBackend.matmul(aj, bj, oj, l);
      const [aa] = pair('float32', av.map(Math.abs)),
        [ba] = pair('float32', bv.map(Math.abs));
      const bound = jsBackend.alloc('float32', m * n);
      jsBackend.matmul(aa, ba, bound, l);
      for (let i = 0; i < m * n; i++) {
        const tol = 2 * k * 2 ** -24 * bound.data[i]!;
        assert.ok(Math.abs(one.data[i]! - oj.data[i]!) <= tol, `m=${m} n=${n} k=${k}: element ${i}: ${one.data[i]} vs ${oj.data[i]}`);
      }
      release(aj, aw, bj, bw, oj, one, two, aa, ba, bound);
    }
  });

  it('zero fill, row sums and gathers over thread-sized ranges equal the reference', () => {
    withThreads(2, () => {
      const [rows, cols] = [37, 4099];
      const [xj, xw] = pair('float32', randomValues(g, rows * cols));
      const sj = jsBackend.alloc('float32', rows),
        sw = wasmBackend.alloc('float32', rows);
      jsBackend.reduce('sum', xj, sj, [rows, cols], [1]);
      wasmBackend.reduce('sum', xw, sw, [rows, cols], [1]);
      assertSame(sw.data, sj.data, 'row sums');
      // odd byte count (the last range takes the tail): every element becomes +0
      const z = wasmBackend.alloc('float32', 33 * 1001);
      z.data.fill(3);
      wasmBackend.fill(z, 0);
      assert.ok(
        z.data.every((v) => Object.is(v, 0)),
        'zero fill',
      );
      // max pooling's gather and its gradient's scatter-add: [outer, n] read/added at [outer, m] indices
      const idxv = Array.from({ length: rows * 1000 }, () => Math.floor(g.nextFloat64() * cols));
      const [ij, iw] = pair('int32', idxv);
      const l = { outer: rows, n: cols, inner: 1, m: 1000 };
      const gj = jsBackend.alloc('float32', rows * 1000),
        gw = wasmBackend.alloc('float32', rows * 1000);
      jsBackend.gather(xj, ij, gj, l);
      wasmBackend.gather(xw, iw, gw, l);
      assertSame(gw.data, gj.data, 'gather');
      const aj = jsBackend.alloc('float32', rows * cols),
        aw = wasmBackend.alloc('float32', rows * cols);
      jsBackend.fill(aj, 0);
      wasmBackend.fill(aw, 0);
      jsBackend.scatterAdd(gj, ij, aj, l);
      wasmBackend.scatterAdd(gw, iw, aw, l);
      assertSame(aw.data, aj.data, 'scatter-add (repeated indices)');
      aj.data.fill(3);
      aw.data.fill(3);
      jsBackend.fill(aj, 0);
      jsBackend.scatterAdd(gj, ij, aj, l);
      wasmBackend.scatterAddZeroed!(gw, iw, aw, l);
      assertSame(aw.data, aj.data, 'scatter-add into zeros, each thread clearing its own slices');
      release(xj, xw, sj, sw, z, ij, iw, gj, gw, aj, aw);
    });
  });

  it('a kernel that traps on a worker reports the trap, and the pool goes on working', async () => {
    const before = getNumThreads();
    setNumThreads(2);
    try {
      const big = wasmBackend.alloc('float32', 1 << 24); // 64 MiB
      const p = (big as unknown as { writePtr(): number }).writePtr();
      parallelCalls('zero', [
        [p, 1 << 20],
        [p, 1 << 20],
      ]); // start the worker
      await new Promise((r) => setTimeout(r, 300));
      // a long fill first (the calling thread takes it), then fills past the 2 GiB maximum that
      // trap: the worker meets them while the calling thread is busy
      const bad = Array.from({ length: 8 }, () => [0x7ff00000 + 0x100000, 16]);
      const messages: string[] = [];
      for (let i = 0; i < 10; i++) {
        assert.throws(
          () => parallelCalls('zero', [[p, 1 << 26], ...bad]),
          (e: Error) => (messages.push(e.message), true),
        );
      }
      for (const m of messages) assert.match(m, /memory access out of bounds/);
      assert.ok(
        messages.some((m) => /a kernel \(zero\) failed on a worker thread: memory access out of bounds/.test(m)),
        messages.join('\n'),
      );
      big.data.fill(5);
      wasmBackend.fill(big, 0);
      assert.ok(
        big.data.every((v) => Object.is(v, 0)),
        'zero fill after the failures',
      );
      release(big);
    } finally {
      setNumThreads(before);
    }
  });
});
