import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import * as d from '../api/internal.js';
import type { Tensor } from '../../src/index.js';
import '../helpers.js';
import { runFolder, checkpointFrom } from '../../src/train/node.js';

const dirs: string[] = [];
const tmp = () => {
  const p = mkdtempSync(join(tmpdir(), 'descent-train-'));
  dirs.push(p);
  return p;
};
after(() => {
  for (const p of dirs) rmSync(p, { recursive: true, force: true });
});

const ce = (out: Tensor, y: Tensor) => d.crossEntropy(out, y);
const fashion = d.loadFashionMnist();

/** A small, fixed classification problem: 3 Gaussian blobs in 4-D. */
function blobs(n: number, seed: number, dtype: 'float32' | 'float64' = 'float32') {
  const g = new d.Generator(seed);
  const y = d.randint(0, 3, [n], { generator: g });
  const centers = d.tensor(
    [
      [2, 0, 0, 1],
      [0, 2, 0, -1],
      [0, 0, 2, 0],
    ],
    { dtype },
  );
  const x = d.add(d.indexSelect(centers, 0, y), d.randn([n, 4], { generator: g, dtype, std: 0.7 }));
  return new d.TensorDataset(x, y);
}

function weights(m: d.Module): number[][] {
  return m.parameters().map((p) => Array.from(p.data));
}

describe('fit on real data', () => {
  it('lowers the loss and raises the accuracy on the Fashion-MNIST subset', async () => {
    d.manualSeed(0);
    const model = d.mlp([784, 64, 10]);
    const opt = new d.Adam(model.parameters(), { lr: 2e-3 });
    const train = new d.DataLoader(fashion.train, { batchSize: 64, shuffle: true });
    const test = new d.DataLoader(fashion.test, { batchSize: 500 });
    const before = await d.evaluate(model, test, ce);
    const r = await d.fit({ model, loss: ce, optimizer: opt, train, validation: test, epochs: 3 });
    const last = r.epochs[2]!;
    assert.ok(r.epochs[2]!.train_loss < r.epochs[0]!.train_loss, `train loss ${r.epochs.map((e) => e.train_loss)}`);
    assert.ok(last.val_loss! < before.loss * 0.4, `test loss ${before.loss} -> ${last.val_loss}`);
    assert.ok(before.accuracy! < 0.3 && last.val_accuracy! > 0.78, `test accuracy ${before.accuracy} -> ${last.val_accuracy}`);
    assert.equal(r.steps, 3 * Math.ceil(6000 / 64));
  });
});

describe('gradient accumulation', () => {
  it('4 micro-batches of 8 make the same update as one batch of 32 (to 1e-6)', async () => {
    const run = async (batchSize: number, accumulate: number) => {
      const model = d.mlp([4, 16, 3], { generator: new d.Generator(1), dtype: 'float64' });
      const opt = new d.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
      await d.fit({ model, loss: ce, optimizer: opt, train: new d.DataLoader(blobs(96, 2, 'float64'), { batchSize }), epochs: 2, accumulate });
      return weights(model);
    };
    const big = await run(32, 1),
      small = await run(8, 4),
      plain = await run(8, 1);
    let worst = 0,
      differ = 0;
    big.forEach((w, i) =>
      w.forEach((v, j) => {
        worst = Math.max(worst, Math.abs(v - small[i]![j]!));
        differ = Math.max(differ, Math.abs(v - plain[i]![j]!));
      }),
    );
    assert.ok(worst < 1e-6, `accumulated vs big batch: max difference ${worst}`);
    assert.ok(differ > 1e-3, 'without accumulation the small batches really do train differently');
  });

  it('averages a short last group over its own examples', async () => {
    // 40 examples, micro-batches of 8, accumulate 3: updates over 24 and then 16 examples (2 micro-batches)
    const run = async (batchSize: number, accumulate: number, ds: d.Dataset) => {
      const model = d.mlp([4, 3], { generator: new d.Generator(3), dtype: 'float64' });
      const opt = new d.SGD(model.parameters(), { lr: 0.5 });
      const r = await d.fit({ model, loss: ce, optimizer: opt, train: new d.DataLoader(ds, { batchSize }), epochs: 1, accumulate });
      return { w: weights(model), steps: r.steps };
    };
    const ds = blobs(40, 4, 'float64');
    const acc = await run(8, 3, ds);
    assert.equal(acc.steps, 2);
    // the same as two plain batches of 24 and 16
    const model = d.mlp([4, 3], { generator: new d.Generator(3), dtype: 'float64' });
    const opt = new d.SGD(model.parameters(), { lr: 0.5 });
    for (const [a, b] of [
      [0, 24],
      [24, 40],
    ] as const) {
      const idx = Int32Array.from({ length: b - a }, (_, i) => a + i);
      const [x, y] = ds.getBatch!(idx);
      opt.step(d.grad(() => ce(model.forward(x!), y!), model.parameters()));
    }
    weights(model).forEach((w, i) => w.forEach((v, j) => assert.ok(Math.abs(v - acc.w[i]![j]!) < 1e-9)));
  });
});

