/// <reference types="@webgpu/types" />
/**
 * Convolution's and pooling's optional kernels (Backend.col2im, windowArgmax) in WGSL, one
 * invocation per output element, as the reference loops in backend/js/conv.ts define them.
 * P = [outputs, n, c, h, w, kh, kw, strideH, strideW, dilationH, dilationW, outH, outW].
 */
import type { WindowLayout } from '../backend.js';
import { groupsFor } from './layout.js';
import type { GpuRuntime } from './runtime.js';
import type { GpuStorage } from './storage.js';
import { HEADER, loop } from './wgsl.js';

const LAYOUT = `
    let n = P[1]; let c = P[2]; let h = P[3]; let w = P[4]; let kh = P[5]; let kw = P[6];
    let sh = P[7]; let sw = P[8]; let dh = P[9]; let dw = P[10]; let outH = P[11]; let outW = P[12];`;

/**
 * col2im: each pixel (b, ch, y, x) of the image sums, in the reference's order (window offsets i,
 * then j), the column entries [ch, i, j, b, oh, ow] of the windows that cover it:
 * oh * strideH + i * dilationH = y and ow * strideW + j * dilationW = x.
 */
function col2imWgsl(): string {
  return `${HEADER}
@group(0) @binding(1) var<storage, read> C: array<f32>;
@group(0) @binding(2) var<storage, read_write> O: array<f32>;
${loop(`${LAYOUT}
    let x = i % w; let y = (i / w) % h; let ch = (i / (w * h)) % c; let b = i / (w * h * c);
    var acc = 0.0;
    for (var a = 0u; a < kh; a++) {
      if (y < a * dh || (y - a * dh) % sh != 0u || (y - a * dh) / sh >= outH) { continue; }
      let oh = (y - a * dh) / sh;
      for (var j = 0u; j < kw; j++) {
        if (x < j * dw || (x - j * dw) % sw != 0u || (x - j * dw) / sw >= outW) { continue; }
        let ow = (x - j * dw) / sw;
        acc = acc + C[((((ch * kh + a) * kw + j) * n + b) * outH + oh) * outW + ow];
      }
    }
    O[i] = acc;`)}`;
}

/** The first largest element's in-plane index per window; a NaN replaces the choice (the last NaN wins). */
function windowArgmaxWgsl(): string {
  return `${HEADER}
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> O: array<i32>;
${loop(`${LAYOUT}
    let ow = i % outW; let oh = (i / outW) % outH; let p = i / (outW * outH);
    let base = p * h * w;
    let first = base + oh * sh * w + ow * sw;
    var best = first; var bv = X[first];
    for (var a = 0u; a < kh; a++) {
      for (var j = 0u; j < kw; j++) {
        let q = first + a * dh * w + j * dw;
        let v = X[q];
        if (v > bv || isNan(v)) { bv = v; best = q; }
      }
    }
    O[i] = i32(best - base);`)}`;
}

const params = (count: number, l: WindowLayout) => [count, l.n, l.c, l.h, l.w, l.kh, l.kw, l.strideH, l.strideW, l.dilationH, l.dilationW, l.outH, l.outW];

export function convKernels(rt: GpuRuntime) {
  return {
    col2im(cols: GpuStorage, out: GpuStorage, l: WindowLayout): void {
      const count = l.n * l.c * l.h * l.w;
      if (count > 0) rt.dispatch('col2im', col2imWgsl, params(count, l), [cols.input(), out.output()], groupsFor(count));
    },
    windowArgmax(x: GpuStorage, out: GpuStorage, l: WindowLayout): void {
      const count = l.n * l.c * l.outH * l.outW;
      if (count > 0) rt.dispatch('windowArgmax', windowArgmaxWgsl, params(count, l), [x.input(), out.output()], groupsFor(count));
    },
  };
}
