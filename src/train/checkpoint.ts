/**
 * Checkpoints on disk, written so that a crash at any moment leaves the old checkpoint or the new
 * one, never a mix of the two.
 *
 *   RUN/checkpoint -> checkpoint-<step>/        a symbolic link to the latest checkpoint folder
 *   RUN/checkpoint-<step>/model.safetensors     the model's state dict (parameters and buffers)
 *                        /optimizer.safetensors the optimizer's state tensors
 *                        /checkpoint.json       epoch, step, RNG/loader/scheduler/optimizer state,
 *                                               and the size and SHA-256 of every file above
 *
 * A new checkpoint is written into a hidden temporary folder (each file fsynced, then the folder),
 * renamed to its final name, then published by renaming a new link over RUN/checkpoint: rename(2)
 * replaces a link in one step, which it cannot do for a non-empty folder. Folders no link points
 * to any more are removed afterwards, and whatever a crash left over (temporary folders, links and
 * files, unreferenced checkpoint folders) is removed when the next run starts in the folder.
 * Reading verifies every file against checkpoint.json before anything is used, so a damaged or
 * mixed folder is refused with one line that names the file and what was expected.
 */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { defaultGenerator } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import { decodeSafetensors } from '../io/safetensors.js';
import type { CheckpointMeta } from './checkpoint-format.js';
import { CHECKPOINT_FORMAT, CheckpointError, LEGACY_FORMAT } from './checkpoint-format.js';
import { sha256 } from './checksum.js';
import { exists, writeCheckpoint } from './checkpoint-write.js';
import { restoreCheckpoint } from './store.js';
import type { BatchLoader, OptimizerStateLike, Scheduler, StepOptimizer, TrainableModel } from './types.js';

export { CHECKPOINT_FORMAT, CheckpointError } from './checkpoint-format.js';
export type { CheckpointContent, CheckpointMeta, EpochProgress, FileEntry } from './checkpoint-format.js';
export { cleanRunFolder, writeCheckpoint } from './checkpoint-write.js';

function fail(where: string, what: string): never {
  throw new CheckpointError(`checkpoint: ${where}: ${what}`);
}

function isUint32(x: unknown): boolean {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffffffff;
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** Check the JSON's shape field by field; `file` names it in errors. */
function validateMeta(file: string, meta: unknown): CheckpointMeta {
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) fail(file, 'expected a JSON object');
  const m = meta as Record<string, unknown>;
  if (m.format !== CHECKPOINT_FORMAT && m.format !== LEGACY_FORMAT) fail(file, `format is ${JSON.stringify(m.format)}, expected ${CHECKPOINT_FORMAT}`);
  if (!isCount(m.epoch)) fail(file, `epoch is ${JSON.stringify(m.epoch)}, expected a non-negative integer`);
  if (!isCount(m.step)) fail(file, `step is ${JSON.stringify(m.step)}, expected a non-negative integer`);
  if (!Array.isArray(m.rng) || m.rng.length !== 4 || !m.rng.every(isUint32))
    fail(file, `rng is ${JSON.stringify(m.rng)}, expected four unsigned 32-bit integers`);
  for (const k of ['extra', 'trainer', 'components', 'logs'] as const) {
    const v = m[k];
    if (v !== undefined && (v === null || typeof v !== 'object' || Array.isArray(v))) fail(file, `${k} is ${JSON.stringify(v)}, expected an object`);
  }
  for (const [k, v] of Object.entries((m.logs ?? {}) as Record<string, unknown>)) {
    if (!isCount(v)) fail(file, `logs.${k} is ${JSON.stringify(v)}, expected a byte count`);
  }
  if (m.format === CHECKPOINT_FORMAT) {
    const files = m.files as Record<string, unknown> | undefined;
    if (files === null || typeof files !== 'object' || Array.isArray(files)) fail(file, 'files is missing, expected the size and SHA-256 of every file');
    if (!Object.hasOwn(files, 'model.safetensors')) fail(file, 'files does not list model.safetensors');
    for (const [name, e] of Object.entries(files)) {
      if (name !== 'model.safetensors' && name !== 'optimizer.safetensors')
        fail(file, `files lists ${JSON.stringify(name)}, expected only model.safetensors and optimizer.safetensors`);
      const entry = e as Record<string, unknown> | null;
      if (!entry || !isCount(entry.bytes) || typeof entry.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(entry.sha256)) {
        fail(file, `files.${name} is ${JSON.stringify(e)}, expected { bytes, sha256 }`);
      }
    }
    if ((m.optimizer !== undefined) !== Object.hasOwn(files, 'optimizer.safetensors')) {
      fail(
        file,
        m.optimizer !== undefined
          ? 'optimizer state is described but optimizer.safetensors is not listed'
          : 'optimizer.safetensors is listed without optimizer state',
      );
    }
  }
  return m as unknown as CheckpointMeta;
}

