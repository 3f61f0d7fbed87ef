/** Gradient statistics: hand-worked cases, known covariance, the linear-regression closed form, the EMA, the fit() hook. */
import '../helpers.js';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { perExampleGrads } from '../../src/autograd/per-example.js';
import type { PerExampleLossFn } from '../../src/autograd/per-example.js';
import * as d from '../../src/index.js';
import { batchGradientStats, batchSizeAdvice, gradientStats, gradientStatsHook, gradientStatsOfVectors, NoiseScaleEma } from '../../src/stats/index.js';
import { assertClose } from '../helpers.js';
import { runFolder } from '../../src/train/node.js';

const dirs: string[] = [];
after(() => {
  for (const p of dirs) rmSync(p, { recursive: true, force: true });
});
const f64 = { dtype: 'float64' as const };
const mse: PerExampleLossFn = (o, t, r) => d.mseLoss(o, t, r);

describe('gradient statistics', () => {
  it('hand-worked: g1 = [1, 0], g2 = [0, 2], g3 = [2, 1]', () => {
    const s = gradientStatsOfVectors([
      [1, 0],
      [0, 2],
      [2, 1],
    ]);
    // G_hat = [1, 1], |G_hat|^2 = 2; |g_i|^2 = 1, 4, 5 (sum 10)
    // trSigma = (10 - 3 * 2) / 2 = 2  (= (|[0,-1]|^2 + |[-1,1]|^2 + |[1,0]|^2) / 2 = 4 / 2)
    // |G|^2 = 2 - 2/3 = 4/3; B_simple = 2 / (4/3) = 1.5
    // cosines: <g_i, G_hat> = 1, 2, 3 over (|g_i| sqrt 2) = 1/sqrt2, 2/(2 sqrt2), 3/(sqrt5 sqrt2)
    assert.equal(s.batchSize, 3);
    assertClose([s.meanNormSq, s.traceCov, s.gradNormSq, s.noiseScale], [2, 2, 4 / 3, 1.5], { atol: 1e-14, rtol: 0 });
    assertClose(s.perExampleNorms, [1, 2, Math.sqrt(5)], { atol: 1e-14, rtol: 0 });
    assertClose(s.cosineToMean, [Math.SQRT1_2, Math.SQRT1_2, 3 / Math.sqrt(10)], { atol: 1e-14, rtol: 0 });
  });

  it('hand-worked: identical gradients have no noise; opposite ones are all noise', () => {
    // g1 = g2 = [3, 4]: trSigma = (25 + 25 - 2 * 25) / 1 = 0, |G|^2 = 25, B_simple = 0, cosines 1
    const same = gradientStatsOfVectors([
      [3, 4],
      [3, 4],
    ]);
    assertClose([same.traceCov, same.gradNormSq, same.noiseScale], [0, 25, 0], { atol: 1e-12, rtol: 0 });
    assertClose(same.cosineToMean, [1, 1], { atol: 1e-12, rtol: 0 });
    // g1 = [1, 0], g2 = [-1, 0]: G_hat = 0; trSigma = (1 + 1 - 0) / 1 = 2; |G|^2 = 0 - 2/2 = -1 (an
    // unbiased estimate can be negative); B_simple = -2; the cosine to a zero mean is 0/0 = NaN
    const opp = gradientStatsOfVectors([
      [1, 0],
      [-1, 0],
    ]);
    assertClose([opp.meanNormSq, opp.traceCov, opp.gradNormSq, opp.noiseScale], [0, 2, -1, -2], { atol: 1e-12, rtol: 0 });
    assert.ok(opp.cosineToMean.every(Number.isNaN));
    assert.throws(() => gradientStatsOfVectors([[1, 2]]), /at least 2 examples, got a batch of 1/);
  });

  it('recovers tr(Sigma) and |G|^2 of gradients drawn with a known covariance', () => {
    // g_i = G + diag(1, 2, 3) z_i, z_i standard normal: tr(Sigma) = 1 + 4 + 9 = 14, |G|^2 = 9 + 1 + 4 = 14.
    // With B = 4000, sd(trSigma_hat) = sqrt(2 sum s_k^4 / B) = sqrt(2 * 98 / 4000) = 0.22; sd(|G|^2_hat) ~ sqrt(4 G' Sigma G / B) = 0.2.
    const g = new d.Generator(3);
    const z = d.randn([4000, 3], { ...f64, generator: g });
    const rows = d.add(d.mul(z, d.tensor([1, 2, 3], f64)), d.tensor([3, -1, 2], f64)).toArray() as number[][];
    const s = gradientStatsOfVectors(rows);
    assert.ok(Math.abs(s.traceCov - 14) < 0.9, `trSigma ${s.traceCov}`); // 4 sd
    assert.ok(Math.abs(s.gradNormSq - 14) < 0.8, `|G|^2 ${s.gradNormSq}`);
  });

  it('matches the closed form of B_simple for linear regression, and the materialised path', () => {
    // x ~ N(0, I_3), y = x . w* + eps, eps ~ N(0, 1); at w = w* + e with e = [1, 0, 0] the residual is
    // r = x . e - eps and g = d(r^2)/dw = 2 r x. G = E[2 r x] = 2e, |G|^2 = 4. E|g|^2 = 4 E[r^2 |x|^2]
    // = 4 (|e|^2 (d + 2) + 1 * d) = 4 (5 + 3) = 32 (Gaussian fourth moments), so tr(Sigma) = 32 - 4 = 28
    // and B_simple = 28 / 4 = 7.
    const g = new d.Generator(4);
    const B = 4000;
    const x = d.randn([B, 3], { ...f64, generator: g });
    const wStar = d.tensor([[0.5, -1, 2]], f64);
    const y = d.add(d.matmul(x, wStar, { transB: true }), d.randn([B, 1], { ...f64, generator: g }));
    const model = new d.Linear(3, 1, { ...f64, bias: false });
    model.weight.assign(d.add(wStar, d.tensor([[1, 0, 0]], f64)));
    const s = batchGradientStats(model, mse, x, y);
    assert.ok(Math.abs(s.noiseScale - 7) < 1, `B_simple ${s.noiseScale}, expected about 7`);
    assert.ok(Math.abs(s.gradNormSq - 4) < 0.5 && Math.abs(s.traceCov - 28) < 3, `|G|^2 ${s.gradNormSq}, trSigma ${s.traceCov}`);
    const m = gradientStats(perExampleGrads(model, mse, x, y).grads);
    assertClose([m.meanNormSq, m.traceCov, m.gradNormSq, m.noiseScale], [s.meanNormSq, s.traceCov, s.gradNormSq, s.noiseScale], { atol: 1e-9, rtol: 1e-9 });
    assertClose(m.cosineToMean.slice(0, 20), s.cosineToMean.slice(0, 20), { atol: 1e-10, rtol: 0 });
  });

  it('smooths the noise scale as a ratio of moving averages', () => {
    const ema = new NoiseScaleEma(0.9);
    assert.ok(Number.isNaN(ema.value));
    // step 1: trSigma 0.1 * 4 = 0.4, |G|^2 0.1 * 1 = 0.1, ratio 4
    assertClose(ema.update(4, 1), 4, { atol: 1e-12, rtol: 0 });
    // step 2: 0.9 * 0.4 + 0.1 * 2 = 0.56 and 0.9 * 0.1 + 0.1 * 2 = 0.29: 0.56 / 0.29, not the mean of ratios (4 + 1) / 2
    assertClose(ema.update(2, 2), 0.56 / 0.29, { atol: 1e-12, rtol: 0 });
    assertClose(ema.update(NaN, 1), 0.56 / 0.29, { atol: 1e-12, rtol: 0 }); // a non-finite estimate is skipped
    assert.equal(ema.steps, 2);
  });

  it('advises in plain words', () => {
    assert.match(batchSizeAdvice(137.4), /^gradient noise scale ~ 137: batches well below it waste steps, well above it waste examples\.$/);
    assert.match(batchSizeAdvice(1000, 32), /well below it/);
    assert.match(batchSizeAdvice(10, 256), /well above it/);
    assert.match(batchSizeAdvice(-3), /not yet measurable/);
  });
});

