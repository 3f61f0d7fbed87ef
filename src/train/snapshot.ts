/**
 * Snapshots of a training run: everything the next updates depend on (weights and buffers,
 * optimizer and scheduler state, the loader's and the generators' positions, the run's other
 * stateful parts, the trainer's counters), as it was right after one update or an epoch's end.
 *
 * A snapshot costs no copies: updates replace a tensor's storage instead of writing into it, so a
 * detached view keeps the old values alive for as long as the snapshot holds it. (An optimizer
 * that writes in place is detected by the trainer, which then asks for copies.) The trainer keeps
 * two: the latest, which checkpoints are written from, and the one before, which is where a run
 * goes back to when the loss at the latest weights is not finite.
 */
import { noGrad } from '../core/grad-mode.js';
import type { RngState } from '../core/random.js';
import { defaultGenerator } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import { keep } from '../core/tensor.js';
import { add, detach } from '../ops/index.js';
import type { CheckpointContent, EpochProgress } from './checkpoint.js';
import type { BatchLoader, OptimizerStateLike, Scheduler, Stateful, StepOptimizer, TrainableModel } from './types.js';

/** The parts of a run a snapshot covers (fit's options have them). */
export interface SnapshotParts {
  model: TrainableModel;
  optimizer: StepOptimizer;
  scheduler?: Scheduler;
  train: BatchLoader;
  stateful?: Record<string, Stateful>;
}

/** The trainer's own counters at the snapshot. */
export interface SnapshotCounters {
  step: number;
  /** Epochs completed. */
  epoch: number;
  progress?: EpochProgress;
  best: number;
  sinceBest: number;
  /** Bytes of metrics.jsonl written so far. */
  logBytes?: number;
}

export interface Snapshot extends SnapshotCounters {
  /** The model's state dict: views of the storage it had (copies when `copy` was asked). */
  weights: Record<string, Tensor>;
  optimizer: OptimizerStateLike;
  scheduler?: unknown;
  loader?: unknown;
  rng: RngState;
  components: Record<string, unknown>;
}

/**
 * `entries`: the model's state dict as [key, tensor] pairs, when the caller has it already (the
 * tensors keep their identity through training, so the trainer takes it once, not every step).
 */
export function takeSnapshot(p: SnapshotParts, counters: SnapshotCounters, copy: boolean, entries?: readonly [string, Tensor][]): Snapshot {
  const weights: Record<string, Tensor> = {};
  for (const [k, t] of entries ?? Object.entries(p.model.stateDict())) weights[k] = keep(copy ? noGrad(() => add(t, 0)) : detach(t));
  const components: Record<string, unknown> = {};
  for (const [name, part] of Object.entries(p.stateful ?? {})) components[name] = part.stateDict();
  return {
    ...counters,
    weights,
    optimizer: p.optimizer.stateDict({ copy }),
    scheduler: p.scheduler?.stateDict(),
    loader: p.train.getState?.(),
    rng: defaultGenerator.getState(),
    components,
  };
}

/** Free what the snapshot holds. */
export function dropSnapshot(s: Snapshot | null): void {
  if (!s) return;
  for (const t of Object.values(s.weights)) t.dispose();
  for (const t of Object.values(s.optimizer.tensors)) t.dispose();
}

/**
 * Put the model, optimizer, scheduler, stateful parts and the default generator back as they were
 * at the snapshot (copying, so the snapshot stays valid). The loader is left where it is: the run
 * stops after a restore, and a checkpoint written from the snapshot holds the loader's position.
 */
export function restoreSnapshot(p: SnapshotParts, s: Snapshot): void {
  p.model.loadStateDict(s.weights, true);
  p.optimizer.loadStateDict(s.optimizer);
  if (p.scheduler && s.scheduler !== undefined) p.scheduler.loadStateDict(s.scheduler as never);
  for (const [name, part] of Object.entries(p.stateful ?? {})) part.loadStateDict(s.components[name]);
  defaultGenerator.setState(s.rng);
}

/** What a checkpoint written from the snapshot holds. */
export function checkpointContent(s: Snapshot, extra?: Record<string, unknown>): CheckpointContent {
  return {
    model: s.weights,
    optimizer: s.optimizer,
    meta: {
      epoch: s.epoch,
      step: s.step,
      rng: s.rng,
      scheduler: s.scheduler,
      loader: s.loader,
      trainer: { best: Number.isFinite(s.best) ? s.best : null, sinceBest: s.sinceBest, progress: s.progress },
      components: s.components,
      logs: s.logBytes === undefined ? undefined : { 'metrics.jsonl': s.logBytes },
      extra,
    },
  };
}
