/**
 * fit(): mini-batch gradient descent. Each micro-batch's loss is the mean of its per-example
 * losses; autodiff gives its gradient. With accumulation, N micro-batches make one update whose
 * gradient is their example-weighted mean, which equals the gradient of one big batch's mean loss.
 *
 * After every update the trainer keeps a snapshot of everything the next updates depend on
 * (weights and buffers, optimizer and scheduler state, the loader's and the generators' positions,
 * the epoch's running sums). Snapshots cost no copies: updates replace storage instead of writing
 * into it, so a snapshot holds views of the old storage. Checkpoints are written from a snapshot,
 * and when the loss or the gradient stops being finite the last good snapshot is restored (and
 * saved as checkpoint-last-good), so what is kept is always one consistent state.
 */
import { valueAndGrad } from '../autograd/api.js';
import { getBackend } from '../backend/index.js';
import { noGrad } from '../core/grad-mode.js';
import type { Tensor } from '../core/tensor.js';
import { keep, scope } from '../core/tensor.js';
import { add, div, mul, sum } from '../ops/index.js';
import type { Scalar } from './scalars.js';
import { dropScalars, hostTensors, keepScalar, readScalars, readsAsync, scalarNow } from './scalars.js';
import type { EpochProgress } from './checkpoint-format.js';
import { CheckpointError } from './checkpoint-format.js';
import type { Snapshot } from './snapshot.js';
import { checkpointContent, dropSnapshot, restoreSnapshot, takeSnapshot } from './snapshot.js';
import { evaluate, forEachBatch } from './evaluate.js';
import type { Metric } from './metrics.js';
import { accuracy, MetricSums } from './metrics.js';
import type { Checkpoint, RunStore } from './store.js';
import { restoreCheckpoint } from './store.js';
import { Pacer } from './pace.js';
import type { Communicator } from '../distributed/communicator.js';
import { DataParallel, epochSums, reduceEvaluation, twoBatchNoise } from './data-parallel.js';
import type {
  BatchContext,
  BatchLoader,
  Callback,
  Divergence,
  EpochMetrics,
  FitResult,
  LossFn,
  Scheduler,
  Stateful,
  StepMetrics,
  StepOptimizer,
  TrainableModel,
} from './types.js';

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
  /**
   * Transform the averaged gradient store before the update (e.g. clipping); `examples` is how many
   * examples it averages (over every rank under data parallelism).
   */
  transformGrads?: (grads: Map<Tensor, Tensor>, info: { examples: number }) => Map<Tensor, Tensor>;
  callbacks?: Callback[];
  earlyStopping?: EarlyStopping;
  /**
   * Where log lines and checkpoints go (none: nothing is kept). On Node, `runFolder(dir)` from
   * descent/node gives one for a run folder (metrics.jsonl and checkpoint folders).
   */
  store?: RunStore;
  /** Log one step line to metrics.jsonl every this many updates (default 10). */
  logEvery?: number;
  /**
   * Replace the ordinary gradient of the micro-batch's mean loss (e.g. DP-SGD's clipped, noised
   * per-example mean). Must return the batch's mean loss, the gradient store of the mean loss
   * for every parameter, and optionally the correct count. On a GPU backend the figures may be
   * one-element tensors, which fit reads asynchronously (a number works everywhere).
   */
  computeGrads?: (ctx: BatchContext) => {
    loss: number | Tensor;
    grads: Map<Tensor, Tensor>;
    correct?: number | Tensor;
    metrics?: Record<string, number | Tensor | undefined>;
  };
  /** What is measured besides the loss, per epoch on the training and validation data (default: [accuracy], which leaves itself out for non-classification outputs). */
  metrics?: Metric[];
  /**
   * Called after every micro-batch with the batch, before the update; a returned record is written
   * to metrics.jsonl. A hook may return a Promise of its record (what a hook that reads GPU tensors
   * does): fit awaits it after the micro-batch, before the next one, and writes it in step order
   * (not under data parallelism, where the record joins the update's reduction at once).
   */
  stepHooks?: StepHook[];
  /** Other parts of the run with state (DP-SGD's noise generator...): saved in checkpoints and restored on resume, by name. */
  stateful?: Record<string, Stateful>;
  /** Continue from this checkpoint (on Node: `runFolder(dir, { resumeFrom })` or `checkpointFrom(dir)`). */
  resume?: Checkpoint;
  /**
   * Stop within one step when this signal is aborted: the result says `aborted`, and with a store
   * the state after the last update is saved as the checkpoint (mid-epoch), so no work is lost.
   */
  signal?: AbortSignal;
  /**
   * Give the event loop its turn once at least this many milliseconds of training have passed
   * since the last time (default 8: a page keeps repainting, timers and servers keep running;
   * Infinity: never).
   */
  yieldEveryMs?: number;
  /** Stored in checkpoints (how to rebuild the model, the data used...). */
  checkpointExtra?: Record<string, unknown>;
  /**
   * Data parallelism (data-parallel.ts): this process is one rank of a group training one model.
   * The training loader must be sharded by the same communicator; each update averages the
   * gradient over every rank's batches (global batch = batch size x accumulate x ranks); rank 0's
   * initial weights are broadcast; only rank 0 uses the store. `mpiCommunicator()` from
   * descent/node gives one under mpirun. Every rank must stop alike: an AbortSignal or a
   * callback's 'stop' on one rank alone leaves the others waiting at the next update.
   */
  communicator?: Communicator;
}

