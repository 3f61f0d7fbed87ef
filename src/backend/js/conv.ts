/**
 * Reference kernels for convolution and pooling (the optional Backend members col2im and
 * windowArgmax). They read and write `storage.data`, so they run on any backend's storage; a
 * backend with a faster version provides it as a Backend member and the ops prefer that.
 */
import type { Storage } from '../../core/storage.js';
import type { WindowLayout } from '../backend.js';

/**
 * col2im: out[n, c, oh*sh + i*dh, ow*sw + j*dw] += cols[c, i, j, n, oh, ow] over every column
 * entry, out starting at zero; a pixel covered by k windows receives the sum of k entries. The
 * columns are read in order; the additions happen in that order.
 */
export function col2imReference(cols: Storage, out: Storage, l: WindowLayout): void {
  const cd = cols.data,
    od = out.data;
  const { n, c, h, w, kh, kw, strideH, strideW, dilationH, dilationW, outH, outW } = l;
  od.fill(0);
  const plane = h * w,
    rowStep = strideH * w;
  let k = 0;
  for (let ch = 0; ch < c; ch++)
    for (let i = 0; i < kh; i++)
      for (let j = 0; j < kw; j++)
        for (let b = 0; b < n; b++) {
          let row = (b * c + ch) * plane + i * dilationH * w + j * dilationW;
          for (let oh = 0; oh < outH; oh++, row += rowStep) {
            for (let ow = 0, q = row; ow < outW; ow++, q += strideW) od[q] = od[q]! + cd[k++]!;
          }
        }
}

/**
 * Max pooling's selection: for each (n, c) plane and each window, the flat in-plane index of the
 * largest element. Ties keep the first element met (row-major inside the window); a NaN replaces
 * whatever was chosen, so the last NaN wins: PyTorch's CPU rule, `val > maxval || isnan(val)`.
 */
export function windowArgmaxReference(x: Storage, out: Storage, l: WindowLayout): void {
  const xd = x.data;
  if (xd instanceof Float32Array) return windowArgmaxF32(new Int32Array(xd.buffer, xd.byteOffset, xd.length), out, l);
  const od = out.data;
  const { n, c, h, w, kh, kw, strideH, strideW, dilationH, dilationW, outH, outW } = l;
  const plane = h * w,
    rowStep = dilationH * w;
  let o = 0;
  for (let p = 0; p < n * c; p++) {
    const base = p * plane;
    for (let oh = 0; oh < outH; oh++) {
      const top = base + oh * strideH * w;
      for (let ow = 0; ow < outW; ow++) {
        const first = top + ow * strideW;
        let best = first;
        let bv = xd[first]!;
        for (let i = 0, row = first; i < kh; i++, row += rowStep) {
          for (let j = 0, q = row; j < kw; j++, q += dilationW) {
            const v = xd[q]!;
            // larger, or any NaN (nothing compares greater than a NaN once it is chosen)
            if (v > bv || v !== v) {
              bv = v;
              best = q;
            }
          }
        }
        od[o++] = best - base;
      }
    }
  }
}

/**
 * The same selection for float32, without data-dependent branches (a comparison of random values
 * mispredicts half the time, which made the branchy loop 3x slower on activations). Each float's
 * bits become an integer key with the same order (sortKey).
 * The running maximum is then updated arithmetically: c = 1 exactly when key > best or the key is a
 * NaN's (above +Infinity's, 0x7f800000), each computed as -floor((b - key) / 2^32) (the difference
 * of two int32 is below 2^32 in magnitude).
 */
function windowArgmaxF32(xi: Int32Array, out: Storage, l: WindowLayout): void {
  const od = out.data;
  const { n, c, h, w, kh, kw, strideH, strideW, dilationH, dilationW, outH, outW } = l;
  const plane = h * w,
    rowStep = dilationH * w;
  const S = 2 ** -32;
  let o = 0;
  for (let p = 0; p < n * c; p++) {
    const base = p * plane;
    for (let oh = 0; oh < outH; oh++) {
      const top = base + oh * strideH * w;
      for (let ow = 0; ow < outW; ow++) {
        const first = top + ow * strideW;
        let best = first;
        let bk = sortKey(xi[first]!);
        for (let i = 0, row = first; i < kh; i++, row += rowStep) {
          for (let j = 0, q = row; j < kw; j++, q += dilationW) {
            const key = sortKey(xi[q]!);
            const take = -Math.floor((bk - key) * S) | -Math.floor((0x7f800000 - key) * S); // 1 when key > bk or NaN, else 0
            bk += take * (key - bk);
            best += take * (q - best);
          }
        }
        od[o++] = best - base;
      }
    }
  }
}

/**
 * An integer with the float32's order: +-magnitude bits (so -0 and +0 tie, as they compare equal),
 * and a NaN of either sign counts as positive, above +Infinity.
 */
function sortKey(bits: number): number {
  const mag = bits & 0x7fffffff;
  const sign = (bits >> 31) & ~((0x7f800000 - mag) >> 31); // -1 for a negative number, 0 otherwise
  return (mag ^ sign) - sign;
}
