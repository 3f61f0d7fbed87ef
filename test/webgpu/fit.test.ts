/**
 * fit() and evaluate() on the webgpu backend: the loss, metrics and gradient norm stay on the GPU
 * and are read one micro-batch late, in one transfer per micro-batch, so no step waits for its own
 * figures. The results are those of the same run on the CPU (wasm): the epoch figures, every
 * step's callback values, accumulation with a per-step scheduler, the divergence guard's kept
 * state and saved checkpoint, a callback's stop, an abort's mid-epoch checkpoint, evaluate's
 * confusion matrix; and no step waits for its own read.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../../src/index.js';
import { onBackend, webgpuSuite } from './setup.js';

const CPU = d.listBackends().includes('wasm') ? 'wasm' : 'js';

/** 192 examples of 8 features in 3 classes (host values, the same on every backend). */
function data(seed: number): { x: Float32Array; y: Int32Array } {
  const g = new d.Generator(seed);
  const x = new Float32Array(192 * 8).map(() => g.nextFloat64() * 2 - 1);
  const y = new Int32Array(192).map((_, i) => [0, 1, 2].reduce((best, j) => (x[i * 8 + j]! > x[i * 8 + best]! ? j : best), 0));
  return { x, y };
}

interface Run {
  r: d.FitResult;
  steps: d.StepMetrics[];
  weights: number[][];
  store: d.MemoryStore;
  evaluation?: d.EvalResult;
}

/** One seeded run on `name`; `opts` adjusts the run (learning rate, accumulation, callbacks...). */
async function run(
  name: string,
  opts: { lr?: number; accumulate?: number; stopAt?: number; abortAt?: number; evaluate?: boolean; stats?: boolean; clip?: number; dpSgd?: boolean } = {},
): Promise<Run> {
  return onBackend(name, async () => {
    d.manualSeed(0);
    const model = d.mlp([8, 32, 3]);
    const optimizer = new d.SGD(model.parameters(), { lr: opts.lr ?? 0.1, momentum: 0.9 });
    const { x, y } = data(1);
    const v = data(2);
    const ds = new d.TensorDataset(d.tensor(x, { shape: [192, 8] }), d.tensor(y));
    const val = new d.TensorDataset(d.tensor(v.x, { shape: [192, 8] }), d.tensor(v.y));
    const steps: d.StepMetrics[] = [];
    const store = d.memoryStore();
    const ac = new AbortController();
    const r = await d.fit({
      model,
      optimizer,
      loss: (o, t, lo?: { reduction: 'none' }) => d.crossEntropy(o, t, lo),
      train: new d.DataLoader(ds, { batchSize: 20, shuffle: true, generator: new d.Generator(3) }),
      validation: new d.DataLoader(val, { batchSize: 64 }),
      epochs: 3,
      accumulate: opts.accumulate,
      scheduler: new d.StepLR(optimizer, 12, 0.5),
      schedulerInterval: 'step',
      store,
      signal: ac.signal,
      stepHooks: opts.stats ? [d.gradientStatsHook({ every: 3 })] : undefined,
      transformGrads: opts.clip ? (g) => d.clipGradNorm(g, opts.clip!).grads : undefined,
      computeGrads: opts.dpSgd ? d.dpSgdGradients({ maxGradNorm: 0.5, noiseMultiplier: 0.3, generator: new d.Generator(9) }) : undefined,
      callbacks: [
        {
          onStepEnd: (m) => {
            steps.push({ ...m });
            if (m.step === opts.abortAt) ac.abort();
            return m.step === opts.stopAt ? 'stop' : undefined;
          },
        },
      ],
    });
    const weights = await Promise.all(model.parameters().map(async (p) => Array.from(await p.dataAsync())));
    const evaluation = opts.evaluate ? await d.evaluate(model, new d.DataLoader(val, { batchSize: 50 }), (o, t) => d.crossEntropy(o, t)) : undefined;
    return { r, steps, weights, store, evaluation };
  });
}

const close = (a: number, b: number, rel: number, what: string) =>
  assert.ok(Math.abs(a - b) <= rel * Math.max(Math.abs(b), 1e-6) || (Number.isNaN(a) && Number.isNaN(b)), `${what}: webgpu ${a} vs ${b}`);

function sameRun(gpu: Run, cpu: Run, rel = 1e-3): void {
  assert.equal(gpu.r.steps, cpu.r.steps);
  assert.equal(gpu.r.epochs.length, cpu.r.epochs.length);
  assert.deepEqual([gpu.r.stoppedEarly, gpu.r.aborted, !!gpu.r.diverged], [cpu.r.stoppedEarly, cpu.r.aborted, !!cpu.r.diverged]);
  gpu.r.epochs.forEach((e, i) => {
    const c = cpu.r.epochs[i]!;
    close(e.train_loss, c.train_loss, rel, `epoch ${e.epoch} train_loss`);
    close(e.val_loss!, c.val_loss!, rel, `epoch ${e.epoch} val_loss`);
    assert.ok(Math.abs(e.train_accuracy! - c.train_accuracy!) <= 0.02, `epoch ${e.epoch} train_accuracy ${e.train_accuracy} vs ${c.train_accuracy}`);
    assert.equal(e.lr, c.lr);
  });
  assert.equal(gpu.steps.length, cpu.steps.length, 'onStepEnd calls');
  gpu.steps.forEach((m, i) => {
    const c = cpu.steps[i]!;
    assert.deepEqual([m.epoch, m.step, m.examples, m.batch, m.batches, m.lr], [c.epoch, c.step, c.examples, c.batch, c.batches, c.lr], `onStepEnd ${i}`);
    close(m.loss, c.loss, rel, `step ${m.step} loss`);
    assert.equal(m.gradNorm === undefined, c.gradNorm === undefined, `step ${m.step}: gradNorm given alike`);
    if (m.gradNorm !== undefined) close(m.gradNorm, c.gradNorm!, 1e-2, `step ${m.step} gradNorm`);
  });
  gpu.weights.forEach((w, i) => w.forEach((v, j) => close(v, cpu.weights[i]![j]!, 1e-2, `weight ${i}[${j}]`)));
}

