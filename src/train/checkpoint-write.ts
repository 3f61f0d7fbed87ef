/**
 * Writing checkpoints so that a crash at any moment leaves the old checkpoint or the new one,
 * never a mix (the layout is described in checkpoint.ts and docs/run-folder.md), and cleaning up
 * what an interrupted write left behind.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeSync,
} from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Tensor } from '../core/tensor.js';
import { encodeSafetensors } from '../io/safetensors.js';
import type { CheckpointContent, CheckpointMeta, FileEntry } from './checkpoint-format.js';
import { CHECKPOINT_FORMAT } from './checkpoint-format.js';
import { sha256 } from './checksum.js';
import { faultPoint } from './faults.js';

let counter = 0;
const TMP_PREFIX = '.tmp-';
const CHECKPOINT_DIR = /^checkpoint-\d+(?:-\d+)?$/;

function fsyncPath(path: string): void {
  // Windows cannot open a folder for fsync; elsewhere a folder's fsync makes its entries durable.
  if (process.platform === 'win32') return;
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeSynced(path: string, bytes: Uint8Array): void {
  faultPoint('open');
  const fd = openSync(path, 'wx');
  try {
    faultPoint('write');
    let at = 0;
    while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
    faultPoint('fsync');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

export function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The folder names the run folder's links point to (the temporary links of a write in flight excepted). */
function referenced(runDir: string): Set<string> {
  const out = new Set<string>();
  for (const name of readdirSync(runDir)) {
    const p = join(runDir, name);
    if (!name.startsWith(TMP_PREFIX) && isLink(p)) out.add(basename(readlinkSync(p)));
  }
  return out;
}

/** Point RUN/<link> at RUN/<target> in one rename. */
function publishLink(runDir: string, link: string, target: string): void {
  const linkPath = join(runDir, link);
  if (exists(linkPath) && !isLink(linkPath)) {
    // A phase-1 run folder holds a real folder here: move it aside first (it stays readable).
    faultPoint('rename-legacy');
    renameSync(linkPath, join(runDir, uniqueName(runDir, `${link}-legacy`)));
  }
  const tmp = join(runDir, `${TMP_PREFIX}link-${process.pid}-${++counter}`);
  faultPoint('symlink');
  // A junction needs no privileges on Windows; it takes an absolute target.
  if (process.platform === 'win32') symlinkSync(resolve(runDir, target), tmp, 'junction');
  else symlinkSync(target, tmp, 'dir');
  faultPoint('rename-link');
  renameSync(tmp, linkPath);
  faultPoint('fsync-run');
  fsyncPath(runDir);
}

function uniqueName(dir: string, base: string): string {
  if (!exists(join(dir, base))) return base;
  for (let k = 1; ; k++) if (!exists(join(dir, `${base}-${k}`))) return `${base}-${k}`;
}

/** Remove checkpoint folders that no link points to (old checkpoints, a crash's leftovers). */
function removeUnreferenced(runDir: string): void {
  const keep = referenced(runDir);
  for (const name of readdirSync(runDir)) {
    if (CHECKPOINT_DIR.test(name) && !keep.has(name) && !isLink(join(runDir, name))) {
      faultPoint('remove');
      rmSync(join(runDir, name), { recursive: true, force: true });
    }
  }
}

function safetensorsBytes(tensors: Record<string, Tensor>, metadata: Record<string, string>): Uint8Array {
  return encodeSafetensors(tensors, metadata);
}

/**
 * Write a checkpoint into RUN/checkpoint-<step>/ and point RUN/<link> at it (default link:
 * `checkpoint`). Returns the link's path, which is what `--resume` and `evaluate` take.
 */
export function writeCheckpoint(runDir: string, content: CheckpointContent, link: string = 'checkpoint'): string {
  mkdirSync(runDir, { recursive: true });
  const files = new Map<string, Uint8Array>();
  files.set('model.safetensors', safetensorsBytes(content.model, { format: CHECKPOINT_FORMAT }));
  if (content.optimizer) files.set('optimizer.safetensors', safetensorsBytes(content.optimizer.tensors, {}));
  const manifest: Record<string, FileEntry> = {};
  for (const [name, bytes] of files) manifest[name] = { bytes: bytes.length, sha256: sha256(bytes) };
  const meta: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    ...content.meta,
    optimizer: content.optimizer?.meta,
    savedAt: new Date().toISOString(),
    files: manifest,
  };
  files.set('checkpoint.json', new TextEncoder().encode(JSON.stringify(meta, null, 2) + '\n'));

  const tmp = join(runDir, `${TMP_PREFIX}checkpoint-${process.pid}-${++counter}`);
  faultPoint('mkdir');
  mkdirSync(tmp);
  try {
    for (const [name, bytes] of files) writeSynced(join(tmp, name), bytes);
    faultPoint('fsync-folder');
    fsyncPath(tmp);
    const final = uniqueName(runDir, `checkpoint-${content.meta.step}`);
    faultPoint('rename-folder');
    renameSync(tmp, join(runDir, final));
    publishLink(runDir, link, final);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  removeUnreferenced(runDir);
  return join(runDir, link);
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return false; // this process has only just started: nothing of it is in flight
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Remove what an interrupted run left in its folder: temporary checkpoint folders and links, the
 * CLI's write probe (`.tmp-probe-<pid>-0`),
 * `<file>.tmp-<pid>-<n>` files of atomic writes, and checkpoint folders no link points to. Only
 * leftovers of processes that are no longer running are touched. Returns the names removed.
 */
export function cleanRunFolder(runDir: string): string[] {
  if (!existsSync(runDir)) return [];
  const removed: string[] = [];
  for (const name of readdirSync(runDir)) {
    const m = /^\.tmp-(?:checkpoint|link|probe)-(\d+)-\d+$/.exec(name) ?? /\.tmp-(\d+)-\d+$/.exec(name);
    if (m && !pidAlive(Number(m[1]))) {
      rmSync(join(runDir, name), { recursive: true, force: true });
      removed.push(name);
    }
  }
  const before = new Set(readdirSync(runDir));
  removeUnreferenced(runDir);
  for (const name of before) if (!exists(join(runDir, name))) removed.push(name);
  return removed;
}
