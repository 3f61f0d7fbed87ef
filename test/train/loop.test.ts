/**
 * The training loop as a good citizen of its event loop (issue 13): fit() yields so timers keep
 * running while it trains, stops within one step when its AbortSignal fires (keeping the last
 * update's state, from which a resume continues exactly), and trains a regression model, which
 * reports its loss and no accuracy.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import * as d from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import { runFolder } from '../../src/train/node.js';
import { evaluate } from '../../src/train/evaluate.js';
import { accuracy, meanAbsoluteError, meanSquaredError } from '../../src/train/metrics.js';
import '../helpers.js';

const dirs: string[] = [];
const tmp = () => {
  const p = mkdtempSync(join(tmpdir(), 'descent-loop-'));
  dirs.push(p);
  return p;
};
after(() => {
  for (const p of dirs) rmSync(p, { recursive: true, force: true });
});

const ce = (out: Tensor, y: Tensor) => d.crossEntropy(out, y);

function blobs(n: number, seed: number) {
  const g = new d.Generator(seed);
  const y = d.randint(0, 3, [n], { generator: g });
  const centers = d.tensor([
    [2, 0, 0, 1],
    [0, 2, 0, -1],
    [0, 0, 2, 0],
  ]);
  return new d.TensorDataset(d.add(d.indexSelect(centers, 0, y), d.randn([n, 4], { generator: g, std: 0.7 })), y);
}

const setup = () => {
  d.manualSeed(7);
  const model = d.mlp([4, 64, 64, 3], { dropout: 0.1 });
  const optimizer = new d.Adam(model.parameters(), { lr: 1e-3 });
  const train = new d.DataLoader(blobs(2048, 1), { batchSize: 16, shuffle: true });
  return { model, optimizer, train, loss: ce };
};
const weights = (m: d.Module) => m.parameters().map((p) => Array.from(p.data));

describe('fit and the event loop', () => {
  it('yields while it trains: a 10 ms timer keeps ticking', async () => {
    let ticks = 0,
      ticksAtLastStep = 0;
    const timer = setInterval(() => ticks++, 10);
    const t0 = performance.now();
    try {
      await d.fit({ ...setup(), epochs: 3, callbacks: [{ onStepEnd: () => void (ticksAtLastStep = ticks) }] });
    } finally {
      clearInterval(timer);
    }
    const ms = performance.now() - t0;
    // Without yielding the timer could not fire at all before fit returns: it fired while fit was
    // still stepping (however fast the machine), and kept firing.
    assert.ok(ticksAtLastStep >= 1, `the timer never fired while fit stepped (${ms.toFixed(0)} ms)`);
    assert.ok(ticks >= Math.floor(ms / 10 / 4), `${ticks} ticks in ${ms.toFixed(0)} ms of training`);
  });

  it('never yields with yieldEveryMs: Infinity (the timer waits for the end)', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    try {
      await d.fit({ ...setup(), epochs: 1, yieldEveryMs: Infinity, train: new d.DataLoader(blobs(2048, 1), { batchSize: 16 }) });
    } finally {
      clearInterval(timer);
    }
    assert.equal(ticks, 0);
  });

  it('stops within one step of an abort, saves the last update, and resumes to the uninterrupted weights', async () => {
    const full = setup();
    await d.fit({ ...full, epochs: 2 });

    const out = tmp();
    const first = setup();
    const controller = new AbortController();
    let stepsAtAbort = -1;
    const r = await d.fit({
      ...first,
      epochs: 2,
      ...runFolder(out),
      callbacks: [
        {
          onStepEnd: (m) => {
            if (m.step === 150) {
              controller.abort();
              stepsAtAbort = m.step;
            }
          },
        },
      ],
      signal: controller.signal,
    });
    assert.equal(r.aborted, true);
    assert.equal(r.steps, stepsAtAbort, 'no update after the abort');
    const meta = JSON.parse(readFileSync(join(out, 'checkpoint', 'checkpoint.json'), 'utf8'));
    assert.equal(meta.step, 150);
    assert.equal(meta.trainer.progress.epoch, 2, 'a mid-epoch checkpoint (128 updates per epoch)');

    const second = setup();
    const again = await d.fit({ ...second, epochs: 2, ...runFolder(out, { resumeFrom: join(out, 'checkpoint') }) });
    assert.equal(again.aborted, false);
    assert.deepEqual(weights(second.model), weights(full.model));
    const steps = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((l) => l.type === 'epoch');
    assert.deepEqual(
      steps.map((l) => l.epoch),
      [1, 2],
      'each epoch logged once: epoch 2 after the resume',
    );
  });
});

describe('fit on a regression task', () => {
  it('learns y = 3x - 1 with the MSE loss and reports no accuracy', async () => {
    const g = new d.Generator(3);
    const x = d.rand([256, 1], { generator: g });
    const y = d.add(d.mul(x, 3), -1);
    d.manualSeed(0);
    const model = new d.Linear(1, 1);
    const val = new d.DataLoader(new d.TensorDataset(x, y), { batchSize: 64 });
    const r = await d.fit({
      model,
      optimizer: new d.SGD(model.parameters(), { lr: 0.3 }),
      loss: (o, t) => d.mseLoss(o, t),
      epochs: 30,
      train: new d.DataLoader(new d.TensorDataset(x, y), { batchSize: 32, shuffle: true }),
      validation: val,
      metrics: [accuracy, meanAbsoluteError],
    });
    const last = r.epochs.at(-1)!;
    assert.ok(last.train_loss < 1e-4 && last.val_loss! < 1e-4, `loss ${last.train_loss}, ${last.val_loss}`);
    assert.equal(last.train_accuracy, undefined);
    assert.equal(last.val_accuracy, undefined);
    // The mean absolute error, measured on the validation data, from the same weights as val_loss.
    assert.ok(last.val_mae! > 0 && last.val_mae! < 0.01 && last.train_mae! < 0.02, `mae ${last.train_mae} ${last.val_mae}`);
    const ev = await evaluate(model, val, (o, t) => d.mseLoss(o, t), { metrics: [meanAbsoluteError, meanSquaredError] });
    assert.equal(ev.metrics.mae, last.val_mae);
    assert.ok(Math.abs(ev.metrics.mse! - ev.loss) <= 1e-6 * ev.loss + 1e-12, 'the mse metric is the MSE loss');
    assert.ok(Math.abs(model.parameters()[0]!.item() - 3) < 0.02 && Math.abs(model.parameters()[1]!.item() + 1) < 0.02);
  });
});
