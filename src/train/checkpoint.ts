/**
 * Checkpoints: a folder with model.safetensors (weights and buffers), optimizer.safetensors (its
 * state tensors) and checkpoint.json (epoch, step, optimizer/scheduler/loader/RNG state, and
 * whatever the caller adds, such as how to rebuild the model). Every file is written to a temp
 * file and renamed; checkpoint.json is written last, so a folder with it is complete.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RngState } from '../core/random.js';
import { defaultGenerator } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadSafetensors, saveSafetensors } from '../io/safetensors.js';
import type { BatchLoader, Scheduler, StepOptimizer, TrainableModel } from './types.js';

export const CHECKPOINT_FORMAT = 'descent-checkpoint/1';

export interface CheckpointMeta {
  format: string;
  epoch: number;
  step: number;
  rng: RngState;
  optimizer?: unknown;
  scheduler?: unknown;
  loader?: unknown;
  /** Free-form information from the caller (model spec, data set, metrics so far). */
  extra?: Record<string, unknown>;
  savedAt: string;
}

export interface CheckpointParts {
  model: TrainableModel;
  optimizer?: StepOptimizer;
  scheduler?: Scheduler;
  loader?: BatchLoader;
  epoch: number;
  step: number;
  extra?: Record<string, unknown>;
}

export function saveCheckpoint(dir: string, p: CheckpointParts): void {
  saveSafetensors(join(dir, 'model.safetensors'), p.model.stateDict(), { format: CHECKPOINT_FORMAT });
  let optimizerMeta: unknown;
  if (p.optimizer) {
    const st = p.optimizer.stateDict();
    saveSafetensors(join(dir, 'optimizer.safetensors'), st.tensors);
    optimizerMeta = st.meta;
  }
  const meta: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    epoch: p.epoch,
    step: p.step,
    rng: defaultGenerator.getState(),
    optimizer: optimizerMeta,
    scheduler: p.scheduler?.stateDict(),
    loader: p.loader?.getState?.(),
    extra: p.extra,
    savedAt: new Date().toISOString(),
  };
  writeFileAtomic(join(dir, 'checkpoint.json'), JSON.stringify(meta, null, 2) + '\n');
}

export function readCheckpointMeta(dir: string): CheckpointMeta {
  const file = join(dir, 'checkpoint.json');
  if (!existsSync(file)) throw new Error(`checkpoint: ${file} does not exist (expected a folder written by a training run)`);
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`checkpoint: ${file} is not valid JSON (${(e as Error).message})`);
  }
  if (meta.format !== CHECKPOINT_FORMAT) throw new Error(`checkpoint: ${file} has format ${JSON.stringify(meta.format)}, expected ${CHECKPOINT_FORMAT}`);
  return meta;
}

export function loadModelWeights(dir: string): Record<string, Tensor> {
  return loadSafetensors(join(dir, 'model.safetensors')).tensors;
}

/** Restore everything saveCheckpoint wrote into the given objects; returns the metadata. */
export function loadCheckpoint(dir: string, p: Omit<CheckpointParts, 'epoch' | 'step' | 'extra'>): CheckpointMeta {
  const meta = readCheckpointMeta(dir);
  p.model.loadStateDict(loadModelWeights(dir), true);
  if (p.optimizer) {
    if (meta.optimizer === undefined) throw new Error(`checkpoint: ${dir} holds no optimizer state`);
    p.optimizer.loadStateDict({ tensors: loadSafetensors(join(dir, 'optimizer.safetensors')).tensors, meta: meta.optimizer });
  }
  if (p.scheduler && meta.scheduler !== undefined) p.scheduler.loadStateDict(meta.scheduler as never);
  if (p.loader?.setState && meta.loader !== undefined) p.loader.setState(meta.loader as never);
  defaultGenerator.setState(meta.rng);
  return meta;
}
