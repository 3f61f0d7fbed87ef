/** The wasm col2im and window-argmax kernels against the reference loops in backend/js/conv.ts. */
import '../helpers.js';
import { describe, it } from 'node:test';
import type { WindowLayout } from '../../src/backend/backend.js';
import { col2imReference, windowArgmaxReference } from '../../src/backend/js/conv.js';
import { Generator } from '../../src/index.js';
import { assertSame, jsBackend, pair, randomValues, release, wasmBackend } from './kernels.js';

const g = new Generator(9);

function layout(n: number, c: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number, dh: number, dw: number): WindowLayout {
  const outH = Math.floor((h - dh * (kh - 1) - 1) / sh) + 1,
    outW = Math.floor((w - dw * (kw - 1) - 1) / sw) + 1;
  return { n, c, h, w, kh, kw, strideH: sh, strideW: sw, dilationH: dh, dilationW: dw, outH, outW };
}

// 3x3 convolutions (stride 1: the vector path, outW 1..31 wide), strided and dilated windows, pooling
const LAYOUTS = [
  layout(2, 3, 9, 9, 3, 3, 1, 1, 1, 1),
  layout(1, 1, 3, 3, 3, 3, 1, 1, 1, 1),
  layout(3, 2, 33, 33, 3, 3, 1, 1, 1, 1),
  layout(2, 2, 11, 13, 3, 2, 2, 3, 1, 2),
  layout(2, 4, 8, 8, 2, 2, 2, 2, 1, 1),
  layout(1, 2, 7, 7, 3, 3, 2, 2, 1, 1),
  layout(2, 3, 26, 26, 2, 2, 2, 2, 1, 1), // max pooling 2x2: four windows per vector, then a tail
  layout(2, 2, 11, 11, 2, 2, 2, 2, 1, 1), // odd size: the last row and column belong to no window
  layout(1, 3, 9, 17, 2, 2, 2, 2, 1, 1),
  layout(1, 1, 4, 16, 2, 2, 2, 2, 1, 1), // windows end exactly at the row's end
  layout(1, 2, 21, 21, 3, 3, 2, 2, 1, 1),
  layout(1, 1, 9, 30, 2, 3, 1, 1, 2, 2),
];

describe('wasm convolution kernels vs reference', () => {
  it('col2im: every column entry added to its pixel, in the reference order (bit-identical)', () => {
    for (const l of LAYOUTS) {
      const nCols = l.c * l.kh * l.kw * l.n * l.outH * l.outW,
        nImg = l.n * l.c * l.h * l.w;
      const [cj, cw] = pair('float32', randomValues(g, nCols, true)); // NaN, infinities, zeros, subnormals among them
      const oj = jsBackend.alloc('float32', nImg),
        ow = wasmBackend.alloc('float32', nImg);
      ow.data.fill(7); // the kernel must clear it first
      col2imReference(cj, oj, l);
      wasmBackend.col2im!(cw, ow, l);
      assertSame(ow.data, oj.data, `col2im ${JSON.stringify(l)}`);
      release(cj, cw, oj, ow);
    }
  });

  it("window argmax: first maximum on ties, the last NaN wins (PyTorch's rule)", () => {
    for (const l of LAYOUTS) {
      for (const values of ['random', 'ties', 'nans'] as const) {
        const nImg = l.n * l.c * l.h * l.w;
        // ties: values from {0, 1} (many equal maxima); nans: from {0, 1, NaN} (windows with several
        // NaNs); random: with NaN, infinities, zeros and subnormals mixed in
        const v =
          values === 'ties'
            ? randomValues(g, nImg).map((x) => (x > 0 ? 1 : 0))
            : values === 'nans'
              ? randomValues(g, nImg).map((x) => (x > 0.3 ? NaN : x > 0 ? 1 : 0))
              : randomValues(g, nImg, true);
        const [xj, xw] = pair('float32', v);
        const nOut = l.n * l.c * l.outH * l.outW;
        const oj = jsBackend.alloc('int32', nOut),
          ow = wasmBackend.alloc('int32', nOut);
        windowArgmaxReference(xj, oj, l);
        wasmBackend.windowArgmax!(xw, ow, l);
        assertSame(ow.data, oj.data, `window argmax (${values}) ${JSON.stringify(l)}`);
        // the float32 reference is branch-free on integer keys; the float64 one is the plain loop
        const [x64] = pair('float64', Float32Array.from(v));
        const o64 = jsBackend.alloc('int32', nOut);
        windowArgmaxReference(x64, o64, l);
        assertSame(oj.data, o64.data, `window argmax (${values}), float32 reference vs the plain loop ${JSON.stringify(l)}`);
        release(xj, xw, oj, ow, x64, o64);
      }
    }
  });
});