/** One epoch's running sums and the gradient group being accumulated. */
interface Epoch {
  epoch: number;
  /** performance.now() at the epoch's start (moved back by the time of a resumed partial epoch). */
  start: number;
  lossSum: number;
  examples: number;
  /** The metrics' sums over the epoch's examples so far. */
  sums: MetricSums;
  batch: number;
  /** Sum over the group's micro-batches of (batch size x mean-loss gradient). */
  acc: Map<Tensor, Tensor> | null;
  accN: number;
  accCount: number;
  gradNorm?: number;
  stop: boolean;
  /** Data parallelism: a loss of this rank's group was not finite (every rank stops at the group's update). */
  badLoss?: boolean;
  /** Data parallelism: a step hook's record, logged at the update with the two-batch noise estimate. */
  pendingStats?: Record<string, unknown>;
  /** Data parallelism: this rank's sum of n x loss over the group's micro-batches, and the group's mean loss over all ranks after its update. */
  groupLossSum?: number;
  updateLoss?: number;
  /** Step hooks' records being read (CPU backends; on GPU backends they travel in the StepRecord). */
  hooks: PendingHook[];
  /** GPU backends (lagged reads): the micro-batch computed and not yet updated or read, and the one whose figures are being read. */
  record?: StepRecord;
  reading?: StepRecord;
}

/** A step hook (FitOptions.stepHooks). */
export type StepHook = (ctx: BatchContext & { step: number; epoch: number }) => StepHookResult | Promise<StepHookResult>;
type StepHookResult = Record<string, unknown> | void;

/** A hook's record still being read: where it goes in metrics.jsonl. */
interface PendingHook {
  step: number;
  epoch: number;
  record: Promise<StepHookResult>;
}

/**
 * GPU backends: a micro-batch's figures, kept on the device while the next micro-batch is computed
 * and read back in one transfer (scalars.ts); what is checked and reported once they arrive, and
 * the snapshots a divergence found then goes back to (the same states the synchronous path keeps).
 */
interface StepRecord {
  n: number;
  /** Undefined for the update that ends an epoch with a shorter group (it has no micro-batch of its own). */
  loss?: Scalar;
  metrics: Record<string, Scalar | undefined>;
  normSq?: Scalar;
  updated: boolean;
  /** run.step before this micro-batch's update, and after it. */
  stepBefore: number;
  step: number;
  lr: number;
  batch: number;
  /** The states before this micro-batch's update: the one a non-finite loss goes back to, and the one a non-finite gradient does. */
  goodIfLoss: Snapshot | null;
  goodIfGradient: Snapshot | null;
  /** The snapshot taken after its update; its epoch sums are completed when the figures arrive. */
  after?: Snapshot;
  values?: Promise<(number | undefined)[]>;
  /** The step hooks' records still being read. */
  hooks: PendingHook[];
}

interface Run {
  o: FitOptions;
  params: Tensor[];
  /** The model's state dict, taken once: its tensors keep their identity through training. */
  entries: [string, Tensor][];
  paramKeys: Map<Tensor, string>;
  metrics: readonly Metric[];
  accumulate: number;
  store?: RunStore;
  step: number;
  best: number;
  sinceBest: number;
  inPlace: boolean;
  current: Snapshot | null;
  previous: Snapshot | null;
  /** GPU backends: the snapshot before `previous` (a divergence is found one micro-batch late). */
  older: Snapshot | null;
  /** Figures are read a micro-batch late, asynchronously (parameters in GPU memory). */
  lagged: boolean;
  /** The epoch in progress. */
  epoch?: Epoch;
  lastFinite: { loss: number; step: number } | null;
  history: EpochMetrics[];
  stoppedEarly: boolean;
  aborted: boolean;
  diverged?: Divergence;
  dp?: DataParallel;
}

function newRun(o: FitOptions, accumulate: number): Run {
  // The state dict is taken once: its tensors keep their identity through training.
  const entries = Object.entries(o.model.stateDict());
  const params = o.model.parameters();
  return {
    o,
    metrics: o.metrics ?? [accuracy],
    params,
    entries,
    paramKeys: new Map(entries.map(([k, t]) => [t, k])),
    accumulate,
    step: 0,
    best: Infinity,
    sinceBest: 0,
    inPlace: false,
    current: null,
    previous: null,
    older: null,
    lagged: params.some(readsAsync),
    lastFinite: null,
    history: [],
    stoppedEarly: false,
    aborted: false,
    dp: o.communicator && o.communicator.size > 1 ? new DataParallel(o.communicator, o.model.parameters(), accumulate, o.train) : undefined,
  };
}

