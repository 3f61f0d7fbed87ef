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
import type { Tensor } from '../core/tensor.js';
import { decodeSafetensors } from '../io/safetensors.js';
import type { CheckpointMeta, CheckpointParts } from './checkpoint-format.js';
import { CheckpointError, validateMeta } from './checkpoint-format.js';
import { sha256 } from './checksum.js';
import { exists, writeCheckpoint } from './checkpoint-write.js';
import { restoreCheckpoint, withCheckpointContent } from './store.js';
import type { OptimizerStateLike } from './types.js';

export { CHECKPOINT_FORMAT, CheckpointError } from './checkpoint-format.js';
export type { CheckpointContent, CheckpointMeta, CheckpointParts, EpochProgress, FileEntry } from './checkpoint-format.js';
export { cleanRunFolder, writeCheckpoint } from './checkpoint-write.js';

function fail(where: string, what: string): never {
  throw new CheckpointError(`checkpoint: ${where}: ${what}`);
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

/** Save a model (and optionally its optimizer, scheduler and loader) as a checkpoint folder `dir`. */
export function saveCheckpoint(dir: string, p: CheckpointParts): string {
  return withCheckpointContent(p, (content) => writeCheckpoint(dirname(resolve(dir)), content, basename(resolve(dir))));
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