describe('fit() and evaluate() on webgpu', () => {
  const onGpu = webgpuSuite();

  it('train as on the CPU: epoch figures, every step callback, a per-step scheduler, evaluate with its confusion matrix', async (t) => {
    if (!onGpu(t)) return;
    const cpu = await run(CPU, { evaluate: true });
    const gpu = await run('webgpu', { evaluate: true });
    sameRun(gpu, cpu);
    assert.ok(gpu.r.epochs[2]!.val_accuracy! > 0.7, `it learns: ${gpu.r.epochs[2]!.val_accuracy}`);
    close(gpu.evaluation!.loss, cpu.evaluation!.loss, 1e-3, 'evaluate loss');
    assert.equal(gpu.evaluation!.examples, 192);
    assert.deepEqual(gpu.evaluation!.confusion, cpu.evaluation!.confusion);
    // the checkpoint written at the end is read back from the GPU: the same weights
    const saved = d.decodeCheckpoint(gpu.store.checkpoints.get('checkpoint')!);
    assert.equal(saved.meta.step, gpu.r.steps);
    const w0 = Array.from(saved.model['0.weight']!.data);
    w0.forEach((v, j) => assert.equal(v, gpu.weights[0]![j]));
  });

  it('the gradient statistics hook measures on the GPU and writes the same records, in step order, as on the CPU', async (t) => {
    if (!onGpu(t)) return;
    const gpu = await run('webgpu', { stats: true, accumulate: 2 });
    const cpu = await run(CPU, { stats: true, accumulate: 2 });
    sameRun(gpu, cpu);
    const kinds = (r: Run) => r.store.records.map((x) => `${x.type}:${x.step}`);
    assert.deepEqual(kinds(gpu), kinds(cpu), 'the same lines in the same order');
    const stats = (r: Run) => r.store.records.filter((x) => x.type === 'stats') as unknown as (d.GradientStatsRecord & { step: number })[];
    const [gs, cs] = [stats(gpu), stats(cpu)];
    assert.ok(gs.length >= 4, `stats lines: ${gs.length}`);
    gs.forEach((g, i) => {
      const c = cs[i]!;
      assert.equal(g.batch_size, c.batch_size);
      for (const k of ['grad_mean_norm_sq', 'trace_cov', 'noise_scale_ema'] as const) close(g[k], c[k], 1e-2, `step ${g.step} ${k}`);
      g.per_example_norms.forEach((v, j) => close(v, c.per_example_norms[j]!, 1e-2, `step ${g.step} norm ${j}`));
    });
  });

  it('clips the gradient norm on the device (no read per step), and trains with DP-SGD, as on the CPU', async (t) => {
    if (!onGpu(t)) return;
    sameRun(await run('webgpu', { clip: 0.3 }), await run(CPU, { clip: 0.3 }));
    // per-example clip factors on the device, the same seeded noise drawn on the host and copied over
    sameRun(await run('webgpu', { dpSgd: true }), await run(CPU, { dpSgd: true }));
  });

  it('accumulates (2 micro-batches an update, a last shorter group) as on the CPU', async (t) => {
    if (!onGpu(t)) return;
    sameRun(await run('webgpu', { accumulate: 2 }), await run(CPU, { accumulate: 2 }));
  });

  it('a callback stop and an abort end where they do on the CPU; the abort saves the mid-epoch state', async (t) => {
    if (!onGpu(t)) return;
    sameRun(await run('webgpu', { stopAt: 13 }), await run(CPU, { stopAt: 13 }));
    const gpu = await run('webgpu', { abortAt: 15 });
    const cpu = await run(CPU, { abortAt: 15 });
    sameRun(gpu, cpu);
    const [g, c] = [gpu, cpu].map((x) => d.decodeCheckpoint(x.store.checkpoints.get('checkpoint')!).meta);
    assert.equal(g!.step, c!.step);
    assert.deepEqual(g!.trainer?.progress && { ...g!.trainer.progress, seconds: 0 }, c!.trainer?.progress && { ...c!.trainer.progress, seconds: 0 });
  });

  it('diverges as on the CPU: the same step, what was not finite, the same kept state, saved as checkpoint-last-good', async (t) => {
    if (!onGpu(t)) return;
    const gpu = await run('webgpu', { lr: 1e4 });
    const cpu = await run(CPU, { lr: 1e4 });
    assert.ok(cpu.r.diverged && gpu.r.diverged, 'both runs diverge');
    assert.deepEqual([gpu.r.diverged.step, gpu.r.diverged.what], [cpu.r.diverged.step, cpu.r.diverged.what]);
    sameRun(gpu, cpu, 1e-2);
    const saved = d.decodeCheckpoint(gpu.store.checkpoints.get('checkpoint-last-good')!);
    assert.equal(saved.meta.step, d.decodeCheckpoint(cpu.store.checkpoints.get('checkpoint-last-good')!).meta.step);
    Array.from(saved.model['0.weight']!.data).forEach((v, j) => assert.equal(v, gpu.weights[0]![j]));
  });
});
