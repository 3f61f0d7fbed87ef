/**
 * Fast standard-normal samples for DP-SGD's noise (one per parameter per step, so half a million
 * or more each step): the ziggurat method of Marsaglia & Tsang (2000), "The Ziggurat Method for
 * Generating Random Variables", with 128 layers. The normal density is covered by 128 stacked
 * rectangles of equal area plus a tail; a sample picks a layer and a point in it, and about 99%
 * of the time the point lies inside the curve's region and is returned after one multiply and one
 * comparison (no log, no sine). The rest are settled exactly by rejection against the density,
 * or drawn from the tail beyond r = 3.4426 (Marsaglia's 1964 tail method), so the samples are
 * exactly normal, not an approximation.
 *
 * One 32-bit draw gives both the layer (its low 7 bits) and the signed point (its top 25 bits, a
 * multiple of 128 in [-2^31, 2^31)): disjoint bits, so unlike the original code, which reused
 * the index bits in the point, the two are independent. The point thus has 2^25 levels per layer.
 */
import type { Generator } from '../core/random.js';

const R = 3.442619855899; // where the tail starts
const V = 9.91256303526217e-3; // the area of each layer
const M = 2147483648; // 2^31: the signed 32-bit draw is scaled by wn[i] = x_i / 2^31
const kn = new Float64Array(128);
const wn = new Float64Array(128);
const fn = new Float64Array(128);
{
  let dn = R, tn = R;
  const q = V / Math.exp(-0.5 * dn * dn);
  kn[0] = Math.floor((dn / q) * M);
  kn[1] = 0;
  wn[0] = q / M;
  wn[127] = dn / M;
  fn[0] = 1;
  fn[127] = Math.exp(-0.5 * dn * dn);
  for (let i = 126; i >= 1; i--) {
    dn = Math.sqrt(-2 * Math.log(V / dn + Math.exp(-0.5 * dn * dn)));
    kn[i + 1] = Math.floor((dn / tn) * M);
    tn = dn;
    fn[i] = Math.exp(-0.5 * dn * dn);
    wn[i] = dn / M;
  }
}

/** A source of 32-bit draws: the generator's own stream, in order. */
type Draw = () => number;

/** Uniform in [0, 1) with 53 bits from two draws, exactly as Generator.nextFloat64. */
function uniform(next: Draw): number {
  const a = next() >>> 5, b = next() >>> 6;
  return (a * 67108864 + b) * 1.1102230246251565e-16;
}

/** Uniform in (0, 1], never 0 (for logarithms). */
function uniformOpen(next: Draw): number {
  return 1 - uniform(next);
}

/** One sample, its first draw u given and any further ones taken from next (the rare paths). */
function sample(u: number, next: Draw): number {
  for (;;) {
    const iz = u & 127;
    const hz = (u & ~127) | 0; // signed, top 25 bits
    const x = hz * wn[iz]!;
    // Inside the rectangle's part that lies wholly under the curve: accept at once.
    if (Math.abs(hz) < kn[iz]!) return x;
    if (iz === 0) {
      // The tail |x| > R: Marsaglia's method, exact for the normal tail.
      let tx: number, ty: number;
      do {
        tx = -Math.log(uniformOpen(next)) / R;
        ty = -Math.log(uniformOpen(next));
      } while (ty + ty < tx * tx);
      return hz > 0 ? R + tx : -R - tx;
    }
    // The wedge between the inner rectangle and the curve: accept if under the density.
    if (fn[iz]! + uniform(next) * (fn[iz - 1]! - fn[iz]!) < Math.exp(-0.5 * x * x)) return x;
    u = next();
  }
}

/** One standard-normal sample. */
export function ziggurat(g: Generator): number {
  const next = () => g.nextUint32();
  return sample(next(), next);
}

/**
 * Fill `out` with normal samples of the given standard deviation: the same samples as calling
 * ziggurat(g) out.length times (the same draws of g, in order), but the draws come in blocks from
 * Generator.fillUint32. A block never holds more draws than samples still to make, and each sample
 * takes at least one, so the generator ends exactly where the one-by-one calls would leave it.
 */
export function fillGaussian(out: Float32Array | Float64Array, std: number, g: Generator): void {
  const buf = new Uint32Array(Math.min(4096, out.length));
  // pos and len stay plain locals in the hot loop (a closure capturing them would keep them in
  // memory); the rare paths read the block through `at`
  let pos = 0, len = 0;
  const at = { pos: 0, len: 0 };
  const next: Draw = () => (at.pos < at.len ? buf[at.pos++]! : g.nextUint32());
  for (let i = 0; i < out.length; i++) {
    if (pos >= len) {
      len = Math.min(buf.length, out.length - i);
      g.fillUint32(len === buf.length ? buf : buf.subarray(0, len));
      pos = 0;
    }
    const u = buf[pos++]!;
    // the common case inline: inside the layer's inner rectangle
    const iz = u & 127, hz = (u & ~127) | 0;
    if (Math.abs(hz) < kn[iz]!) {
      out[i] = std * (hz * wn[iz]!);
    } else {
      at.pos = pos;
      at.len = len;
      out[i] = std * sample(u, next);
      pos = at.pos;
    }
  }
}
