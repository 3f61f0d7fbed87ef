/**
 * A run folder on disk as fit()'s RunStore (Node only): metrics.jsonl and atomic checkpoint
 * folders (see checkpoint.ts and docs/run-folder.md).
 *
 *   await fit({ model, optimizer, loss, train, epochs, ...runFolder('runs/a') });
 *   await fit({ ..., ...runFolder('runs/a', { resumeFrom: 'runs/a/checkpoint' }) });   // continue it
 *
 * Opening the folder removes what an interrupted run left behind; resuming verifies the
 * checkpoint's files and cuts metrics.jsonl back to where the checkpoint was taken (or, resuming
 * into another folder, starts it as a copy of that part), so each step is logged once.
 */
import { existsSync, mkdirSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CheckpointContent, CheckpointMeta } from './checkpoint-format.js';
import { CHECKPOINT_BYTES_FORMAT } from './checkpoint-format.js';
import { cleanRunFolder, writeCheckpoint } from './checkpoint-write.js';
import { readCheckpoint, resolveCheckpointDir } from './checkpoint.js';
import { MetricsLog } from './metrics-log.js';
import type { Checkpoint, RunStore } from './store.js';

class FolderStore implements RunStore {
  constructor(
    readonly dir: string,
    private readonly metrics: MetricsLog,
  ) {}

  log(record: Record<string, unknown>): void {
    this.metrics.write(record);
  }

  get logSize(): number {
    return this.metrics.bytes;
  }

  checkpoint(content: CheckpointContent, name: 'checkpoint' | 'checkpoint-last-good'): string {
    this.metrics.sync(); // the lines the checkpoint counts are on disk before it is
    return writeCheckpoint(this.dir, content, name);
  }

  close(): void {
    this.metrics.close();
  }
}

/** A checkpoint folder read and verified into memory, to resume from (`fit({ resume })`). */
export function checkpointFrom(dir: string): Checkpoint {
  const c = readCheckpoint(dir);
  return { meta: c.meta, model: c.model, optimizer: c.optimizer, source: dir };
}

/**
 * fit()'s store (and, with resumeFrom, the checkpoint to resume from) for the run folder `dir`.
 * `resumeFrom` is a checkpoint folder, or one already read with checkpointFrom (not read again).
 */
export function runFolder(dir: string, o: { resumeFrom?: string | Checkpoint } = {}): { store: RunStore; resume?: Checkpoint } {
  const resume = typeof o.resumeFrom === 'string' ? checkpointFrom(o.resumeFrom) : o.resumeFrom;
  mkdirSync(dir, { recursive: true });
  cleanRunFolder(dir);
  return { store: new FolderStore(dir, openLog(dir, resume?.source, resume?.meta)), resume };
}

function openLog(outDir: string, resumeFrom: string | undefined, meta: CheckpointMeta | undefined): MetricsLog {
  const path = join(outDir, 'metrics.jsonl');
  // A checkpoint that came as bytes (decodeCheckpoint) has no run folder, hence no log to continue.
  if (!resumeFrom || !meta || meta.format === CHECKPOINT_BYTES_FORMAT) return new MetricsLog(path, false);
  const keep = meta.logs?.['metrics.jsonl'];
  const sourceRun = dirname(resolveCheckpointDir(resumeFrom));
  if (realpathSync(sourceRun) === realpathSync(outDir)) return new MetricsLog(path, true, keep);
  const source = join(sourceRun, 'metrics.jsonl');
  return existsSync(source) ? MetricsLog.copyFrom(source, path, keep ?? Infinity) : new MetricsLog(path, false);
}
