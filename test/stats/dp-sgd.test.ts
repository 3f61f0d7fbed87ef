/** DP-SGD: the clipping bound, the noise, fit() with it, and the RDP privacy accountant. */
import '../helpers.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { perExampleGrads } from '../../src/autograd/per-example.js';
import type { PerExampleLossFn } from '../../src/autograd/per-example.js';
import * as d from '../../src/index.js';
import { dpSgdEpsilon, dpSgdGradients, dpSgdMetadata, rdpSampledGaussian } from '../../src/stats/index.js';
import { assertClose, flat } from '../helpers.js';

const f64 = { dtype: 'float64' as const };
const ce: PerExampleLossFn = (o, t, r) => d.crossEntropy(o, t, r);
const g = new d.Generator(1);
const X = d.randn([8, 5], { ...f64, generator: g, std: 2 });
const Y = d.randint(0, 3, [8], { generator: g });
const model = d.mlp([5, 6, 3], { ...f64, generator: new d.Generator(2) });
const ctx = (x = X, y = Y) => ({ model, loss: ce as unknown as (o: d.Tensor, t: d.Tensor) => d.Tensor, x, y, params: model.parameters() });
const norm = (grads: Map<d.Tensor, d.Tensor>) => Math.sqrt([...grads.values()].reduce((s, t) => s + d.sum(d.square(t)).item(), 0));

describe('dpSgdGradients', () => {
  it('clips every per-example gradient to norm <= C (a batch of one shows the clipped gradient itself)', () => {
    const pe = perExampleGrads(model, ce, X, Y);
    const raws = [...Array(8).keys()].map((i) => Math.sqrt([...pe.grads.values()].reduce((s, t) => s + d.sum(d.square(d.narrow(t, 0, i, 1))).item(), 0)));
    const C = [...raws].sort((a, b) => a - b)[4]!; // about half the examples get clipped
    const dp = dpSgdGradients({ maxGradNorm: C, noiseMultiplier: 0 });
    let clipped = 0;
    for (let i = 0; i < 8; i++) {
      const raw = raws[i]!;
      const r = dp(ctx(d.narrow(X, 0, i, 1), d.narrow(Y, 0, i, 1)));
      const n = norm(r.grads);
      assert.ok(n <= C * (1 + 1e-12), `example ${i}: clipped norm ${n} > C = ${C}`);
      assertClose(n, Math.min(raw, C), { atol: 1e-12, rtol: 1e-12 }); // shrunk to C only when it was longer
      if (raw > C) clipped++;
    }
    assert.ok(clipped >= 2 && clipped <= 6, `clipped ${clipped} of 8: both cases are exercised`);
  });

  it('without noise equals the mean of the clipped per-example gradients; reports the mean loss and accuracy', () => {
    const C = 1.6; // squared norms run from 1.9 to 8: some are clipped, some not
    const pe = perExampleGrads(model, ce, X, Y);
    const B = 8;
    const normSq = new Array(B).fill(0);
    for (const t of pe.grads.values()) flat(d.sum(d.reshape(d.square(t), [B, -1]), 1)).forEach((v, i) => (normSq[i] += v));
    assert.ok(normSq.some((s) => s > C * C) && normSq.some((s) => s < C * C), `norms^2 ${normSq}: some clipped, some not`);
    const factor = d.tensor(
      normSq.map((s) => Math.min(1, C / Math.sqrt(s))),
      f64,
    );
    const r = dpSgdGradients({ maxGradNorm: C, noiseMultiplier: 0 })(ctx());
    for (const p of model.parameters()) {
      const expected = d.mean(d.mul(pe.grads.get(p)!, d.reshape(factor, [B, ...p.shape.map(() => 1)])), 0);
      assertClose(r.grads.get(p)!, expected.toArray() as number[], { atol: 1e-12, rtol: 1e-12 });
    }
    assertClose(r.loss, d.crossEntropy(model.forward(X), Y).item(), { atol: 1e-12, rtol: 0 });
    assert.equal(r.correct, d.sum(d.cast(d.eq(d.argmax(model.forward(X), 1), Y), 'int32')).item());
  });

  it('adds N(0, (sigma C)^2) noise to the sum before dividing by B, the same for the same seed', () => {
    const [C, sigma, B] = [0.5, 1.3, 8];
    const plain = dpSgdGradients({ maxGradNorm: C, noiseMultiplier: 0 })(ctx()).grads;
    const a = dpSgdGradients({ maxGradNorm: C, noiseMultiplier: sigma, generator: new d.Generator(7) })(ctx()).grads;
    const b = dpSgdGradients({ maxGradNorm: C, noiseMultiplier: sigma, generator: new d.Generator(7) })(ctx()).grads;
    const c = dpSgdGradients({ maxGradNorm: C, noiseMultiplier: sigma, generator: new d.Generator(8) })(ctx()).grads;
    const noise = model.parameters().flatMap((p) => flat(d.mul(d.sub(a.get(p)!, plain.get(p)!), B)));
    for (const p of model.parameters()) assert.deepEqual(flat(a.get(p)!), flat(b.get(p)!));
    assert.notDeepEqual(flat(a.get(model.parameters()[0]!)!), flat(c.get(model.parameters()[0]!)!));
    // 57 noise values with sd sigma C = 0.65: their sample sd is within ~3 x 0.65 / sqrt(2 * 57) = 0.18 of it
    const sd = Math.sqrt(noise.reduce((s, v) => s + v * v, 0) / noise.length);
    assert.equal(noise.length, 5 * 6 + 6 + 6 * 3 + 3);
    assert.ok(Math.abs(sd - sigma * C) < 0.18, `noise sd ${sd}, expected ${sigma * C}`);
  });

  it('trains through fit() as computeGrads', async () => {
    const m = d.mlp([5, 6, 3], { generator: new d.Generator(3) });
    const ds = new d.TensorDataset(d.randn([64, 5], { generator: g }), d.randint(0, 3, [64], { generator: g }));
    const before = m.parameters().map((p) => flat(p));
    const loss = (o: d.Tensor, t: d.Tensor, r?: { reduction: 'none' }) => d.crossEntropy(o, t, r);
    const r = await d.fit({
      model: m,
      loss,
      optimizer: new d.SGD(m.parameters(), { lr: 0.1 }),
      train: new d.DataLoader(ds, { batchSize: 16 }),
      epochs: 1,
      computeGrads: dpSgdGradients({ maxGradNorm: 1, noiseMultiplier: 1, generator: new d.Generator(9) }),
    });
    assert.equal(r.steps, 4);
    assert.ok(Number.isFinite(r.epochs[0]!.train_loss) && r.epochs[0]!.train_accuracy !== undefined);
    assert.notDeepEqual(
      m.parameters().map((p) => flat(p)),
      before,
    );
  });
});

