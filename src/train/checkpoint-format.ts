/**
 * The checkpoint format: what checkpoint.json holds (see docs/run-folder.md), shared by the writer
 * (checkpoint-write.ts), the reader (checkpoint.ts) and the one-file form in memory
 * (checkpoint-bytes.ts), with the checks every reader makes of it. Browser-safe: it imports
 * nothing from node:*.
 */
import type { RngState } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import type { BatchLoader, OptimizerStateLike, Scheduler, StepOptimizer, TrainableModel } from './types.js';

export const CHECKPOINT_FORMAT = 'descent-checkpoint/2';
/** Checkpoints of phase 1: the same files, written one by one, without the manifest. Still read. */
export const LEGACY_FORMAT = 'descent-checkpoint/1';
/** A whole checkpoint as one safetensors file in memory (checkpoint-bytes.ts). */
export const CHECKPOINT_BYTES_FORMAT = 'descent-checkpoint-bytes/1';

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

/** What saveCheckpoint and checkpointToBytes take: the objects of a run, and where it is. */
export interface CheckpointParts {
  model: TrainableModel;
  optimizer?: StepOptimizer;
  scheduler?: Scheduler;
  loader?: BatchLoader;
  epoch: number;
  step: number;
  extra?: Record<string, unknown>;
}

function fail(where: string, what: string): never {
  throw new CheckpointError(`checkpoint: ${where}: ${what}`);
}

function isUint32(x: unknown): boolean {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffffffff;
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/**
 * Check a checkpoint's JSON field by field; `where` names it in errors. `formats`: the format
 * tags accepted (default: those of checkpoint folders; the first is the one named as expected).
 */
export function validateMeta(where: string, meta: unknown, formats: readonly string[] = [CHECKPOINT_FORMAT, LEGACY_FORMAT]): CheckpointMeta {
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) fail(where, 'expected a JSON object');
  const m = meta as Record<string, unknown>;
  if (!formats.includes(m.format as string)) fail(where, `format is ${JSON.stringify(m.format)}, expected ${formats[0]}`);
  if (!isCount(m.epoch)) fail(where, `epoch is ${JSON.stringify(m.epoch)}, expected a non-negative integer`);
  if (!isCount(m.step)) fail(where, `step is ${JSON.stringify(m.step)}, expected a non-negative integer`);
  if (!Array.isArray(m.rng) || m.rng.length !== 4 || !m.rng.every(isUint32))
    fail(where, `rng is ${JSON.stringify(m.rng)}, expected four unsigned 32-bit integers`);
  for (const k of ['extra', 'trainer', 'components', 'logs'] as const) {
    const v = m[k];
    if (v !== undefined && (v === null || typeof v !== 'object' || Array.isArray(v))) fail(where, `${k} is ${JSON.stringify(v)}, expected an object`);
  }
  for (const [k, v] of Object.entries((m.logs ?? {}) as Record<string, unknown>)) {
    if (!isCount(v)) fail(where, `logs.${k} is ${JSON.stringify(v)}, expected a byte count`);
  }
  if (m.format === CHECKPOINT_FORMAT) validateFiles(where, m);
  if (m.format === CHECKPOINT_BYTES_FORMAT && m.files !== undefined)
    fail(where, `files is ${JSON.stringify(m.files)}, expected none (a checkpoint in one file has no other files)`);
  return m as unknown as CheckpointMeta;
}

/** Format 2's manifest: the size and SHA-256 of model.safetensors, and of optimizer.safetensors exactly when there is optimizer state. */
function validateFiles(where: string, m: Record<string, unknown>): void {
  const files = m.files as Record<string, unknown> | undefined;
  if (files === null || typeof files !== 'object' || Array.isArray(files)) fail(where, 'files is missing, expected the size and SHA-256 of every file');
  if (!Object.hasOwn(files, 'model.safetensors')) fail(where, 'files does not list model.safetensors');
  for (const [name, e] of Object.entries(files)) {
    if (name !== 'model.safetensors' && name !== 'optimizer.safetensors')
      fail(where, `files lists ${JSON.stringify(name)}, expected only model.safetensors and optimizer.safetensors`);
    const entry = e as Record<string, unknown> | null;
    if (!entry || !isCount(entry.bytes) || typeof entry.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(entry.sha256)) {
      fail(where, `files.${name} is ${JSON.stringify(e)}, expected { bytes, sha256 }`);
    }
  }
  if ((m.optimizer !== undefined) !== Object.hasOwn(files, 'optimizer.safetensors')) {
    fail(
      where,
      m.optimizer !== undefined
        ? 'optimizer state is described but optimizer.safetensors is not listed'
        : 'optimizer.safetensors is listed without optimizer state',
    );
  }
}