export async function fit(o: FitOptions): Promise<FitResult> {
  if (o.communicator && o.communicator.rank !== 0) o = { ...o, store: undefined }; // rank 0 alone writes
  const accumulate = o.accumulate ?? 1;
  if (!Number.isInteger(accumulate) || accumulate < 1) throw new RangeError(`fit: accumulate must be a positive integer, got ${accumulate}`);
  if (!Number.isInteger(o.epochs) || o.epochs < 0) throw new RangeError(`fit: epochs must be a non-negative integer, got ${o.epochs}`);
  const t0 = performance.now();
  const run = newRun(o, accumulate);
  if (run.lagged && run.dp)
    throw new Error('fit: data parallelism (a communicator) needs the model on a CPU backend (js, wasm); its parameters are in GPU memory (webgpu)');
  const pacer = new Pacer(o.yieldEveryMs ?? 8);
  const { completed, progress } = start(run);
  o.model.train(true);
  const startEpoch = progress ? progress.epoch : completed + 1;
  for (const c of o.callbacks ?? []) c.onTrainBegin?.({ epochs: o.epochs, startEpoch, batchesPerEpoch: o.train.length });
  try {
    for (let epoch = startEpoch; epoch <= o.epochs && !run.diverged && !run.stoppedEarly && !run.aborted; epoch++) {
      const ep = newEpoch(epoch, run.metrics, progress?.epoch === epoch ? (run.dp?.resumedProgress(progress) ?? progress) : undefined);
      run.epoch = ep;
      for (const c of o.callbacks ?? []) c.onEpochBegin?.(epoch);
      run.dp?.beginEpoch(ep.batch);
      const after = run.lagged ? () => afterBatch(run, ep) : () => (ep.hooks.length ? logHooks(run, ep.hooks.splice(0)).then(() => true) : undefined);
      await forEachBatch(o.train, (b) => trainBatch(run, ep, b as [Tensor, Tensor]), pacer, after);
      if (run.lagged && !(await settle(run, ep))) break;
      await logHooks(run, ep.hooks.splice(0));
      if (aborted(run)) {
        // The state after the last update is kept; the micro-batches since are dropped.
        for (const g of ep.acc?.values() ?? []) g.dispose();
        if (run.current) await saveCheckpoint(run, run.current, 'checkpoint');
        break;
      }
      // a last, shorter accumulation group (under data parallelism, every rank joins its reduction)
      if (run.lagged) await lastGroupLagged(run, ep);
      else if ((!run.dp || run.dp.lastGroupPending()) && update(run, ep)) rotate(run, ep);
      if (run.diverged) break;
      await endEpoch(run, ep);
    }
  } finally {
    if (run.lagged) discardLagged(run);
    dropSnapshot(run.older);
    dropSnapshot(run.previous);
    dropSnapshot(run.current);
  }
  const result: FitResult = {
    epochs: run.history,
    steps: run.step,
    seconds: (performance.now() - t0) / 1000,
    stoppedEarly: run.stoppedEarly,
    aborted: run.aborted,
    diverged: run.diverged,
  };
  if (run.diverged) run.store?.log({ type: 'diverged', ...run.diverged });
  run.store?.close?.();
  for (const c of o.callbacks ?? []) c.onTrainEnd?.(result);
  return result;
}

/** Restore the checkpoint when resuming, take the first snapshot. */
function start(run: Run): { completed: number; progress?: EpochProgress } {
  const { o } = run;
  run.store = o.store;
  let completed = 0;
  let progress: EpochProgress | undefined;
  if (o.resume) {
    const meta = restoreCheckpoint(o.resume, { model: o.model, optimizer: o.optimizer, scheduler: o.scheduler, loader: o.train });
    for (const [name, part] of Object.entries(o.stateful ?? {})) {
      const saved = meta.components?.[name];
      if (saved === undefined)
        throw new CheckpointError(
          `checkpoint: ${o.resume.source ?? 'the checkpoint'}: holds no state for '${name}', which this run has (it was written by a run set up differently)`,
        );
      part.loadStateDict(saved);
    }
    run.step = meta.step;
    run.best = typeof meta.trainer?.best === 'number' ? meta.trainer.best : Infinity;
    run.sinceBest = meta.trainer?.sinceBest ?? 0;
    completed = meta.epoch;
    progress = meta.trainer?.progress;
    // An uninterrupted run would already have stopped here.
    if (o.earlyStopping && run.sinceBest >= o.earlyStopping.patience) run.stoppedEarly = true;
  }
  if (run.dp) {
    run.dp.checkSameSetup({ accumulate: run.accumulate, batches: o.train.length, step: run.step });
    run.dp.checkCollectiveLayers(o.model);
    run.dp.broadcastState(o.model);
  }
  run.current = snapshot(run, completed, progress ? newEpoch(progress.epoch, run.metrics, progress) : undefined);
  return { completed, progress };
}

