/**
 * The run folder of `descent train`: checked before anything is written, so that a bad --out is
 * one line and exit code 2 with nothing created, and a folder that already holds a run is never
 * overwritten by accident (--overwrite replaces it; --resume continues it).
 */
import { existsSync, mkdirSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from './errors.js';

/** What a training run writes into its folder (docs/run-folder.md). */
const RUN_ENTRY =
  /^(config\.json|metrics\.jsonl|summary\.json|report\.html|test-predictions\.json|checkpoint(?:-last-good|-legacy(?:-\d+)?|-\d+(?:-\d+)?)?|\.tmp-.*|.*\.tmp-\d+-\d+)$/;
/** Any one of these means the folder holds a run. */
const RUN_MARKERS = ['config.json', 'metrics.jsonl', 'checkpoint', 'summary.json'];

function errnoText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const what: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    ENOTDIR: 'a part of the path is a file',
    ENOSPC: 'no space left on the device',
    ENAMETOOLONG: 'the name is too long',
  };
  return err.code ? `${what[err.code] ?? err.code}` : err.message;
}

/**
 * mkdir -p, one level at a time from the deepest folder that exists. (Node's own recursive mkdir
 * never returns on some special file systems, such as a path under /proc.)
 */
function makeFolder(path: string): void {
  const missing: string[] = [];
  let p = resolve(path);
  while (!existsSync(p)) {
    missing.push(p);
    const parent = dirname(p);
    if (parent === p) break;
    p = parent;
  }
  for (const dir of missing.reverse()) mkdirSync(dir);
}

/** The same folder, whether or not either path exists yet or is spelled differently. */
export function sameFolder(a: string, b: string): boolean {
  const real = (p: string) => (existsSync(p) ? realpathSync(p) : resolve(p));
  return real(a) === real(b);
}

/**
 * Make sure `out` can take the run: it is a folder (or can be made one), it is writable, and it
 * holds no other run unless `overwrite` (then that run's files are removed) or `continuing` (a
 * resume into the run's own folder). Call it after every other check and before the first write.
 */
export function prepareRunFolder(out: string, o: { overwrite: boolean; continuing: boolean }): void {
  const existed = existsSync(out);
  if (existed && !statSync(out).isDirectory())
    throw new UsageError(`--out: ${out} is a file; expected a folder for the run (or a path that does not exist yet)`);
  if (existed && !o.continuing) {
    const found = RUN_MARKERS.filter((f) => existsSync(join(out, f)));
    if (found.length && !o.overwrite) {
      throw new UsageError(
        `--out: ${out} already holds a run (${found.join(', ')}); pass --overwrite to replace it, or --resume ${join(out, 'checkpoint')} to continue it`,
      );
    }
  }
  try {
    makeFolder(out);
  } catch (e) {
    throw new UsageError(`--out: cannot create the folder ${out} (${errnoText(e)})`);
  }
  const probe = join(out, `.tmp-probe-${process.pid}-0`);
  try {
    writeFileSync(probe, '');
    rmSync(probe, { force: true });
  } catch (e) {
    if (!existed) rmSync(out, { recursive: true, force: true });
    throw new UsageError(`--out: cannot write into ${out} (${errnoText(e)})`);
  }
  if (existed && !o.continuing && o.overwrite) {
    // Only what a run writes is removed: other files the user keeps there stay.
    for (const name of readdirSync(out)) if (RUN_ENTRY.test(name)) rmSync(join(out, name), { recursive: true, force: true });
  }
}
