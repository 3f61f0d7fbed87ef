/** Initialisers: PyTorch's formulas, checked on the statistics and bounds of large samples. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import { init } from '../../src/nn/index.js';

function stats(t: Tensor): { mean: number; std: number; min: number; max: number } {
  const x = t.data;
  let s = 0,
    min = Infinity,
    max = -Infinity;
  for (let i = 0; i < x.length; i++) {
    s += x[i]!;
    min = Math.min(min, x[i]!);
    max = Math.max(max, x[i]!);
  }
  const mean = s / x.length;
  let v = 0;
  for (let i = 0; i < x.length; i++) v += (x[i]! - mean) ** 2;
  return { mean, std: Math.sqrt(v / (x.length - 1)), min, max };
}

/** A fresh float64 tensor of zeros; 200,000 draws estimate a std to about 0.2%. */
const big = (shape = [400, 500]) => d.zeros(shape, { dtype: 'float64' });
const gen = () => ({ generator: new d.Generator(42) });

/** Sample std within 2% of the formula, sample mean within 2% of the std from the formula's mean. */
function assertStats(t: Tensor, mean: number, std: number, label: string): void {
  const s = stats(t);
  assert.ok(Math.abs(s.std - std) < 0.02 * std, `${label}: std ${s.std}, expected ${std}`);
  assert.ok(Math.abs(s.mean - mean) < 0.02 * std, `${label}: mean ${s.mean}, expected ${mean}`);
}

/** Every value in [-bound, bound] and the extremes near the bound (the range is used). */
function assertBounded(t: Tensor, bound: number, label: string): void {
  const s = stats(t);
  assert.ok(s.min >= -bound && s.max <= bound, `${label}: range [${s.min}, ${s.max}] exceeds +-${bound}`);
  assert.ok(s.min < -0.999 * bound && s.max > 0.999 * bound, `${label}: range [${s.min}, ${s.max}] does not reach +-${bound}`);
}

describe('fans and gains', () => {
  it('computeFans uses [out, in, ...receptive field]', () => {
    assert.deepEqual(init.computeFans([3, 4]), { fanIn: 4, fanOut: 3 });
    // conv weight [8, 4, 3, 3]: receptive field 9, fanIn 4 * 9 = 36, fanOut 8 * 9 = 72
    assert.deepEqual(init.computeFans([8, 4, 3, 3]), { fanIn: 36, fanOut: 72 });
    assert.throws(() => init.computeFans([5]), /computeFans: fan in and fan out need a tensor with at least 2 dimensions, got shape \[5\]/);
  });

  it('calculateGain matches PyTorch', () => {
    assert.equal(init.calculateGain('linear'), 1);
    assert.equal(init.calculateGain('sigmoid'), 1);
    assert.equal(init.calculateGain('tanh'), 5 / 3);
    assert.equal(init.calculateGain('relu'), Math.SQRT2);
    // leaky ReLU, default slope 0.01: sqrt(2 / 1.0001) = 1.4141428569978354
    assert.ok(Math.abs(init.calculateGain('leakyRelu') - 1.4141428569978354) < 1e-15);
    assert.ok(Math.abs(init.calculateGain('leakyRelu', Math.sqrt(5)) - 1 / Math.sqrt(3)) < 1e-15); // sqrt(2/6)
    assert.equal(init.calculateGain('selu'), 0.75);
    assert.throws(() => init.calculateGain('swish' as 'relu'), /calculateGain: unknown nonlinearity "swish"/);
  });
});

describe('initialisers fill the given tensor', () => {
  it('keep its identity and work on any dtype for constants', () => {
    const t = d.zeros([2, 3]);
    const id = t.id;
    assert.equal(init.constant(t, 2.5), t);
    assert.equal(t.id, id);
    assert.deepEqual(t.toArray(), [
      [2.5, 2.5, 2.5],
      [2.5, 2.5, 2.5],
    ]);
    assert.deepEqual(init.ones(d.zeros([2], { dtype: 'int32' })).toArray(), [1, 1]);
    assert.deepEqual(init.zeros(t).toArray(), [
      [0, 0, 0],
      [0, 0, 0],
    ]);
    assert.throws(() => init.uniform(d.zeros([2], { dtype: 'int32' })), /init.uniform: expects a float32 or float64 tensor, got int32 \[2\]/);
    assert.throws(() => init.kaimingUniform(d.zeros([4])), /computeFans/);
    assert.throws(() => init.kaimingNormal(d.zeros([2, 2]), { mode: 'fan_in' as 'fanIn' }), /init.kaimingNormal: mode must be 'fanIn' or 'fanOut'/);
  });

  it('fill a registered tensor without leaking the temporary one', () => {
    const t = d.keep(d.scope(() => d.zeros([10])));
    const before = d.memory().tensors;
    d.scope(() => init.normal(t));
    assert.equal(d.memory().tensors, before);
    assert.equal(t.isDisposed, false);
  });

  it('draw from the generator given, reproducibly', () => {
    const a = init.normal(big([10, 10]), 0, 1, gen()),
      b = init.normal(big([10, 10]), 0, 1, gen());
    assert.deepEqual(a.toArray(), b.toArray());
    d.manualSeed(9);
    const c = init.uniform(big([10, 10]));
    d.manualSeed(9);
    assert.deepEqual(init.uniform(big([10, 10])).toArray(), c.toArray());
  });
});