function newEpoch(epoch: number, metrics: readonly Metric[], p?: EpochProgress): Epoch {
  return {
    epoch,
    start: performance.now() - (p?.seconds ?? 0) * 1000,
    lossSum: p?.lossSum ?? 0,
    examples: p?.examples ?? 0,
    sums: new MetricSums(metrics, p?.metrics),
    batch: p?.batch ?? 0,
    acc: null,
    accN: 0,
    accCount: 0,
    stop: false,
    hooks: [],
  };
}

function aborted(run: Run): boolean {
  if (run.o.signal?.aborted) run.aborted = true;
  return run.aborted;
}

/** One micro-batch: forward, loss, backward, accumulate; an update when the group is complete. False: the epoch stops. */
function trainBatch(run: Run, ep: Epoch, [x, y]: [Tensor, Tensor]): boolean {
  const { o } = run;
  if (run.diverged || aborted(run)) return false;
  // Stopped by a callback: the rest of the epoch is passed over (not broken off), so that the
  // loader ends the epoch where an epoch ends and a checkpoint taken now resumes at the next one.
  if (ep.stop) return true;
  const n = x.shape[0]!;
  const ctx: BatchContext = { model: o.model, loss: o.loss, x, y, params: run.params };
  if (run.lagged) return computeLagged(run, ep, ctx, n);
  const before = ep.sums.sums.accuracy;
  const b = run.dp?.beforeBatch(o.model, x);
  // The metrics are measured on the output inside the forward pass (its tensors end with it).
  const custom = o.computeGrads?.(ctx);
  const { loss: figure, grads } = custom ?? batchGradient(ctx, (out) => ep.sums.add(out, y));
  const loss = scalarNow(figure);
  if (custom) ep.sums.add(undefined, y, { accuracy: custom.correct, ...custom.metrics });
  ep.hooks.push(...runStepHooks(run, ep, ctx));
  ep.batch++;
  if (!Number.isFinite(loss) && !run.dp) {
    diverge(run, ep, 'loss', loss);
    return false;
  }
  if (Number.isFinite(loss)) run.lastFinite = { loss, step: run.step + 1 };
  else ep.badLoss = true; // every rank stops at the group's reduction
  ep.lossSum += loss * n;
  if (run.dp) ep.groupLossSum = (ep.groupLossSum ?? 0) + loss * n;
  ep.examples += n;
  const correct = typeof before === 'number' && typeof ep.sums.sums.accuracy === 'number' ? ep.sums.sums.accuracy - before : undefined;
  accumulate(run, ep, grads, n);
  ep.gradNorm = undefined;
  const shard = b === undefined ? undefined : run.dp!.afterBatch(b);
  if (shard) ep.batch = shard.position; // the loader's position in the whole epoch
  const updated = (shard ? shard.endsGroup : ep.accCount === run.accumulate) && update(run, ep);
  if (run.diverged) return false;
  stepEnd(run, ep, updated, {
    epoch: ep.epoch,
    step: run.step,
    loss: updated && run.dp ? ep.updateLoss! : loss, // under data parallelism: the update's loss over every rank
    examples: n,
    correct,
    lr: lr(o.optimizer),
    gradNorm: ep.gradNorm,
    batch: ep.batch,
    batches: o.train.length,
  });
  if (updated) rotate(run, ep);
  return true;
}

/** The step hooks on a micro-batch; the records still being read are returned (in hook order). */
function runStepHooks(run: Run, ep: Epoch, ctx: BatchContext): PendingHook[] {
  const pending: PendingHook[] = [];
  const step = run.step + 1;
  for (const h of run.o.stepHooks ?? []) {
    const rec = h({ ...ctx, step, epoch: ep.epoch });
    if (rec instanceof Promise) {
      rec.catch(() => undefined); // awaited in logHooks; one dropped unread (a divergence) must not be an unhandled rejection
      if (run.dp) throw new TypeError('fit: under data parallelism a step hook must return its record, not a Promise (it joins the update at once)');
      pending.push({ step, epoch: ep.epoch, record: rec });
    } else if (rec && run.dp) ep.pendingStats = rec;
    else if (rec && run.store) run.store.log({ type: 'stats', step, epoch: ep.epoch, ...rec });
  }
  return pending;
}

/** Await the hooks' records in order and write them. */
async function logHooks(run: Run, pending: readonly PendingHook[]): Promise<void> {
  for (const p of pending) {
    const rec = await p.record;
    if (rec && run.store) run.store.log({ type: 'stats', step: p.step, epoch: p.epoch, ...rec });
  }
}

/** A micro-batch's figures are known: the step line (every logEvery updates) and the callbacks. */
function stepEnd(run: Run, ep: Epoch, updated: boolean, m: StepMetrics): void {
  const { o } = run;
  if (run.store && updated && m.step % (o.logEvery ?? 10) === 0) {
    run.store.log({ type: 'step', ...m, examples_per_second: ep.examples / ((performance.now() - ep.start) / 1000) });
  }
  for (const cb of o.callbacks ?? []) if (cb.onStepEnd?.(m) === 'stop') ep.stop = run.stoppedEarly = true;
}

