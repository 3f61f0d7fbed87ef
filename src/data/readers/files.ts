/** File helpers shared by the readers: whole-file reads with gzip detection, atomic writes. */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** True when the bytes start with the gzip magic number 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** The file's bytes, decompressed when they are gzip (detected by magic bytes, not by name). */
export function readMaybeGzip(who: string, path: string): { bytes: Buffer; gzipped: boolean } {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (e) {
    throw new Error(`${who}: cannot read ${path}: ${(e as Error).message}`);
  }
  if (!isGzip(raw)) return { bytes: raw, gzipped: false };
  try {
    return { bytes: gunzipSync(raw), gzipped: true };
  } catch (e) {
    throw new Error(`${who}: ${path}: starts with the gzip magic bytes 1f 8b but does not decompress (${(e as Error).message}); expected a complete gzip stream`);
  }
}

let tmpCounter = 0;

/**
 * Write to `path` atomically: a temporary file beside it (its folder is created if needed),
 * flushed, then renamed over it, so readers see the old content or the new, never half of it.
 */
export function writeFileAtomic(path: string, chunks: Uint8Array | string | readonly (Uint8Array | string)[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${++tmpCounter}`;
  const list = typeof chunks === 'string' || chunks instanceof Uint8Array ? [chunks] : chunks;
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'w');
    for (const chunk of list) {
      const c = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      let at = 0;
      while (at < c.length) at += writeSync(fd, c, at, c.length - at);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
}
