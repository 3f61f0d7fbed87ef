/**
 * fit(): mini-batch gradient descent. Each micro-batch's loss is the mean of its per-example
 * losses; autodiff gives its gradient. With accumulation, N micro-batches make one update whose
 * gradient is their example-weighted mean, which equals the gradient of one big batch's mean loss.
 * A non-finite loss or gradient stops training, keeping (and saving) the last good weights.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { valueAndGrad } from '../autograd/api.js';
import { noGrad } from '../core/grad-mode.js';
import type { Tensor } from '../core/tensor.js';
import { keep } from '../core/tensor.js';
import { add, detach, div, mul, sum } from '../ops/index.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { countCorrect, evaluate, forEachBatch } from './evaluate.js';
import { MetricsLog } from './metrics-log.js';
import type { BatchContext, BatchLoader, Callback, Divergence, EpochMetrics, FitResult, LossFn, Scheduler, StepOptimizer, TrainableModel } from './types.js';

export interface EarlyStopping {
  monitor?: 'val_loss' | 'val_accuracy' | 'train_loss';
  patience: number;
  minDelta?: number;
}

export interface FitOptions {
  model: TrainableModel;
  loss: LossFn;
  optimizer: StepOptimizer;
  train: BatchLoader;
  validation?: BatchLoader;
  epochs: number;
  /** Micro-batches per optimizer update (default 1). */
  accumulate?: number;
  scheduler?: Scheduler;
  /** When the scheduler steps: after every update, or after every epoch (default). ReduceLROnPlateau-style schedulers get the monitored value. */
  schedulerInterval?: 'step' | 'epoch';
  /** Called for epoch schedulers that take a metric (ReduceLROnPlateau): which value to pass. */
  schedulerMetric?: 'val_loss' | 'train_loss';
  /** Transform the averaged gradient store before the update (e.g. clipping). */
  transformGrads?: (grads: Map<Tensor, Tensor>) => Map<Tensor, Tensor>;
  callbacks?: Callback[];
  earlyStopping?: EarlyStopping;
  /** Folder for metrics.jsonl and checkpoints (none: nothing is written). */
  outDir?: string;
  /** Log one step line to metrics.jsonl every this many updates (default 10). */
  logEvery?: number;
  /**
   * Replace the ordinary gradient of the micro-batch's mean loss (e.g. DP-SGD's clipped, noised
   * per-example mean). Must return the batch's mean loss, the gradient store of the mean loss
   * for every parameter, and optionally the correct count.
   */
  computeGrads?: (ctx: BatchContext) => { loss: number; grads: Map<Tensor, Tensor>; correct?: number };
  /** Called after every micro-batch with the batch, before the update; a returned record is written to metrics.jsonl. */
  stepHooks?: ((ctx: BatchContext & { step: number; epoch: number }) => Record<string, unknown> | void)[];
  /** Continue from the checkpoint in this folder (written by an earlier run). */
  resumeFrom?: string;
  /** Stored in checkpoints (how to rebuild the model, the data used...). */
  checkpointExtra?: Record<string, unknown>;
}

function finiteNormSq(grads: Map<Tensor, Tensor>): number {
  return noGrad(() => {
    let s = 0;
    for (const g of grads.values()) s += sum(mul(g, g)).item();
    return s;
  });
}