/** After an update: the latest snapshot becomes the previous one, and a new one is taken. */
function rotate(run: Run, ep: Epoch): void {
  if (run.lagged) {
    dropSnapshot(run.older);
    run.older = run.previous;
  } else dropSnapshot(run.previous);
  run.previous = run.current;
  run.current = snapshot(run, ep.epoch - 1, ep);
}

/** The micro-batch's mean loss and its gradient; `seen` is shown the model's output while it exists (for the metrics). */
function batchGradient(ctx: BatchContext, seen: (output: Tensor) => void): { loss: number; grads: Map<Tensor, Tensor> } {
  const r = batchGradientTensor(ctx, seen);
  return { loss: r.loss.item(), grads: r.grads };
}

function batchGradientTensor(ctx: BatchContext, seen: (output: Tensor) => void): { loss: Tensor; grads: Map<Tensor, Tensor> } {
  const r = valueAndGrad(() => {
    const out = ctx.model.forward(ctx.x);
    seen(out);
    return ctx.loss(out, ctx.y);
  }, ctx.params);
  return { loss: r.value, grads: r.grads };
}

/**
 * The first micro-batch of a group is held as it is (no extra pass when there is no accumulation);
 * from the second on, the group holds sum_i n_i * grad_i.
 */
function accumulate(run: Run, ep: Epoch, grads: Map<Tensor, Tensor>, n: number): void {
  const gradOf = (p: Tensor): Tensor => {
    const g = grads.get(p);
    if (!g) throw new Error(`fit: the gradient store has no entry for a parameter of shape [${p.shape}]`);
    return g;
  };
  const prev = ep.acc;
  if (!prev) ep.acc = new Map(run.params.map((p) => [p, keep(gradOf(p))]));
  else {
    const prevScale = ep.accCount === 1 ? ep.accN : 1;
    ep.acc = new Map(run.params.map((p) => [p, keep(add(prevScale === 1 ? prev.get(p)! : mul(prev.get(p)!, prevScale), mul(gradOf(p), n)))]));
    for (const g of prev.values()) g.dispose();
  }
  ep.accN += n;
  ep.accCount++;
}

function finiteNormSq(grads: Map<Tensor, Tensor>): number {
  return noGrad(() => {
    let s = 0;
    const b = getBackend();
    for (const g of grads.values()) s += b.sumSquares && g.storage.backend === b.name ? b.sumSquares(g.storage) : sum(mul(g, g)).item();
    return s;
  });
}

/** Apply the held group's mean gradient. Returns whether an update was made. */
function update(run: Run, ep: Epoch): boolean {
  const { o } = run;
  if ((!ep.acc && !run.dp) || ep.stop || run.diverged) return false;
  const held = ep.acc;
  const groupSize = ep.accCount;
  const total = ep.accN;
  const badLoss = !!ep.badLoss;
  ep.acc = null;
  ep.accN = ep.accCount = 0;
  ep.badLoss = false;
  const lossSum = ep.groupLossSum ?? 0;
  ep.groupLossSum = 0;
  try {
    // One micro-batch: its mean-loss gradient as it is. Several: the held sum of n_i * grad_i
    // over sum_i n_i, which is the gradient of the mean loss over all their examples (over all
    // ranks' micro-batches of the group under data parallelism).
    const reduced = run.dp?.reduce(held, { batches: groupSize, examples: total, lossSum, badLoss, measure: !!ep.pendingStats });
    ep.updateLoss = reduced?.loss;
    if (reduced?.badLoss) {
      diverge(run, ep, 'loss', NaN);
      return false;
    }
    const grads = reduced ? reduced.grads : groupSize === 1 ? held! : meanGradient(held!, total);
    const normSq = finiteNormSq(grads);
    if (!Number.isFinite(normSq)) {
      diverge(run, ep, 'gradient', normSq);
      return false;
    }
    if (ep.pendingStats) logStats(run, ep, reduced?.small && twoBatchNoise(reduced.small, { normSq, batch: reduced.examples }));
    applyGradients(run, grads, reduced ? reduced.examples : total);
    ep.gradNorm = Math.sqrt(normSq);
    return true;
  } finally {
    // the held tensors were kept out of the step's scope, so they are freed here
    for (const g of held?.values() ?? []) g.dispose();
  }
}

function meanGradient(held: Map<Tensor, Tensor>, total: number): Map<Tensor, Tensor> {
  return new Map([...held].map(([p, g]) => [p, div(g, total)] as [Tensor, Tensor]));
}

/** The update itself: transformGrads, the optimizer's step, the step count and a per-step scheduler. */
function applyGradients(run: Run, grads: Map<Tensor, Tensor>, examples: number): void {
  const { o } = run;
  if (o.transformGrads) grads = o.transformGrads(grads, { examples });
  o.optimizer.step(grads);
  // An optimizer that writes into a parameter's storage instead of replacing it would change
  // the snapshot's views too: from then on snapshots copy.
  const before = run.current?.weights;
  if (!run.inPlace && before && run.params.some((p) => p.storage === before[run.paramKeys.get(p)!]?.storage)) run.inPlace = true;
  run.step++;
  if (o.scheduler && o.schedulerInterval === 'step') o.scheduler.step();
}

