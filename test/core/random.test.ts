import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Generator, manualSeed, permutation, rand, randint, randn } from '../../src/index.js';
import '../helpers.js';

describe('seeded generator (xoshiro128** seeded by SplitMix32)', () => {
  it('matches an independent implementation of the documented algorithm', () => {
    // Values from a separate Python implementation of SplitMix32 + xoshiro128** 1.1, seed 42.
    const g = new Generator(42);
    assert.deepEqual(
      [0, 1, 2, 3, 4].map(() => g.nextUint32()),
      [2837322924, 544945897, 479756282, 3500138142, 339756180],
    );
  });

  it('gives the same numbers for the same seed and different ones for another seed', () => {
    manualSeed(7);
    const a = Array.from(randn([100]).data);
    manualSeed(7);
    const b = Array.from(randn([100]).data);
    manualSeed(8);
    const c = Array.from(randn([100]).data);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  it('saves and restores its state exactly', () => {
    const g = new Generator(3);
    g.nextUint32();
    const st = g.getState();
    const x = [g.nextFloat64(), g.nextFloat64()];
    g.setState(st);
    assert.deepEqual([g.nextFloat64(), g.nextFloat64()], x);
    assert.throws(() => g.setState([1, 2, 3]), /four unsigned 32-bit integers/);
  });

  it('draws uniform, normal and integer values with the right moments', () => {
    const g = new Generator(11);
    const u = Array.from(rand([20000], { generator: g }).data);
    const mean = u.reduce((s, v) => s + v, 0) / u.length;
    const vari = u.reduce((s, v) => s + (v - mean) ** 2, 0) / u.length;
    assert.ok(u.every((v) => v >= 0 && v < 1));
    // mean 1/2 and variance 1/12 within ~5 standard errors
    assert.ok(Math.abs(mean - 0.5) < 0.01, `uniform mean ${mean}`);
    assert.ok(Math.abs(vari - 1 / 12) < 0.004, `uniform variance ${vari}`);
    const n = Array.from(randn([20000], { generator: g, dtype: 'float64' }).data);
    const nm = n.reduce((s, v) => s + v, 0) / n.length;
    const nv = n.reduce((s, v) => s + (v - nm) ** 2, 0) / n.length;
    assert.ok(Math.abs(nm) < 0.04 && Math.abs(nv - 1) < 0.05, `normal mean ${nm} variance ${nv}`);
    const k = Array.from(randint(-2, 3, [10000], { generator: g }).data);
    const counts = [-2, -1, 0, 1, 2].map((v) => k.filter((x) => x === v).length);
    assert.ok(k.every((v) => v >= -2 && v < 3));
    assert.ok(
      counts.every((c) => Math.abs(c - 2000) < 250),
      `randint counts ${counts}`,
    );
  });

  it('makes permutations of 0..n-1', () => {
    const p = Array.from(permutation(1000, { generator: new Generator(5) }).data);
    assert.deepEqual(
      [...p].sort((a, b) => a - b),
      Array.from({ length: 1000 }, (_, i) => i),
    );
    assert.notDeepEqual(
      p,
      Array.from({ length: 1000 }, (_, i) => i),
    );
  });

  it('gives unbiased bounded integers for large bounds', () => {
    const g = new Generator(1);
    const n = 3_000_000_000;
    let below = 0;
    for (let i = 0; i < 4000; i++) {
      const v = g.nextInt(n);
      assert.ok(v >= 0 && v < n && Number.isInteger(v));
      if (v < n / 2) below++;
    }
    assert.ok(Math.abs(below - 2000) < 200, `half-range count ${below}`);
  });
});