describe('distributions', () => {
  it('uniform(a, b): bounds, mean (a+b)/2, std (b-a)/sqrt 12', () => {
    const t = init.uniform(big(), -1, 3, gen());
    const s = stats(t);
    assert.ok(s.min >= -1 && s.max < 3 && s.min < -0.999 && s.max > 2.999);
    assertStats(t, 1, 4 / Math.sqrt(12), 'uniform');
  });

  it('normal(mean, std)', () => {
    assertStats(init.normal(big(), 2, 0.5, gen()), 2, 0.5, 'normal');
  });

  it('xavierUniform and xavierNormal: variance gain^2 2 / (fanIn + fanOut)', () => {
    // [400, 500]: fanIn 500, fanOut 400; gain 2: a = 2 sqrt(6/900) = 0.16330, std a / sqrt 3 = 2 sqrt(2/900) = 0.09428
    const u = init.xavierUniform(big(), { gain: 2, ...gen() });
    assertBounded(u, 2 * Math.sqrt(6 / 900), 'xavierUniform');
    assertStats(u, 0, 2 * Math.sqrt(2 / 900), 'xavierUniform');
    assertStats(init.xavierNormal(big(), gen()), 0, Math.sqrt(2 / 900), 'xavierNormal');
  });

  it('kaimingUniform: bound sqrt 3 gain / sqrt fan', () => {
    // defaults (a = 0, leakyRelu => gain sqrt 2, fanIn = 500): bound sqrt(6/500) = 0.10954, std sqrt(2/500) = 0.06325
    const t = init.kaimingUniform(big(), gen());
    assertBounded(t, Math.sqrt(6 / 500), 'kaimingUniform');
    assertStats(t, 0, Math.sqrt(2 / 500), 'kaimingUniform');
    // PyTorch's Linear default, a = sqrt 5: gain sqrt(2/6), bound sqrt 3 sqrt(1/3) / sqrt 500 = 1 / sqrt 500
    assertBounded(init.kaimingUniform(big(), { a: Math.sqrt(5), ...gen() }), 1 / Math.sqrt(500), 'kaimingUniform a=sqrt5');
    // fanOut = 400 with tanh gain 5/3: bound sqrt 3 (5/3) / 20 = 0.14434
    assertBounded(init.kaimingUniform(big(), { mode: 'fanOut', nonlinearity: 'tanh', ...gen() }), (Math.sqrt(3) * 5) / 3 / 20, 'kaimingUniform fanOut tanh');
  });

  it('kaimingNormal: std gain / sqrt fan', () => {
    assertStats(init.kaimingNormal(big(), { nonlinearity: 'relu', ...gen() }), 0, Math.sqrt(2 / 500), 'kaimingNormal relu');
    // leakyRelu with slope 0.2, fanOut 400: sqrt(2 / 1.04) / 20 = 0.06934
    assertStats(init.kaimingNormal(big(), { a: 0.2, mode: 'fanOut', ...gen() }), 0, Math.sqrt(2 / 1.04) / 20, 'kaimingNormal leaky fanOut');
    assertStats(init.kaimingNormal(big(), { nonlinearity: 'linear', ...gen() }), 0, 1 / Math.sqrt(500), 'kaimingNormal linear');
  });

  it('lecunNormal: std 1 / sqrt fanIn, counting the receptive field', () => {
    // [100, 20, 10, 10]: fanIn 20 * 100 = 2000, std 0.02236
    assertStats(init.lecunNormal(big([100, 20, 10, 10]), gen()), 0, 1 / Math.sqrt(2000), 'lecunNormal');
  });

  it('float32 tensors get float32 draws', () => {
    const t = init.kaimingNormal(d.zeros([300, 400]), gen());
    assert.equal(t.dtype, 'float32');
    assertStats(t, 0, Math.sqrt(2 / 400), 'kaimingNormal float32');
  });
});
