/**
 * Fast standard-normal samples for DP-SGD's noise (one per parameter per step, so half a million
 * or more each step): the ziggurat method of Marsaglia & Tsang (2000), "The Ziggurat Method for
 * Generating Random Variables", with 128 layers. The normal density is covered by 128 stacked
 * rectangles of equal area plus a tail; a sample picks a layer and a point in it, and about 97%
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
import type { Tensor } from '../core/tensor.js';
import { onDevice } from '../core/storage.js';
import { zeros } from '../ops/creation.js';
import { zigguratMapInPlace } from '../ops/sampling.js';

const R = 3.442619855899; // where the tail starts
const V = 9.91256303526217e-3; // the area of each layer
const M = 2147483648; // 2^31: the signed 32-bit draw is scaled by wn[i] = x_i / 2^31
const kn = new Float64Array(128);
const wn = new Float64Array(128);
const fn = new Float64Array(128);
{
  let dn = R,
    tn = R;
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
  const a = next() >>> 5,
    b = next() >>> 6;
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

/** kn then wn, for the backend's kernel. */
const TABLES = new Float64Array(256);
TABLES.set(kn, 0);
TABLES.set(wn, 128);

/**
 * The common case over draws already made: out[i] = std * (hz * wn[iz]) where the draw is inside
 * its layer's inner rectangle; the others' indices are returned. out may be the draws' own memory
 * (each draw is read before its slot is written).
 */
function mapDraws(draws: Uint32Array, out: Float32Array | Float64Array, std: number): number[] {
  const rare: number[] = [];
  for (let i = 0; i < draws.length; i++) {
    const u = draws[i]!;
    const iz = u & 127,
      hz = (u & ~127) | 0;
    if (Math.abs(hz) < kn[iz]!) out[i] = std * (hz * wn[iz]!);
    else rare.push(i);
  }
  return rare;
}

/**
 * Settle the samples at indices `rare` (their first draws in `draws`) from a stream forked from g.
 * out may be the draws' own memory: each rare slot is read before it is written.
 */
function settleRare(out: Float32Array | Float64Array, rare: ArrayLike<number>, draws: Uint32Array, std: number, g: Generator): void {
  const r = g.fork();
  const next: Draw = () => r.nextUint32();
  for (let k = 0; k < rare.length; k++) out[rare[k]!] = std * sample(draws[rare[k]!]!, next);
}

/**
 * Fill `out` with normal samples of the given standard deviation, one draw of g per sample: the
 * n draws are taken at once (Generator.fillUint32) and mapped in one tight loop; the ~3% of
 * samples outside their layer's inner rectangle are then settled in order with draws from a
 * generator forked from g (the wedge and tail tests and any retry need more random numbers, which
 * must be independent of the first draw: a separate stream is). Exactly normal, reproducible from
 * g's state, and g advances by n + 4 draws (the fork) whatever the samples were.
 */
export function fillGaussian(out: Float32Array | Float64Array, std: number, g: Generator): void {
  const draws = new Uint32Array(out.length);
  g.fillUint32(draws);
  settleRare(out, mapDraws(draws, out, std), draws, std, g);
}

/**
 * A tensor of normal samples: the same numbers as fillGaussian into an array of its dtype, made
 * in the tensor's own storage. For float32 the draws are written there as bits and mapped in
 * place, by the backend's kernel where it has one (Backend.zigguratMap): DP-SGD draws one sample
 * per parameter every step.
 */
export function gaussianTensor(shape: readonly number[], dtype: 'float32' | 'float64', std: number, g: Generator): Tensor {
  const t = zeros([...shape], { dtype });
  // float64, and a GPU backend's fresh storage (its host array, uploaded when a kernel reads it):
  // the samples drawn straight into the host array, the same numbers
  if (dtype === 'float64' || onDevice(t.storage)) {
    fillGaussian(t.data as Float32Array | Float64Array, std, g);
    return t;
  }
  const bits = (): Uint32Array => {
    const d = t.data;
    return new Uint32Array(d.buffer, d.byteOffset, t.size);
  };
  g.fillUint32(bits());
  const kernel = zigguratMapInPlace(t, std, TABLES);
  // the rare draws are still in place (views are taken afresh: a kernel call may grow the memory)
  const rare = kernel ?? mapDraws(bits(), t.data as Float32Array, std);
  settleRare(t.data as Float32Array, rare, bits(), std, g);
  return t;
}
