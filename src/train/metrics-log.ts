/**
 * metrics.jsonl: one JSON object per line, appended as training goes (see docs/run-folder.md).
 * The log counts the bytes it holds, so a checkpoint can record where the log stood and a resumed
 * run can cut the log back to that point: each step then appears once, however often the run was
 * interrupted.
 */
import { appendFileSync, closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { faultPoint } from './faults.js';

export class MetricsLog {
  private size: number;

  /**
   * Open the log at `path`. With `append` the existing lines are kept, cut back to `keepBytes` when
   * given (the size a checkpoint recorded) and to the last whole line; without it the log starts empty.
   */
  constructor(
    readonly path: string,
    append = false,
    keepBytes?: number,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    if (!append || !existsSync(path)) writeFileSync(path, '');
    else cutBack(path, keepBytes);
    this.size = statSync(path).size;
  }

  /** Start this log as a copy of the first `bytes` bytes of another run's log (a resume into a new folder). */
  static copyFrom(source: string, path: string, bytes: number): MetricsLog {
    mkdirSync(dirname(path), { recursive: true });
    if (existsSync(source)) {
      copyFileSync(source, path);
      return new MetricsLog(path, true, bytes);
    }
    return new MetricsLog(path, false);
  }

  write(record: Record<string, unknown>): void {
    const line = JSON.stringify({ time: new Date().toISOString(), ...record }) + '\n';
    faultPoint('metrics-append');
    appendFileSync(this.path, line);
    this.size += Buffer.byteLength(line);
  }

  /** Bytes written so far (what a checkpoint records). */
  get bytes(): number {
    return this.size;
  }

  /** Make the lines written so far durable (before a checkpoint that refers to them). */
  sync(): void {
    const fd = openSync(this.path, 'r+');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  close(): void {}
}

/** Cut the file back to at most `keepBytes` bytes, ending at a line end (a torn last line goes). */
function cutBack(path: string, keepBytes?: number): void {
  const size = statSync(path).size;
  let end = keepBytes === undefined ? size : Math.min(size, keepBytes);
  if (end > 0) {
    // Walk back to the last '\n' at or before `end`.
    const fd = openSync(path, 'r');
    try {
      const buf = Buffer.alloc(4096);
      while (end > 0) {
        const from = Math.max(0, end - buf.length);
        const n = readSync(fd, buf, 0, end - from, from);
        const nl = buf.subarray(0, n).lastIndexOf(0x0a);
        if (nl >= 0) {
          end = from + nl + 1;
          break;
        }
        end = from;
      }
    } finally {
      closeSync(fd);
    }
  }
  if (end < size) truncateSync(path, end);
}