/** The real folder a checkpoint path names (the link resolved), checked to exist. */
export function resolveCheckpointDir(dir: string): string {
  if (!exists(dir)) fail(dir, 'does not exist (expected a checkpoint folder written by a training run, e.g. runs/<run>/checkpoint)');
  let real: string;
  try {
    real = realpathSync(dir);
  } catch (e) {
    return fail(dir, `cannot be resolved (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); the link points nowhere`);
  }
  if (!statSync(real).isDirectory()) fail(dir, 'is a file, expected a checkpoint folder');
  return real;
}

export function readCheckpointMeta(dir: string): CheckpointMeta {
  const real = resolveCheckpointDir(dir);
  const file = join(dir, 'checkpoint.json');
  if (!existsSync(join(real, 'checkpoint.json'))) fail(file, 'does not exist (expected a folder written by a training run)');
  let text: string;
  try {
    text = readFileSync(join(real, 'checkpoint.json'), 'utf8');
  } catch (e) {
    return fail(file, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let meta: unknown;
  try {
    meta = JSON.parse(text);
  } catch (e) {
    return fail(file, `is not valid JSON (${(e as Error).message})`);
  }
  return validateMeta(file, meta);
}

/** A file of the checkpoint, read once and checked against the manifest. */
function readVerified(dir: string, real: string, meta: CheckpointMeta, name: string): Uint8Array {
  const shown = join(dir, name);
  let bytes: Buffer;
  try {
    bytes = readFileSync(join(real, name));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return fail(shown, code === 'ENOENT' ? 'is missing (the checkpoint is incomplete)' : `cannot be read (${code ?? (e as Error).message})`);
  }
  const entry = meta.files?.[name];
  if (entry) {
    if (bytes.length !== entry.bytes) fail(shown, `has ${bytes.length} bytes, checkpoint.json says ${entry.bytes} (damaged, or from another checkpoint)`);
    if (sha256(bytes) !== entry.sha256) fail(shown, 'its SHA-256 does not match checkpoint.json (damaged, or from another checkpoint)');
  }
  return bytes;
}

/** Read and verify a whole checkpoint: its metadata, the model's tensors and the optimizer's. */
export function readCheckpoint(dir: string): { meta: CheckpointMeta; model: Record<string, Tensor>; optimizer?: OptimizerStateLike; realDir: string } {
  const real = resolveCheckpointDir(dir);
  const meta = readCheckpointMeta(dir);
  const decode = (name: string): Record<string, Tensor> => {
    const bytes = readVerified(dir, real, meta, name);
    try {
      return decodeSafetensors(bytes, join(dir, name)).tensors;
    } catch (e) {
      return fail(join(dir, name), (e as Error).message.replace(/^.*?: not a valid safetensors file/, 'not a valid safetensors file'));
    }
  };
  const model = decode('model.safetensors');
  const optimizer = meta.optimizer !== undefined ? { tensors: decode('optimizer.safetensors'), meta: meta.optimizer } : undefined;
  return { meta, model, optimizer, realDir: real };
}

/** Verify a checkpoint folder without loading it into anything (what --resume checks first). */
export function verifyCheckpoint(dir: string): CheckpointMeta {
  const c = readCheckpoint(dir);
  for (const t of Object.values(c.model)) t.dispose();
  for (const t of Object.values(c.optimizer?.tensors ?? {})) t.dispose();
  return c.meta;
}

export function loadModelWeights(dir: string): Record<string, Tensor> {
  const c = readCheckpoint(dir);
  for (const t of Object.values(c.optimizer?.tensors ?? {})) t.dispose();
  return c.model;
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

/** Save a model (and optionally its optimizer, scheduler and loader) as a checkpoint folder `dir`. */
export function saveCheckpoint(dir: string, p: CheckpointParts): string {
  const optimizer = p.optimizer?.stateDict();
  try {
    return writeCheckpoint(
      dirname(resolve(dir)),
      {
        model: p.model.stateDict(),
        optimizer,
        meta: {
          epoch: p.epoch,
          step: p.step,
          rng: defaultGenerator.getState(),
          scheduler: p.scheduler?.stateDict(),
          loader: p.loader?.getState?.(),
          extra: p.extra,
        },
      },
      basename(resolve(dir)),
    );
  } finally {
    for (const t of Object.values(optimizer?.tensors ?? {})) t.dispose();
  }
}

/**
 * Restore everything a checkpoint folder holds into the given objects; returns the metadata. The
 * files are verified and decoded before anything changes; a failure names the part that did not fit.
 */
export function loadCheckpoint(dir: string, p: Omit<CheckpointParts, 'epoch' | 'step' | 'extra'>): CheckpointMeta {
  const c = readCheckpoint(dir);
  try {
    return restoreCheckpoint({ ...c, source: dir }, p);
  } finally {
    for (const t of Object.values(c.model)) t.dispose();
    for (const t of Object.values(c.optimizer?.tensors ?? {})) t.dispose();
  }
}