export async function fit(o: FitOptions): Promise<FitResult> {
  const { model, optimizer } = o;
  const accumulate = o.accumulate ?? 1;
  if (!Number.isInteger(accumulate) || accumulate < 1) throw new RangeError(`fit: accumulate must be a positive integer, got ${accumulate}`);
  if (!Number.isInteger(o.epochs) || o.epochs < 0) throw new RangeError(`fit: epochs must be a non-negative integer, got ${o.epochs}`);
  const params = model.parameters();
  const callbacks = o.callbacks ?? [];
  const log = o.outDir ? new MetricsLog(join(o.outDir, 'metrics.jsonl'), !!o.resumeFrom) : undefined;
  if (o.outDir) mkdirSync(o.outDir, { recursive: true });

  let startEpoch = 1, step = 0;
  if (o.resumeFrom) {
    const meta = loadCheckpoint(o.resumeFrom, { model, optimizer, scheduler: o.scheduler, loader: o.train });
    startEpoch = meta.epoch + 1;
    step = meta.step;
  }
  const t0 = performance.now();
  const history: EpochMetrics[] = [];
  let stoppedEarly = false;
  let diverged: Divergence | undefined;
  let lastFinite: { loss: number; step: number } | null = null;
  let best = Infinity, sinceBest = 0;
  // Weights before the latest update: views that keep the old storage alive, since optimizers
  // replace a parameter's storage (assign) instead of writing into it.
  let previous: Tensor[] | null = null;
  let inPlace = false;
  const lr = () => optimizer.paramGroups[0]?.lr ?? NaN;
  const save = (dir: string, epoch: number) =>
    saveCheckpoint(dir, { model, optimizer, scheduler: o.scheduler, loader: o.train, epoch, step, extra: o.checkpointExtra });

  model.train(true);
  for (const c of callbacks) c.onTrainBegin?.({ epochs: o.epochs, startEpoch, batchesPerEpoch: o.train.length });

  for (let epoch = startEpoch; epoch <= o.epochs && !diverged && !stoppedEarly; epoch++) {
    for (const c of callbacks) c.onEpochBegin?.(epoch);
    const te = performance.now();
    let lossSum = 0, examples = 0, correct = 0, classified = true, batch = 0;
    // Accumulated sum over micro-batches of (batch size x mean-loss gradient), and its example count.
    let acc: Map<Tensor, Tensor> | null = null;
    let accN = 0, accCount = 0, stop = false;

    const update = (): void => {
      if (!acc || stop) return;
      const held: Map<Tensor, Tensor> = acc;
      const groupSize = accCount;
      acc = null;
      try {
        // One micro-batch: its mean-loss gradient as it is. Several: the held sum of n_i * grad_i
        // over sum_i n_i, which is the gradient of the mean loss over all their examples.
        let grads = groupSize === 1 ? held : new Map([...held].map(([p, g]) => [p, div(g, accN)] as [Tensor, Tensor]));
        accN = accCount = 0;
        const normSq = finiteNormSq(grads);
        if (!Number.isFinite(normSq)) {
          diverged = divergence('gradient', normSq);
          return;
        }
        if (o.transformGrads) grads = o.transformGrads(grads);
        // Keep the weights from before the update. Optimizers that replace a parameter's storage
        // (assign) leave the old storage to a detached view for free; one that writes in place is
        // detected and copied from then on.
        const before = params.map((p) => keep(inPlace ? noGrad(() => add(p, 0)) : detach(p)));
        optimizer.step(grads);
        if (!inPlace && params.some((p, i) => p.storage === before[i]!.storage)) inPlace = true;
        if (previous) for (const t of previous) t.dispose();
        previous = before;
        step++;
        if (o.scheduler && o.schedulerInterval === 'step') o.scheduler.step();
        gradNorm = Math.sqrt(normSq);
      } finally {
        // the held tensors were kept out of the step's scope, so they are freed here
        for (const g of held.values()) g.dispose();
      }
    };
    let gradNorm: number | undefined;

    const divergence = (what: 'loss' | 'gradient', value: number): Divergence => {
      // A non-finite loss means the current weights are already bad: go back to the ones that
      // gave the last finite loss. A non-finite gradient with a finite loss: the weights are fine.
      if (what === 'loss' && previous) params.forEach((p, i) => p.assign(previous![i]!));
      let savedTo: string | undefined;
      if (o.outDir) {
        savedTo = join(o.outDir, 'checkpoint-last-good');
        save(savedTo, epoch - 1);
      }
      const last = lastFinite ? `last finite loss ${lastFinite.loss.toPrecision(6)} at step ${lastFinite.step}` : 'no finite loss before it';
      const message = `training diverged at step ${step + 1} (epoch ${epoch}): the ${what} is ${Number.isNaN(value) ? 'NaN' : value} (${last}); stopped and kept the last good weights${savedTo ? `, saved to ${savedTo}` : ''}. Try a smaller learning rate or gradient clipping.`;
      return { step: step + 1, epoch, what, lastFiniteLoss: lastFinite?.loss ?? null, lastFiniteStep: lastFinite?.step ?? null, message, savedTo };
    };

    await forEachBatch(o.train, (b) => {
      if (stop || diverged) return;
      const [x, y] = b as [Tensor, Tensor];
      const n = x.shape[0]!;
      let c: number | undefined;
      let loss: number, grads: Map<Tensor, Tensor>;
      const ctx: BatchContext = { model, loss: o.loss, x, y, params };
      if (o.computeGrads) {
        ({ loss, grads, correct: c } = o.computeGrads(ctx));
      } else {
        const r = valueAndGrad(() => {
          const out = model.forward(x);
          c = countCorrect(out, y);
          return o.loss(out, y);
        }, params);
        loss = r.value.item();
        grads = r.grads;
      }
      for (const h of o.stepHooks ?? []) {
        const rec = h({ ...ctx, step: step + 1, epoch });
        if (rec && log) log.write({ type: 'stats', step: step + 1, epoch, ...rec });
      }
      batch++;
      if (!Number.isFinite(loss)) {
        diverged = divergence('loss', loss);
        return;
      }
      lastFinite = { loss, step: step + 1 };
      lossSum += loss * n;
      examples += n;
      if (c === undefined) classified = false;
      else correct += c;
      const prev: Map<Tensor, Tensor> | null = acc;
      const gradOf = (p: Tensor): Tensor => {
        const g = grads.get(p);
        if (!g) throw new Error(`fit: the gradient store has no entry for a parameter of shape [${p.shape}]`);
        return g;
      };
      // The first micro-batch of a group is held as it is (no extra pass when there is no
      // accumulation); from the second on, the group holds sum_i n_i * grad_i.
      if (!prev) acc = new Map(params.map((p) => [p, keep(gradOf(p))]));
      else {
        const prevScale = accCount === 1 ? accN : 1;
        acc = new Map(params.map((p) => [p, keep(add(prevScale === 1 ? prev.get(p)! : mul(prev.get(p)!, prevScale), mul(gradOf(p), n)))]));
        for (const g of prev.values()) g.dispose();
      }
      accN += n;
      accCount++;
      gradNorm = undefined;
      if (accCount === accumulate) update();
      if (diverged) return;
      const m = { epoch, step, loss, examples: n, correct: c, lr: lr(), gradNorm, batch, batches: o.train.length };
      if (log && gradNorm !== undefined && step % (o.logEvery ?? 10) === 0) log.write({ type: 'step', ...m, examples_per_second: examples / ((performance.now() - te) / 1000) });
      for (const cb of callbacks) if (cb.onStepEnd?.(m) === 'stop') stop = stoppedEarly = true;
    });
    update(); // a last, shorter accumulation group
    if (diverged) break;

    const seconds = (performance.now() - te) / 1000;
    const m: EpochMetrics = {
      epoch, step,
      train_loss: lossSum / examples,
      train_accuracy: classified && examples ? correct / examples : undefined,
      lr: lr(), seconds, examples_per_second: examples / seconds,
    };
    if (o.validation) {
      const v = await evaluate(model, o.validation, o.loss);
      m.val_loss = v.loss;
      m.val_accuracy = v.accuracy;
    }
    if (o.scheduler && o.schedulerInterval !== 'step') {
      o.scheduler.step(o.schedulerMetric === 'train_loss' ? m.train_loss : m.val_loss ?? m.train_loss);
    }
    history.push(m);
    log?.write({ type: 'epoch', ...m });
    if (o.outDir) save(join(o.outDir, 'checkpoint'), epoch);
    for (const cb of callbacks) if (cb.onEpochEnd?.(m) === 'stop') stoppedEarly = true;
    if (o.earlyStopping) {
      const key = o.earlyStopping.monitor ?? (o.validation ? 'val_loss' : 'train_loss');
      const raw = m[key];
      if (raw === undefined) throw new Error(`fit: early stopping monitors ${key}, which this run does not compute`);
      const score = key === 'val_accuracy' ? -raw : raw; // lower is better
      if (score < best - (o.earlyStopping.minDelta ?? 0)) {
        best = score;
        sinceBest = 0;
      } else if (++sinceBest >= o.earlyStopping.patience) stoppedEarly = true;
    }
  }
  if (previous) for (const t of previous as Tensor[]) t.dispose();
  const result: FitResult = { epochs: history, steps: step, seconds: (performance.now() - t0) / 1000, stoppedEarly, diverged };
  if (diverged) log?.write({ type: 'diverged', ...(diverged as Divergence) });
  log?.close();
  for (const c of callbacks) c.onTrainEnd?.(result);
  return result;
}
