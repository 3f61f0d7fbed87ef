/**
 * The checkpoint format: what checkpoint.json holds (see docs/run-folder.md), shared by the writer
 * (checkpoint-write.ts) and the reader (checkpoint.ts). Browser-safe: it imports nothing from node:*.
 */
import type { RngState } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import type { OptimizerStateLike } from './types.js';

export const CHECKPOINT_FORMAT = 'descent-checkpoint/2';
/** Checkpoints of phase 1: the same files, written one by one, without the manifest. Still read. */
export const LEGACY_FORMAT = 'descent-checkpoint/1';

/** A bad or damaged checkpoint: the CLI reports it as one line with exit code 2. */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
}

export interface FileEntry {
  bytes: number;
  sha256: string;
}

/** Where an epoch was interrupted, for a checkpoint taken between two updates of an epoch. */
export interface EpochProgress {
  epoch: number;
  /** Micro-batches of the epoch already trained on. */
  batch: number;
  lossSum: number;
  examples: number;
  /** Each metric's sum over the epoch's examples so far (null: it does not apply). */
  metrics: Record<string, number | null>;
  seconds: number;
}

export interface CheckpointMeta {
  format: string;
  /** Epochs completed. */
  epoch: number;
  /** Optimizer updates made. */
  step: number;
  rng: RngState;
  optimizer?: unknown;
  scheduler?: unknown;
  loader?: unknown;
  /** The trainer's own counters (early stopping), and the epoch in progress when there is one. */
  trainer?: { best?: number | null; sinceBest?: number; progress?: EpochProgress };
  /** State of the run's other stateful parts (e.g. DP-SGD's noise generator), by name. */
  components?: Record<string, unknown>;
  /** Bytes of each log file (metrics.jsonl) when the checkpoint was taken: resume cuts them back to it. */
  logs?: Record<string, number>;
  /** Free-form information from the caller (model spec, data set, metrics so far). */
  extra?: Record<string, unknown>;
  savedAt: string;
  /** Every other file of the folder with its size and SHA-256 (format 2). */
  files?: Record<string, FileEntry>;
}

/** Everything a checkpoint holds, in memory. */
export interface CheckpointContent {
  model: Record<string, Tensor>;
  optimizer?: OptimizerStateLike;
  meta: Omit<CheckpointMeta, 'format' | 'savedAt' | 'files' | 'optimizer'>;
}