describe('privacy accounting', () => {
  it('hand-worked RDP of the sampled Gaussian mechanism', () => {
    // q = 1 is the plain Gaussian mechanism: eps(alpha) = alpha / (2 sigma^2) = 3 / 8 for alpha 3, sigma 2
    assertClose(rdpSampledGaussian(1, 2, 3), 3 / 8, { atol: 1e-15, rtol: 0 });
    // alpha = 2: A = (1-q)^2 + 2 q (1-q) + q^2 e^{1/sigma^2} = 1 + q^2 (e^{1/sigma^2} - 1); eps = log A / 1
    assertClose(rdpSampledGaussian(0.1, 1.5, 2), Math.log(1 + 0.01 * (Math.exp(1 / 2.25) - 1)), { atol: 1e-15, rtol: 1e-12 });
    // alpha = 3, q = 0.1, sigma = 1: exponents (k^2 - k) / 2 = 0, 0, 1, 3 for k = 0..3
    const A3 = 0.9 ** 3 + 3 * 0.81 * 0.1 + 3 * 0.9 * 0.01 * Math.E + 0.001 * Math.exp(3);
    assertClose(rdpSampledGaussian(0.1, 1, 3), Math.log(A3) / 2, { atol: 1e-15, rtol: 1e-12 });
    assert.equal(rdpSampledGaussian(0, 1, 5), 0);
  });

  it('converts to (epsilon, delta) at the best order', () => {
    // q = 1, sigma = 1, 1 step, delta = 1e-5: epsilon = min over alpha of alpha/2 + ln(1e5)/(alpha - 1), ln 1e5 = 11.5129:
    // alpha 5: 2.5 + 2.8782 = 5.378; alpha 6: 3 + 2.3026 = 5.3026; alpha 7: 3.5 + 1.9188 = 5.4188 -> alpha 6
    const e = dpSgdEpsilon(1, 1, 1, 1e-5);
    assert.equal(e.order, 6);
    assertClose(e.epsilon, 3 + Math.log(1e5) / 5, { atol: 1e-12, rtol: 0 });
    // more noise spends less privacy; more steps spend more
    const base = dpSgdEpsilon(256 / 60000, 1.1, 14000, 1e-5).epsilon;
    assert.ok(dpSgdEpsilon(256 / 60000, 1.5, 14000, 1e-5).epsilon < base && dpSgdEpsilon(256 / 60000, 1.1, 28000, 1e-5).epsilon > base);
    // the TensorFlow Privacy MNIST tutorial's setting (q = 256/60000, sigma 1.1, 60 epochs, delta 1e-5) reports
    // epsilon 3.01 with fractional orders too; integer orders give a slightly looser, still valid bound
    assert.ok(base > 2.9 && base < 3.5, `epsilon ${base}`);
  });

  it('records the run parameters in the metadata', () => {
    const m = dpSgdMetadata({ maxGradNorm: 1, noiseMultiplier: 1.1, batchSize: 64, datasetSize: 6000, steps: 940 });
    assert.equal(m.sample_rate, 64 / 6000);
    assert.equal(m.delta, 1e-5); // 1/6000 = 1.7e-4, a power of ten at least 10x below: 1e-5
    assertClose(m.epsilon!, dpSgdEpsilon(64 / 6000, 1.1, 940, 1e-5).epsilon, { atol: 1e-12, rtol: 0 });
    assert.deepEqual([m.max_grad_norm, m.noise_multiplier, m.batch_size, m.dataset_size, m.steps], [1, 1.1, 64, 6000, 940]);
    const none = dpSgdMetadata({ maxGradNorm: 1, noiseMultiplier: 0, batchSize: 64, datasetSize: 6000, steps: 10 });
    assert.equal(none.epsilon, null);
    assert.match(none.accountant, /no privacy guarantee/);
  });
});