describe('checkpoints and exact resume', () => {
  const setup = (out?: string) => {
    d.manualSeed(42);
    const model = d.mlp([4, 32, 3], { dropout: 0.2 });
    const opt = new d.Adam(model.parameters(), { lr: 0.01 });
    const scheduler = new d.StepLR(opt, 1, 0.5);
    const train = new d.DataLoader(blobs(120, 5), { batchSize: 16, shuffle: true });
    return { model, opt, scheduler, train, out };
  };

  it('a run stopped after epoch 2 and resumed ends bit-identical to an uninterrupted run', async () => {
    const full = setup();
    await d.fit({ model: full.model, loss: ce, optimizer: full.opt, scheduler: full.scheduler, train: full.train, epochs: 4 });
    const out = tmp();
    const first = setup(out);
    await d.fit({ model: first.model, loss: ce, optimizer: first.opt, scheduler: first.scheduler, train: first.train, epochs: 2, ...runFolder(out) });
    d.manualSeed(999); // disturb the global generator: the checkpoint must restore it
    const second = setup();
    const r = await d.fit({
      model: second.model,
      loss: ce,
      optimizer: second.opt,
      scheduler: second.scheduler,
      train: second.train,
      epochs: 4,
      resume: checkpointFrom(join(out, 'checkpoint')),
    });
    assert.deepEqual(
      r.epochs.map((e) => e.epoch),
      [3, 4],
    );
    assert.deepEqual(weights(second.model), weights(full.model));
    assert.ok(
      readdirSync(join(out, 'checkpoint')).every((f) => !f.includes('.tmp')),
      'no temp files left',
    );
    const meta = JSON.parse(readFileSync(join(out, 'checkpoint', 'checkpoint.json'), 'utf8'));
    assert.equal(meta.epoch, 2);
    assert.equal(meta.format, 'descent-checkpoint/2');
  });

  it('writes metrics as JSON lines', async () => {
    const out = tmp();
    const s = setup(out);
    await d.fit({ model: s.model, loss: ce, optimizer: s.opt, train: s.train, epochs: 2, ...runFolder(out), logEvery: 2 });
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const epochs = lines.filter((l) => l.type === 'epoch');
    assert.equal(epochs.length, 2);
    assert.ok(lines.filter((l) => l.type === 'step').length >= 7);
    for (const l of lines.filter((x) => x.type === 'step')) assert.ok(Number.isFinite(l.loss) && Number.isFinite(l.gradNorm) && l.step % 2 === 0);
  });
});

