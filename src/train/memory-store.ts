/**
 * A RunStore in memory, for a page (or a test): the log is an array of records, and each named
 * checkpoint (`checkpoint`, `checkpoint-last-good`) is kept as the bytes of one file
 * (checkpoint-bytes.ts), which a page can put in IndexedDB, offer as a download, or resume from.
 * Browser-safe.
 *
 *   const store = memoryStore({ onCheckpoint: (name, bytes) => idbPut(name, bytes) });
 *   await fit({ model, optimizer, loss, train, epochs: 10, store, signal });
 *   // later, or after a reload with memoryStore({ records, checkpoints }):
 *   await fit({ model, optimizer, loss, train, epochs: 10, store, resume: store.resume() });
 *
 * As with a run folder, a checkpoint records how long the log was when it was taken (for this
 * store, a count of records, under the same `logs` key `metrics.jsonl`), and `resume()` cuts the
 * log back to it, so each step appears once however often the run was interrupted.
 */
import type { CheckpointContent } from './checkpoint-format.js';
import { CheckpointError } from './checkpoint-format.js';
import type { EncodeCheckpointOptions } from './checkpoint-bytes.js';
import { decodeCheckpoint, encodeCheckpoint } from './checkpoint-bytes.js';
import type { Checkpoint, RunStore } from './store.js';

export type CheckpointName = 'checkpoint' | 'checkpoint-last-good';

export interface MemoryStoreOptions {
  /** The log of an earlier part of the run to continue (it is appended to, not copied). */
  records?: Record<string, unknown>[];
  /** Checkpoints of an earlier part of the run, by name (bytes encodeCheckpoint wrote). */
  checkpoints?: Iterable<[CheckpointName, Uint8Array]>;
  /** Called with each checkpoint's bytes as it is kept (to persist it); an exception stops the run. */
  onCheckpoint?: (name: CheckpointName, bytes: Uint8Array<ArrayBuffer>) => void;
  /** How checkpoints are encoded (`savedAt`: a fixed time makes the bytes reproducible). */
  encode?: EncodeCheckpointOptions;
}

export interface MemoryStore extends RunStore {
  /** The log: one record per step, epoch, stats or divergence line, in order. */
  readonly records: Record<string, unknown>[];
  /** The latest checkpoint of each name, as the bytes of one file (decodeCheckpoint reads them). */
  readonly checkpoints: Map<CheckpointName, Uint8Array>;
  /**
   * The checkpoint `name` (default `checkpoint`) decoded, to pass as fit's `resume`; the log is cut
   * back to its length when the checkpoint was taken. A CheckpointError when there is none.
   */
  resume(name?: CheckpointName): Checkpoint;
}

class MemoryRunStore implements MemoryStore {
  readonly records: Record<string, unknown>[];
  readonly checkpoints: Map<CheckpointName, Uint8Array>;

  constructor(private readonly o: MemoryStoreOptions) {
    this.records = o.records ?? [];
    this.checkpoints = new Map(o.checkpoints ?? []);
  }

  log(record: Record<string, unknown>): void {
    this.records.push(record);
  }

  get logSize(): number {
    return this.records.length;
  }

  checkpoint(content: CheckpointContent, name: CheckpointName): string {
    const bytes = encodeCheckpoint(content, this.o.encode);
    this.checkpoints.set(name, bytes);
    this.o.onCheckpoint?.(name, bytes);
    return `memory:${name}`;
  }

  resume(name: CheckpointName = 'checkpoint'): Checkpoint {
    const bytes = this.checkpoints.get(name);
    if (!bytes)
      throw new CheckpointError(`checkpoint: memory:${name}: there is none (the store holds ${[...this.checkpoints.keys()].join(', ') || 'no checkpoint'})`);
    const c = decodeCheckpoint(bytes, `memory:${name}`);
    const keep = c.meta.logs?.['metrics.jsonl'];
    if (keep !== undefined && keep < this.records.length) this.records.length = keep;
    return c;
  }
}

/** fit()'s store in memory: log records in an array, checkpoints as bytes (see the top of this file). */
export function memoryStore(opts: MemoryStoreOptions = {}): MemoryStore {
  return new MemoryRunStore(opts);
}
