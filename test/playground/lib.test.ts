/**
 * The playground's numerical parts in Node (the page runs the same modules): the data sets, the
 * backprop walk against `descent explain`, the mini-batch proof, the variance law, the session's
 * training, pausing and divergence guard.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../../src/index.js';
import { explainReport } from '../../src/cli/explain-cmd.js';
import { backpropWalk } from '../../playground/lib/backprop.js';
import { configFromParams, configToParams, defaultConfig, trainCount, batchLadder } from '../../playground/lib/config.js';
import { DATASETS, makeDataset } from '../../playground/lib/datasets.js';
import { computeLandscape, project } from '../../playground/lib/landscape.js';
import { analyseBatch } from '../../playground/lib/minibatch.js';
import { autodiffBatchGradient, exactVariance, measuredSizes, measureOne, poolNoise } from '../../playground/lib/noise.js';
import { Session } from '../../playground/lib/session.js';
import { buildModel, buildProblem, flatWeights } from '../../playground/lib/setup.js';

describe('playground data and configuration', () => {
  it('makes every data set from its seed: the same points twice, a split of the asked size, both classes', () => {
    for (const name of DATASETS) {
      const a = makeDataset({ name, points: 500, noise: 0.1, trainFraction: 0.5, seed: 3 });
      const b = makeDataset({ name, points: 500, noise: 0.1, trainFraction: 0.5, seed: 3 });
      assert.deepEqual(a, b, name);
      assert.equal(a.train.n + a.test.n, 500);
      assert.equal(a.train.n, 250);
      assert.ok(
        a.train.x.every((v) => Math.abs(v) < 1.6),
        `${name}: coordinates near [-1, 1]`,
      );
      if (a.task === 'classification') assert.deepEqual(new Set(a.train.y), new Set([0, 1]), name);
    }
    assert.notDeepEqual(
      makeDataset({ name: 'spirals', points: 100, noise: 0.1, trainFraction: 0.5, seed: 1 }).train.x,
      makeDataset({ name: 'spirals', points: 100, noise: 0.1, trainFraction: 0.5, seed: 2 }).train.x,
    );
  });

  it('reads a configuration from the URL and writes it back; offers batch sizes from 1 to the full batch', () => {
    const c = configFromParams(new URLSearchParams('dataset=circles&seed=7&hidden=5,6&lr=0.3&batch=32&optimizer=adam&loss=mse&noise=9'));
    assert.deepEqual([c.dataset, c.seed, c.hidden, c.lr, c.batchSize, c.optimizer, c.loss, c.noise], ['circles', 7, [5, 6], 0.3, 32, 'adam', 'mse', 0.5]);
    assert.deepEqual(configFromParams(configToParams(c)), c);
    assert.deepEqual(configFromParams(new URLSearchParams('')), defaultConfig('spirals', 0));
    assert.equal(configFromParams(new URLSearchParams('dataset=regression&loss=cross-entropy')).loss, 'mse');
    assert.deepEqual(batchLadder(trainCount(c)), [1, 2, 4, 8, 16, 32, 64, 128, 250]);
  });
});

describe('backprop step by step', () => {
  for (const B of [2, 10]) {
    it(`shows exactly the numbers of \`descent explain --batch ${B}\``, async () => {
      const w = backpropWalk(B);
      const e = (await explainReport({ batch: B })).json;
      assert.deepEqual(w.weights, Object.values(e.network.weights));
      assert.deepEqual(
        w.examples.map((x) => [x.x, x.y, x.prediction, x.loss, x.gradient]),
        e.examples.map((x) => [x.x, x.y, x.prediction, x.loss, Object.values(x.gradient)]),
      );
      assert.deepEqual(
        w.steps.map((s) => [s.step, s.tensor, s.made_by, s.shape, s.gradient, s.rule]),
        e.backward.map((s) => [s.step, s.tensor, s.made_by, s.shape, s.gradient, s.rule]),
      );
      assert.deepEqual(w.gradient, Object.values(e.autodiff_gradient_of_mean_loss));
      assert.deepEqual(
        w.after,
        Object.values(e.update).map((u) => u.after),
      );
      assert.equal(w.lossAfter, e.mean_loss_after_update);
    });
  }

  it('walks back through the recorded ops to the same weight gradients as valueAndGrad, and the shares add up', () => {
    const w = backpropWalk(6, 4);
    const weightSteps = w.steps.filter((s) => s.made_by === 'a weight').flatMap((s) => s.gradient);
    weightSteps.forEach((g, k) => assert.ok(Math.abs(g - w.gradient[k]!) <= 1e-15 * Math.max(1, Math.abs(g)), `weight ${k}`));
    // the mean loss over B examples: each example's share of a weight's gradient is its own gradient / B
    for (let k = 0; k < 5; k++) {
      const sum = w.examples.reduce((s, e) => s + e.gradient[k]! / 6, 0);
      assert.ok(Math.abs(sum - w.gradient[k]!) < 1e-14, `weight ${k}: ${sum} vs ${w.gradient[k]}`);
    }
  });
});

describe('the mini-batch and the noise', () => {
  const config = defaultConfig('spirals', 0);
  const problem = buildProblem(config);
  const model = buildModel(problem);

  it('the mean of the per-example gradients is the gradient of the mean loss, and losses are never negative', () => {
    const idx = d.tensor([3, 1, 4, 1, 5, 9, 2, 6], { dtype: 'int32' });
    const a = analyseBatch(model, problem, d.indexSelect(problem.xTrain, 0, idx), d.indexSelect(problem.yTrain, 0, idx), idx.data, 1);
    assert.ok(a.relativeDifference < 1e-12, String(a.relativeDifference));
    assert.ok(Math.abs(a.meanOfLosses - a.batchLoss) < 1e-14);
    assert.ok(a.losses.every((l) => l >= 0));
    assert.equal(a.coords.length, 8);
    assert.ok(a.cosine >= -1 && a.cosine <= 1);
    assert.equal(a.proof.length, 3 * 5 + 2, 'the first 3 weights of each parameter (the last bias has 2)');
  });

  it('measures the variance of mini-batch gradients drawn without replacement: sigma^2/B (N-B)/(N-1)', () => {
    const pool = poolNoise(model, problem);
    assert.equal(pool.N, 250);
    assert.equal(exactVariance(pool.sigma2, pool.N, pool.N), 0);
    assert.deepEqual(measuredSizes(250), [1, 2, 4, 8, 16, 32, 64, 125]);
    const gen = new d.Generator(1);
    // B = 1: every shuffle's 250 batches are the 250 examples, so the measurement is sigma^2 itself
    const autodiff = (idx: Int32Array) => autodiffBatchGradient(model, problem, idx);
    const one = measureOne(pool, 1, 400, gen, autodiff);
    assert.ok(Math.abs(one.measured / pool.sigma2 - 1) < 1e-9, `${one.measured} vs ${pool.sigma2}`);
    assert.equal(one.batches, 500);
    const half = measureOne(pool, 125, 2000, gen, autodiff);
    assert.equal(half.batches, 2000);
    assert.ok(Math.abs(half.measured / half.exact - 1) < 0.15, `B = 125: ${half.measured} vs ${half.exact}`);
    assert.equal(half.autodiffChecked, 4);
    assert.ok(half.autodiffDifference < 1e-12, `batch gradient: mean of the examples' vs autodiff, ${half.autodiffDifference}`);
    assert.ok(half.withReplacement / half.exact > 1.9, 'plain sigma^2/B is about twice the truth at B = N/2');
  });

  it('slices the loss landscape along the directions the path moved most', () => {
    const w0 = flatWeights(model.parameters());
    const path = [0, 1, 2].map((k) => w0.map((v, i) => v + (k - 2) * 0.1 * Math.sin(i + k)));
    const l = computeLandscape(model, problem, path, w0, 5);
    assert.equal(l.losses.length, 25);
    assert.ok(l.losses.every((v) => Number.isFinite(v) && v > 0));
    assert.deepEqual(project(l, w0), [0, 0]);
    assert.deepEqual(flatWeights(model.parameters()), w0, 'the weights are put back');
  });
});

describe('the training session', () => {
  it('trains circles with fit(), pauses within a step, and resumes with the next batch', async () => {
    const s = new Session(defaultConfig('circles', 0));
    const before = s.evaluations[0]!.testAccuracy!;
    await s.train(300);
    assert.equal(s.step, 300);
    assert.ok(s.evaluations.at(-1)!.testAccuracy! > Math.max(0.9, before), `accuracy ${before} -> ${s.evaluations.at(-1)!.testAccuracy}`);
    assert.equal(s.loader.current.length, 16);
    const run = s.train();
    await new Promise((r) => setTimeout(r, 30));
    s.pause();
    await run;
    assert.ok(s.step > 300 && !s.running);
    assert.ok(s.analysis && s.analysis.relativeDifference < 1e-12);
    assert.ok(s.trajectory.points().length > 100);
  });

  it('a learning rate far too large diverges: training stops and keeps the last good weights', async () => {
    const s = new Session({ ...defaultConfig('regression', 0), activation: 'relu', optimizer: 'sgd', lr: 30 });
    const r = await s.train(500);
    assert.ok(r?.diverged, 'diverged');
    assert.ok(s.diverged && s.step < 500);
    assert.match(s.diverged.message, /kept the last good weights/);
    assert.ok(flatWeights(s.model.parameters()).every(Number.isFinite));
  });
});