/** Data parallelism: a step hook's record of this update, with the ranks' two-batch noise estimate beside it. */
function logStats(run: Run, ep: Epoch, noise: object | undefined): void {
  run.store?.log({ type: 'stats', step: run.step + 1, epoch: ep.epoch, ...ep.pendingStats, ...noise });
  ep.pendingStats = undefined;
}

function lr(optimizer: StepOptimizer): number {
  return optimizer.paramGroups[0]?.lr ?? NaN;
}

/** A snapshot of the run now: `completed` epochs done, and the epoch in progress when mid-epoch. */
function snapshot(run: Run, completed: number, ep?: Epoch): Snapshot {
  const progress =
    ep && ep.batch > 0
      ? {
          epoch: ep.epoch,
          batch: ep.batch,
          lossSum: ep.lossSum,
          examples: ep.examples,
          metrics: { ...ep.sums.sums },
          seconds: (performance.now() - ep.start) / 1000,
        }
      : undefined;
  return takeSnapshot(
    run.o,
    { step: run.step, epoch: completed, progress, best: run.best, sinceBest: run.sinceBest, logBytes: run.store?.logSize },
    run.inPlace,
    run.entries,
  );
}

function restore(run: Run, s: Snapshot): void {
  restoreSnapshot(run.o, s);
  run.step = s.step;
}

/**
 * `lagged` (GPU backends): the micro-batch's figures arrived one micro-batch late; its record names
 * the good state, the step, and where that state was saved already.
 */
function diverge(run: Run, ep: Epoch, what: 'loss' | 'gradient', value: number, lagged?: { good: Snapshot | null; at: number; savedTo?: string }): void {
  const { o } = run;
  const at = lagged ? lagged.at : run.step + 1;
  // A non-finite loss means the current weights are already bad: go back to the state before the
  // latest update. A non-finite gradient with a finite loss: the current weights are the good ones
  // (the snapshot also undoes what the failed step's forward passes did to buffers and generators).
  const good = lagged ? lagged.good : what === 'loss' ? run.previous : run.current;
  let savedTo = lagged?.savedTo;
  if (good) {
    restore(run, good);
    if (o.store && !lagged) savedTo = o.store.checkpoint(checkpointContent(good, o.checkpointExtra), 'checkpoint-last-good');
  }
  const last = run.lastFinite ? `last finite loss ${run.lastFinite.loss.toPrecision(6)} at step ${run.lastFinite.step}` : 'no finite loss before it';
  const kept = good
    ? `stopped and kept the last good weights (after step ${good.step})${savedTo ? `, saved to ${savedTo}` : ''}`
    : 'stopped; no update had given a finite loss, so there are no good weights to keep';
  const message = `training diverged at step ${at} (epoch ${ep.epoch}): the ${what} is ${Number.isNaN(value) ? 'NaN' : value} (${last}); ${kept}. Try a smaller learning rate or gradient clipping.`;
  run.diverged = {
    step: at,
    epoch: ep.epoch,
    what,
    lastFiniteLoss: run.lastFinite?.loss ?? null,
    lastFiniteStep: run.lastFinite?.step ?? null,
    message,
    savedTo,
  };
}

async function endEpoch(run: Run, ep: Epoch): Promise<void> {
  const { o } = run;
  const seconds = (performance.now() - ep.start) / 1000;
  run.dp?.checkWeights(ep.epoch);
  run.dp?.averageBuffers(o.model); // BatchNorm's running statistics: the mean of the ranks' own
  // Under data parallelism the epoch's figures are over every rank's examples.
  const { lossSum, examples, sums } = run.dp ? epochSums(run.dp, ep, run.metrics) : ep;
  const { accuracy: trainAccuracy, ...trainOther } = sums.means(examples);
  const m: EpochMetrics = {
    epoch: ep.epoch,
    step: run.step,
    train_loss: lossSum / examples,
    train_accuracy: trainAccuracy,
    ...prefixed('train_', trainOther),
    lr: lr(o.optimizer),
    seconds,
    examples_per_second: examples / seconds,
  };
  if (o.validation) {
    const local = await evaluate(o.model, o.validation, o.loss, { metrics: run.metrics });
    const v = run.dp ? reduceEvaluation(run.dp, local, run.metrics) : local;
    const { accuracy: _a, ...valOther } = v.metrics;
    m.val_loss = v.loss;
    m.val_accuracy = v.accuracy;
    Object.assign(m, prefixed('val_', valOther));
  }
  if (o.scheduler && o.schedulerInterval !== 'step') {
    o.scheduler.step(o.schedulerMetric === 'train_loss' ? m.train_loss : (m.val_loss ?? m.train_loss));
  }
  run.history.push(m);
  run.store?.log({ type: 'epoch', ...m });
  const stop = earlyStop(run, m);
  // The epoch's end replaces the latest snapshot (the weights are the same; the scheduler, the
  // early-stopping counters and the log have moved on) and is what the checkpoint holds.
  dropSnapshot(run.current);
  run.current = snapshot(run, ep.epoch);
  await saveCheckpoint(run, run.current, 'checkpoint');
  if (stop) run.stoppedEarly = true;
  for (const cb of o.callbacks ?? []) if (cb.onEpochEnd?.(m) === 'stop') run.stoppedEarly = true;
}

