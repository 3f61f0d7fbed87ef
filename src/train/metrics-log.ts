/** metrics.jsonl: one JSON object per line, appended as training goes (see docs/run-folder.md). */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export class MetricsLog {
  constructor(readonly path: string, append = false) {
    mkdirSync(dirname(path), { recursive: true });
    if (!append) writeFileSync(path, '');
  }

  write(record: Record<string, unknown>): void {
    appendFileSync(this.path, JSON.stringify({ time: new Date().toISOString(), ...record }) + '\n');
  }

  close(): void {}
}
