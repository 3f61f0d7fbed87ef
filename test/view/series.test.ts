/** The live charts' data side (no DOM): thinning long step series, smoothing, progress messages. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Smoother, StepSeries } from '../../src/view/series.js';
import * as d from '../../src/index.js';

describe('StepSeries', () => {
  it('keeps every step until maxPoints, then merges neighbours pairwise into step-weighted means', () => {
    const s = new StepSeries(4);
    for (let step = 1; step <= 4; step++) s.push(step, step * 10);
    assert.deepEqual(
      [s.xs, s.ys],
      [
        [1, 2, 3, 4],
        [10, 20, 30, 40],
      ],
    );
    s.push(5, 50); // 5 points > 4: pairs (1,2) (3,4) (5) at stride 2
    assert.deepEqual(
      [s.xs, s.ys],
      [
        [2, 4, 5],
        [15, 35, 50],
      ],
    );
    s.push(6, 60); // joins step 5's bucket (steps 5-6)
    assert.deepEqual(
      [s.xs, s.ys],
      [
        [2, 4, 6],
        [15, 35, 55],
      ],
    );
    for (let step = 7; step <= 100; step++) s.push(step, step * 10);
    assert.ok(s.length <= 4);
    // Every point is the mean of the steps it holds: the values stay in order and the last point ends at step 100.
    assert.equal(s.xs.at(-1), 100);
    assert.ok(s.ys.every((y, i) => i === 0 || y! > s.ys[i - 1]!));
  });

  it('keeps a non-finite value as a gap, never averaging it in', () => {
    const s = new StepSeries(3);
    s.push(1, 1);
    s.push(2, NaN);
    s.push(3, Infinity);
    assert.deepEqual(s.ys, [1, null, null]);
    s.push(4, 3); // halved: (1, NaN) -> 1, (Inf, 3) -> 3
    assert.deepEqual(
      [s.xs, s.ys],
      [
        [2, 4],
        [1, 3],
      ],
    );
    assert.throws(() => new StepSeries(1), /maxPoints is 1, expected at least 2/);
  });
});

describe('Smoother', () => {
  it("is TensorBoard's debiased exponential moving average", () => {
    const m = new Smoother(0.9);
    assert.equal(m.add(NaN), null);
    assert.equal(m.add(2), 2); // debiased: the first value is itself
    const v = m.add(4)!;
    assert.ok(Math.abs(v - (0.9 * 0.1 * 2 + 0.1 * 4) / (1 - 0.81)) < 1e-12, String(v));
    assert.throws(() => new Smoother(1), /smoothing is 1/);
  });
});

describe('progressCallback', () => {
  it('turns every event of fit() into a structured-clonable message, in order', async () => {
    d.manualSeed(0);
    const x = d.randn([32, 3]);
    const y = d.randint(0, 2, [32]);
    const model = d.nn.mlp([3, 8, 2]);
    const messages: d.TrainingProgress[] = [];
    await d.fit({
      model,
      epochs: 2,
      loss: (o, t) => d.crossEntropy(o, t),
      optimizer: new d.optim.SGD(model.parameters(), { lr: 0.1 }),
      train: new d.DataLoader(new d.TensorDataset(x, y), { batchSize: 16 }),
      callbacks: [d.progressCallback((m) => messages.push(structuredClone(m)))],
    });
    assert.deepEqual(
      messages.map((m) => m.type),
      ['descent:begin', 'descent:step', 'descent:step', 'descent:epoch', 'descent:step', 'descent:step', 'descent:epoch', 'descent:end'],
    );
    assert.ok(messages.every((m) => d.isTrainingProgress(m)));
    assert.equal(d.isTrainingProgress({ type: 'other' }), false);
    assert.equal(d.isTrainingProgress(null), false);
    const end = messages.at(-1) as Extract<d.TrainingProgress, { type: 'descent:end' }>;
    assert.equal(end.result.steps, 4);
    assert.equal((messages[1] as Extract<d.TrainingProgress, { type: 'descent:step' }>).batches, 2);
  });
});