function prefixed(prefix: 'train_' | 'val_', values: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [prefix + k, v]));
}

/** Update the early-stopping counters with the epoch's figures; true when patience has run out. */
function earlyStop(run: Run, m: EpochMetrics): boolean {
  const es = run.o.earlyStopping;
  if (!es) return false;
  const key = es.monitor ?? (run.o.validation ? 'val_loss' : 'train_loss');
  const raw = m[key];
  if (raw === undefined) throw new Error(`fit: early stopping monitors ${key}, which this run does not compute`);
  const score = key === 'val_accuracy' ? -raw : raw; // lower is better
  if (score < run.best - (es.minDelta ?? 0)) {
    run.best = score;
    run.sinceBest = 0;
  } else run.sinceBest++;
  return run.sinceBest >= es.patience;
}

// ---------------------------------------------------------------------------------------------
// GPU backends: a micro-batch's figures are read one micro-batch late, while the device runs the
// next one. The order of work per micro-batch t: compute t (forward, backward, accumulate; its
// loss and metric sums stay on the device); submit it; await t-1's figures and check them (a
// divergence goes back to the snapshot t-1's record names, which the ring of three keeps); then
// t's update, and the read of t's figures starts. What is trained, kept and reported is what the
// synchronous path gives; only when the callbacks and log lines run moves by one micro-batch.
// ---------------------------------------------------------------------------------------------

/** Compute one micro-batch on a GPU backend: nothing is read back here. */
function computeLagged(run: Run, ep: Epoch, ctx: BatchContext, n: number): boolean {
  const { o } = run;
  let metrics: Record<string, Scalar | undefined> = {};
  const custom = o.computeGrads?.(ctx);
  // kept at once: the forward pass runs in valueAndGrad's own scope
  const kept = (r: Record<string, Scalar | undefined>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, keepScalar(v)]));
  const { loss, grads } = custom ?? batchGradientTensor(ctx, (out) => (metrics = kept(ep.sums.batch(out, ctx.y))));
  if (custom) metrics = kept(ep.sums.batch(undefined, ctx.y, { accuracy: custom.correct, ...custom.metrics }));
  const hooks = runStepHooks(run, ep, ctx);
  ep.batch++;
  accumulate(run, ep, grads, n);
  ep.record = newRecord(run, ep, n, keepScalar(loss), metrics, hooks);
  return true;
}

/** A record of the run as it is now, before the micro-batch's (or the last group's) update. */
function newRecord(
  run: Run,
  ep: Epoch,
  n: number,
  loss: Scalar | undefined,
  metrics: Record<string, Scalar | undefined>,
  hooks: PendingHook[] = [],
): StepRecord {
  return {
    hooks,
    n,
    loss,
    metrics,
    updated: false,
    stepBefore: run.step,
    step: run.step,
    lr: NaN,
    batch: ep.batch,
    goodIfLoss: run.previous,
    goodIfGradient: run.current,
  };
}

/** After a micro-batch on a GPU backend (outside its scope): the previous one's figures, then this one's update. */
async function afterBatch(run: Run, ep: Epoch): Promise<boolean> {
  getBackend().flush?.(); // the micro-batch just computed runs while the previous one's figures are read
  if (!(await settle(run, ep))) return false;
  const rec = ep.record;
  if (!rec) return true;
  ep.record = undefined;
  if (ep.stop || aborted(run)) {
    // a callback stopped (or the signal aborted) at the previous micro-batch: this one is passed
    // over, as the synchronous path would not have computed it
    dropRecord(rec);
    dropGroup(ep);
    ep.batch--;
    return !run.aborted;
  }
  if (ep.accCount === run.accumulate) scope(() => updateLagged(run, ep, rec));
  finishRecord(run, ep, rec);
  return true;
}

/** The update of the group held in ep.acc, with its gradient norm kept on the device. */
function updateLagged(run: Run, ep: Epoch, rec: StepRecord): void {
  const held = ep.acc!;
  const groupSize = ep.accCount;
  const total = ep.accN;
  ep.acc = null;
  ep.accN = ep.accCount = 0;
  try {
    const grads = groupSize === 1 ? held : meanGradient(held, total);
    rec.normSq = keepScalar(noGrad(() => [...grads.values()].map((g) => sum(mul(g, g))).reduce<Tensor | undefined>((a, q) => (a ? add(a, q) : q), undefined)));
    applyGradients(run, grads, total);
    rec.updated = true;
  } finally {
    for (const g of held.values()) g.dispose();
  }
}

