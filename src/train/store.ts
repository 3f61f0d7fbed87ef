/**
 * Where a run's side effects go. fit() does no I/O of its own: it hands log records and
 * checkpoints to a RunStore given by the caller, and resumes from a Checkpoint held in memory.
 * On Node, `runFolder(dir)` (descent/node) gives both for a run folder on disk (metrics.jsonl,
 * atomic checkpoint folders); a page can keep them in memory or IndexedDB the same way.
 */
import type { Tensor } from '../core/tensor.js';
import { defaultGenerator } from '../core/random.js';
import type { CheckpointContent, CheckpointMeta, CheckpointParts } from './checkpoint-format.js';
import { CheckpointError } from './checkpoint-format.js';
import type { BatchLoader, OptimizerStateLike, Scheduler, StepOptimizer, TrainableModel } from './types.js';

export interface RunStore {
  /** Append one record (a step, epoch, stats or divergence line) to the run's log. */
  log(record: Record<string, unknown>): void;
  /** How much of the log there is so far: checkpoints record it, so a resume can cut the log back to it. */
  readonly logSize: number;
  /** Keep a checkpoint under a name (`checkpoint`, `checkpoint-last-good`); returns where it went, for messages. */
  checkpoint(content: CheckpointContent, name: 'checkpoint' | 'checkpoint-last-good'): string;
  /** Called once when fit() returns. */
  close?(): void;
}

/** A checkpoint in memory: what fit() resumes from. */
export interface Checkpoint {
  meta: CheckpointMeta;
  model: Record<string, Tensor>;
  optimizer?: OptimizerStateLike;
  /** Where it came from, for messages (a folder on Node). */
  source?: string;
}

/** The objects a checkpoint is restored into. */
export interface RestoreParts {
  model: TrainableModel;
  optimizer?: StepOptimizer;
  scheduler?: Scheduler;
  loader?: BatchLoader;
}

/**
 * Put a checkpoint's state into the given objects (and the default generator). Each part is
 * checked by its own loadStateDict before it changes anything; a failure names the part.
 */
export function restoreCheckpoint(c: Checkpoint, p: RestoreParts): CheckpointMeta {
  const where = c.source ?? 'the checkpoint';
  const part = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (e) {
      throw new CheckpointError(`checkpoint: ${where}: ${what}: ${(e as Error).message}`);
    }
  };
  if (p.optimizer && !c.optimizer) throw new CheckpointError(`checkpoint: ${where}: holds no optimizer state (it was saved without an optimizer)`);
  part('model.safetensors', () => p.model.loadStateDict(c.model, true));
  if (p.optimizer) part('optimizer state', () => p.optimizer!.loadStateDict(c.optimizer!));
  if (p.scheduler && c.meta.scheduler !== undefined) part('scheduler state', () => p.scheduler!.loadStateDict(c.meta.scheduler as never));
  if (p.loader?.setState && c.meta.loader !== undefined) part('loader state', () => p.loader!.setState!(c.meta.loader as never));
  part('rng', () => defaultGenerator.setState(c.meta.rng));
  return c.meta;
}

/**
 * The content of a checkpoint of these objects (the model's state dict, the optimizer's, the
 * scheduler's and loader's state) and of the default generator, handed to `write` (a folder on
 * Node, bytes anywhere); the optimizer state's tensors are freed when it returns.
 */
export function withCheckpointContent<T>(p: CheckpointParts, write: (content: CheckpointContent) => T): T {
  const optimizer = p.optimizer?.stateDict();
  try {
    const meta = {
      epoch: p.epoch,
      step: p.step,
      rng: defaultGenerator.getState(),
      scheduler: p.scheduler?.stateDict(),
      loader: p.loader?.getState?.(),
      extra: p.extra,
    };
    return write({ model: p.model.stateDict(), optimizer, meta });
  } finally {
    for (const t of Object.values(optimizer?.tensors ?? {})) t.dispose();
  }
}
