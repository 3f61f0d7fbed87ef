/** The ziggurat normal sampler: moments, the distribution (Kolmogorov-Smirnov), the tail, seeding. */
import '../helpers.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../../src/index.js';
import { fillGaussian, gaussianTensor, ziggurat } from '../../src/stats/gaussian.js';

/** Phi(x), the standard normal CDF, to about 1e-12 for |x| < 4.2 (where every sample that matters lies). */
function phi(x: number): number {
  // Phi(x) = (1 + erf(x / sqrt 2)) / 2, erf by its Taylor series for |x| < 3, else the asymptotic tail.
  const z = x / Math.SQRT2;
  if (Math.abs(z) < 3) {
    let term = z,
      s = z;
    for (let n = 1; n < 100; n++) {
      term *= (-z * z) / n;
      s += term / (2 * n + 1);
    }
    return 0.5 + s / Math.sqrt(Math.PI);
  }
  return x > 0 ? 1 : 0; // beyond 4.2 sigma the CDF is within 1e-5 of 0 or 1
}

describe('ziggurat', () => {
  const n = 200_000;
  const s = new Float64Array(n);
  fillGaussian(s, 1, new d.Generator(11));

  it('has mean 0, variance 1, kurtosis 3 (within 5 standard errors)', () => {
    let m = 0,
      v = 0,
      k = 0;
    for (const x of s) m += x / n;
    for (const x of s) {
      v += (x - m) ** 2 / n;
      k += (x - m) ** 4 / n;
    }
    assert.ok(Math.abs(m) < 5 / Math.sqrt(n), `mean ${m}`); // se 1/sqrt(n) = 0.0022
    assert.ok(Math.abs(v - 1) < 5 * Math.sqrt(2 / n), `variance ${v}`); // se sqrt(2/n) = 0.0032
    assert.ok(Math.abs(k / (v * v) - 3) < 5 * Math.sqrt(24 / n), `kurtosis ${k / (v * v)}`);
  });

  it('follows the normal CDF (Kolmogorov-Smirnov) and has the right tail mass beyond the ziggurat base r = 3.4426', () => {
    const sorted = Float64Array.from(s).sort();
    let dmax = 0;
    for (let i = 0; i < n; i += 7) dmax = Math.max(dmax, Math.abs(phi(sorted[i]!) - (i + 0.5) / n));
    // the 0.1% critical value of the KS statistic is 1.95 / sqrt(n) = 0.0044
    assert.ok(dmax < 1.95 / Math.sqrt(n), `KS distance ${dmax}`);
    // P(|Z| > 3.4426) = 2 (1 - Phi(3.4426)) = 5.76e-4: expect 115 of 200,000 (sd 10.7)
    const tail = s.filter((x) => Math.abs(x) > 3.442619855899).length;
    assert.ok(Math.abs(tail - 115.2) < 5 * 10.7, `tail count ${tail}`);
  });

  it('draws the tail beyond r with the normal shape: mean excess phi(r)/Q(r) - r', () => {
    const big = new Float64Array(2_000_000);
    fillGaussian(big, 1, new d.Generator(12));
    const r = 3.442619855899;
    const tail = big.filter((x) => Math.abs(x) > r);
    const excess = tail.reduce((a, x) => a + Math.abs(x) - r, 0) / tail.length;
    const Q = 1 - phi(r),
      density = Math.exp((-r * r) / 2) / Math.sqrt(2 * Math.PI);
    // E[Z - r | Z > r] = phi(r) / Q(r) - r = 0.254; its sd over ~1150 tail samples is about 0.24 / sqrt(1150) = 0.007
    assert.ok(Math.abs(excess - (density / Q - r)) < 0.035, `mean excess ${excess}, expected ${density / Q - r}`);
  });

  it('is reproducible from the seed and scales by std', () => {
    const a = new Float32Array(10),
      b = new Float32Array(10);
    fillGaussian(a, 2, new d.Generator(3));
    fillGaussian(b, 1, new d.Generator(3));
    assert.deepEqual(
      Array.from(a),
      Array.from(b, (v) => Math.fround(2 * v)),
    );
    // ziggurat(g) draws as many numbers as its sample needs; fillGaussian one per sample (see below)
    const g = new d.Generator(3);
    assert.equal(Math.fround(ziggurat(g)), b[0]);
  });

  it('takes one draw of g per sample, settles the rare ones from a fork, and a tensor gets the same numbers on any backend', () => {
    const n2 = 20_000; // ~1% rare samples (wedge and tail), settled after the common ones
    const filled = new Float32Array(n2);
    const g1 = new d.Generator(21),
      g2 = new d.Generator(21);
    fillGaussian(filled, 0.5, g1);
    // g gave one draw per sample, then the rare samples' stream was forked from it
    g2.fillUint32(new Uint32Array(n2));
    g2.fork(); // the rare samples' stream
    assert.deepEqual(g1.getState(), g2.getState(), 'g advances by n draws and the fork');
    // the tensor path (the wasm kernel under npm test, TypeScript on the reference backend) agrees bit for bit
    const g3 = new d.Generator(21);
    const t = gaussianTensor([100, 200], 'float32', 0.5, g3);
    assert.deepEqual(Array.from(t.data as Float32Array), Array.from(filled));
    assert.deepEqual(g3.getState(), g1.getState());
    // float64 tensors hold fillGaussian's float64 samples
    const f64 = new Float64Array(50);
    fillGaussian(f64, 2, new d.Generator(4));
    assert.deepEqual(Array.from(gaussianTensor([50], 'float64', 2, new d.Generator(4)).data as Float64Array), Array.from(f64));
  });

  it('Generator.fillUint32 gives the same numbers as nextUint32 calls', () => {
    const g1 = new d.Generator(5),
      g2 = new d.Generator(5);
    const buf = new Uint32Array(1000);
    g1.fillUint32(buf);
    for (let i = 0; i < 1000; i++) assert.equal(buf[i], g2.nextUint32());
    assert.deepEqual(g1.getState(), g2.getState());
  });
});