describe('gradientStatsHook in fit()', () => {
  it('writes a stats record with exactly the agreed fields every N updates', async () => {
    const out = mkdtempSync(join(tmpdir(), 'descent-stats-'));
    dirs.push(out);
    const g = new d.Generator(5);
    const ds = new d.TensorDataset(d.randn([40, 4], { generator: g }), d.randint(0, 3, [40], { generator: g }));
    const model = d.mlp([4, 6, 3], { generator: new d.Generator(6) });
    // the trainer's loss passes { reduction: 'none' } through
    const loss = (o: d.Tensor, t: d.Tensor, r?: { reduction: 'none' }) => d.crossEntropy(o, t, r);
    await d.fit({
      model,
      loss,
      optimizer: new d.SGD(model.parameters(), { lr: 0.1 }),
      train: new d.DataLoader(ds, { batchSize: 8 }),
      epochs: 2,
      ...runFolder(out),
      stepHooks: [gradientStatsHook({ every: 3 })],
    });
    const stats = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((r) => r.type === 'stats');
    assert.deepEqual(
      stats.map((r) => r.step),
      [3, 6, 9],
    ); // 10 updates (5 batches x 2 epochs)
    for (const r of stats) {
      // the hook's fields, plus type/step/epoch from fit() and time from the metrics log
      assert.deepEqual(
        Object.keys(r).sort(),
        [
          'batch_size',
          'cosine_to_mean',
          'epoch',
          'grad_mean_norm_sq',
          'grad_norm_sq_unbiased',
          'noise_scale',
          'noise_scale_ema',
          'per_example_norms',
          'step',
          'time',
          'trace_cov',
          'type',
        ].sort(),
      );
      assert.equal(r.batch_size, 8);
      assert.equal(r.per_example_norms.length, 8);
      assert.equal(r.cosine_to_mean.length, 8);
      assert.ok(r.per_example_norms.every((v: number) => v > 0) && r.cosine_to_mean.every((c: number) => Math.abs(c) <= 1 + 1e-6));
      assertClose(r.grad_norm_sq_unbiased, r.grad_mean_norm_sq - r.trace_cov / 8, { atol: 1e-9, rtol: 1e-6 });
    }
    assertClose(stats[0].noise_scale_ema, stats[0].noise_scale, { atol: 0, rtol: 1e-12 }); // one step: the EMA ratio is that step's
  });
});