/** After a (possible) update: the snapshot ring moves on and the read of the record's figures starts. */
function finishRecord(run: Run, ep: Epoch, rec: StepRecord): void {
  rec.step = run.step;
  rec.lr = lr(run.o.optimizer);
  if (rec.updated) {
    rotate(run, ep);
    rec.after = run.current ?? undefined;
  }
  rec.values = readScalars([rec.loss, rec.normSq, ...Object.values(rec.metrics)]);
  rec.values.catch(() => undefined); // awaited in settle; a record discarded unread must not be an unhandled rejection
  ep.reading = rec;
}

/** Await and check the figures being read; false: the run diverged (the good state is restored). */
async function settle(run: Run, ep: Epoch): Promise<boolean> {
  const rec = ep.reading;
  if (!rec) return true;
  ep.reading = undefined;
  let v: (number | undefined)[];
  try {
    v = await rec.values!;
  } finally {
    dropRecord(rec);
  }
  await logHooks(run, rec.hooks); // written before the step's own line, as on the CPU
  const [loss, normSq, ...mv] = v;
  const at = rec.stepBefore + 1;
  if (rec.loss !== undefined) {
    if (!Number.isFinite(loss)) return divergeLagged(run, ep, 'loss', loss!, rec.goodIfLoss, at);
    run.lastFinite = { loss: loss!, step: at };
    ep.lossSum += loss! * rec.n;
    ep.examples += rec.n;
  }
  const before = ep.sums.sums.accuracy;
  ep.sums.addValues(Object.fromEntries(Object.keys(rec.metrics).map((k, i) => [k, mv[i]])));
  if (rec.updated && !Number.isFinite(normSq)) return divergeLagged(run, ep, 'gradient', normSq!, rec.goodIfGradient, at);
  ep.gradNorm = rec.updated ? Math.sqrt(normSq!) : undefined;
  // the snapshot taken at the update, before these figures were known, gets the epoch's sums they complete
  if (rec.after?.progress) Object.assign(rec.after.progress, { lossSum: ep.lossSum, examples: ep.examples, metrics: { ...ep.sums.sums } });
  if (rec.loss === undefined) return true;
  const after = ep.sums.sums.accuracy;
  const correct = typeof before === 'number' && typeof after === 'number' ? after - before : undefined;
  stepEnd(run, ep, rec.updated, {
    epoch: ep.epoch,
    step: rec.step,
    loss: loss!,
    examples: rec.n,
    correct,
    lr: rec.lr,
    gradNorm: ep.gradNorm,
    batch: rec.batch,
    batches: run.o.train.length,
  });
  return true;
}

async function divergeLagged(run: Run, ep: Epoch, what: 'loss' | 'gradient', value: number, good: Snapshot | null, at: number): Promise<false> {
  dropRecord(ep.record);
  ep.record = undefined;
  dropGroup(ep);
  const savedTo = good ? await saveCheckpoint(run, good, 'checkpoint-last-good') : undefined;
  diverge(run, ep, what, value, { good, at, savedTo });
  return false;
}

/** The update of an epoch's last, shorter group (no micro-batch of its own: only its gradient is checked). */
async function lastGroupLagged(run: Run, ep: Epoch): Promise<void> {
  if (run.diverged || ep.stop || !ep.acc) return;
  const rec = newRecord(run, ep, 0, undefined, {});
  scope(() => updateLagged(run, ep, rec));
  finishRecord(run, ep, rec);
  await settle(run, ep);
}

function dropRecord(rec: StepRecord | undefined): void {
  if (rec) dropScalars([rec.loss, rec.normSq, ...Object.values(rec.metrics)]);
}

function dropGroup(ep: Epoch): void {
  for (const g of ep.acc?.values() ?? []) g.dispose();
  ep.acc = null;
  ep.accN = ep.accCount = 0;
}

/** fit() ends (or throws): what the lagged path still holds is freed. */
function discardLagged(run: Run): void {
  const ep = run.epoch;
  if (!ep) return;
  dropRecord(ep.record);
  dropRecord(ep.reading);
  ep.record = ep.reading = undefined;
}

/**
 * Write a checkpoint from a snapshot. On a GPU backend its tensors are first read back into host
 * tensors (the stores write synchronously), all in one go.
 */
async function saveCheckpoint(run: Run, s: Snapshot, name: 'checkpoint' | 'checkpoint-last-good'): Promise<string | undefined> {
  const { o } = run;
  if (!o.store) return undefined;
  const content = checkpointContent(s, o.checkpointExtra);
  if (!run.lagged) return o.store.checkpoint(content, name);
  const optimizer = content.optimizer;
  const [model, tensors] = await Promise.all([hostTensors(content.model), hostTensors(optimizer?.tensors ?? {})]);
  try {
    return o.store.checkpoint({ ...content, model, optimizer: optimizer && { meta: optimizer.meta, tensors } }, name);
  } finally {
    for (const t of [...Object.values(model), ...Object.values(tensors)]) t.dispose();
  }
}