describe('divergence guard', () => {
  it('stops on a non-finite loss, names the step and the last finite loss, and keeps and saves the last good weights', async () => {
    const out = tmp();
    d.manualSeed(0);
    const model = d.mlp([4, 16, 3]);
    // A learning rate this large makes the weights overflow within a few steps.
    const opt = new d.SGD(model.parameters(), { lr: 1e6 });
    const r = await d.fit({ model, loss: ce, optimizer: opt, train: new d.DataLoader(blobs(256, 6), { batchSize: 16 }), epochs: 3, ...runFolder(out) });
    assert.ok(r.diverged, 'training should report divergence');
    const dv = r.diverged!;
    assert.match(dv.message, new RegExp(`training diverged at step ${dv.step} \\(epoch 1\\): the (loss|gradient) is`));
    assert.ok(dv.lastFiniteLoss === null || Number.isFinite(dv.lastFiniteLoss));
    assert.match(dv.message, /last finite loss [\d.e+-]+ at step \d+|no finite loss before it/);
    for (const w of weights(model)) assert.ok(w.every(Number.isFinite), 'kept weights are finite');
    assert.ok(existsSync(join(out, 'checkpoint-last-good', 'model.safetensors')));
    const saved = d.loadSafetensors(join(out, 'checkpoint-last-good', 'model.safetensors')).tensors;
    assert.deepEqual(Array.from(saved['0.weight']!.data), Array.from(model.parameters()[0]!.data));
    // the kept weights still give a finite loss on the data
    const [x, y] = blobs(32, 7).getBatch!(Int32Array.from({ length: 32 }, (_, i) => i));
    assert.ok(Number.isFinite(d.noGrad(() => ce(model.forward(x!), y!)).item()));
  });
});

describe('the last good state after a divergence', () => {
  // lr 40 with momentum makes the weights blow up within a few dozen updates.
  const setup = () => {
    d.manualSeed(5);
    const model = d.mlp([4, 16, 3], { dropout: 0.1 });
    const opt = new d.SGD(model.parameters(), { lr: 40, momentum: 0.9 });
    const train = new d.DataLoader(blobs(256, 6), { batchSize: 16, shuffle: true });
    return { model, opt, train };
  };
  const fileTensors = (dir: string, file: string) =>
    Object.fromEntries(Object.entries(d.loadSafetensors(join(dir, file)).tensors).map(([k, t]) => [k, Array.from(t.data)]));

  it('holds weights, optimizer state and step of one and the same update, and resumes mid-epoch exactly', async () => {
    const out = tmp();
    const a = setup();
    const r = await d.fit({ model: a.model, loss: ce, optimizer: a.opt, train: a.train, epochs: 5, ...runFolder(out) });
    const dv = r.diverged!;
    assert.ok(dv, 'the run diverges');
    const good = join(out, 'checkpoint-last-good');
    const meta = JSON.parse(readFileSync(join(good, 'checkpoint.json'), 'utf8'));
    // A non-finite loss at step s + 1 means the weights after update s are bad: the last good
    // state is the one after update s - 1; a non-finite gradient keeps the state after update s.
    assert.equal(meta.step, dv.what === 'loss' ? dv.step - 2 : dv.step - 1);
    assert.match(dv.message, new RegExp(`kept the last good weights \\(after step ${meta.step}\\)`));
    // An identical run stopped right after that update has exactly these weights and this state.
    const b = setup();
    await d.fit({
      model: b.model,
      loss: ce,
      optimizer: b.opt,
      train: b.train,
      epochs: 5,
      callbacks: [{ onStepEnd: (m) => (m.step === meta.step ? 'stop' : undefined) }],
    });
    const sd = b.model.stateDict(),
      os = b.opt.stateDict();
    assert.deepEqual(fileTensors(good, 'model.safetensors'), Object.fromEntries(Object.entries(sd).map(([k, t]) => [k, Array.from(t.data)])));
    assert.deepEqual(fileTensors(good, 'optimizer.safetensors'), Object.fromEntries(Object.entries(os.tensors).map(([k, t]) => [k, Array.from(t.data)])));
    assert.deepEqual(meta.optimizer.state, os.meta.state);
    // The model in memory was put back to the same state.
    assert.deepEqual(weights(a.model), weights(b.model));
    // Resuming from it (mid-epoch) replays the same updates: the same divergence at the same step.
    const c = setup();
    const again = await d.fit({ model: c.model, loss: ce, optimizer: c.opt, train: c.train, epochs: 5, resume: checkpointFrom(good) });
    assert.equal(again.diverged?.step, dv.step);
    assert.equal(again.diverged?.what, dv.what);
    assert.deepEqual(weights(c.model), weights(a.model));
  });
});

describe('callbacks and early stopping', () => {
  it('stops early when the monitored loss stops improving', async () => {
    d.manualSeed(0);
    const model = d.mlp([4, 3]);
    // lr 0 never improves: patience 2 stops after epoch 3
    const opt = new d.SGD(model.parameters(), { lr: 1e-12 });
    const ds = blobs(64, 8);
    const r = await d.fit({
      model,
      loss: ce,
      optimizer: opt,
      train: new d.DataLoader(ds, { batchSize: 32 }),
      validation: new d.DataLoader(ds, { batchSize: 64 }),
      epochs: 10,
      earlyStopping: { patience: 2, minDelta: 1e-3 },
    });
    assert.equal(r.stoppedEarly, true);
    assert.equal(r.epochs.length, 3);
  });

  it('a callback can stop training and sees every step', async () => {
    const seen: number[] = [];
    const model = d.mlp([4, 3], { generator: new d.Generator(0) });
    const r = await d.fit({
      model,
      loss: ce,
      optimizer: new d.SGD(model.parameters(), { lr: 0.1 }),
      train: new d.DataLoader(blobs(64, 9), { batchSize: 8 }),
      epochs: 5,
      callbacks: [
        {
          onStepEnd: (m) => {
            seen.push(m.step);
            return m.step === 5 ? 'stop' : undefined;
          },
        },
      ],
    });
    assert.deepEqual(seen, [1, 2, 3, 4, 5]);
    assert.equal(r.stoppedEarly, true);
  });

  it('keeps memory flat across epochs that write checkpoints (no optimizer copies left behind)', async () => {
    // Every epoch writes a checkpoint (optimizer state included) and every update keeps a
    // snapshot: the live tensors after epoch 5 and after epoch 40 must be the same.
    const out = tmp();
    d.manualSeed(1);
    const model = d.mlp([4, 16, 3], { dropout: 0.1 });
    const opt = new d.Adam(model.parameters(), { lr: 1e-3 });
    const live: { tensors: number; bytes: number }[] = [];
    await d.fit({
      model,
      loss: ce,
      optimizer: opt,
      train: new d.DataLoader(blobs(64, 11), { batchSize: 16, shuffle: true }),
      epochs: 40,
      ...runFolder(out),
      callbacks: [
        {
          onEpochEnd: () => {
            const m = d.memory();
            live.push({ tensors: m.tensors, bytes: m.bytes });
          },
        },
      ],
    });
    assert.deepEqual(live[39], live[4], `live tensors after epoch 5 and 40: ${JSON.stringify([live[4], live[39]])}`);
  });

  it('keeps memory flat across epochs', async () => {
    const model = d.mlp([4, 16, 3], { generator: new d.Generator(0) });
    const opt = new d.Adam(model.parameters());
    const train = new d.DataLoader(blobs(256, 10), { batchSize: 16, shuffle: true });
    await d.fit({ model, loss: ce, optimizer: opt, train, epochs: 1 });
    const m1 = d.memory();
    await d.fit({ model, loss: ce, optimizer: opt, train, epochs: 5 });
    const m2 = d.memory();
    assert.ok(m2.bytes - m1.bytes <= 0, `live bytes grew by ${m2.bytes - m1.bytes}`);
  });
});
