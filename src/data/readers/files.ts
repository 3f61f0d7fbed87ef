/** File helpers shared by the readers: whole-file reads with gzip detection (inflated under a limit), atomic writes. */
import { constants as bufferConstants } from 'node:buffer';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';

/** The most bytes a gzip file may decompress to when nothing tighter is known: the largest Buffer (4 GiB on Node 20). */
export const MAX_GUNZIP_BYTES = Math.min(2 ** 32, bufferConstants.MAX_LENGTH);

/** True when the bytes start with the gzip magic number 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

export interface GunzipOptions {
  /** Most decompressed bytes accepted (default MAX_GUNZIP_BYTES). */
  maxBytes?: number;
  /**
   * A format whose header says how big the data is: the first `bytes` decompressed bytes are
   * inflated alone and handed to `limit`, which returns the exact size they announce (and says
   * what that is, for the error). The rest is then inflated only up to that size, so a small file
   * that expands to gigabytes stops as soon as it passes what its own header promised.
   */
  head?: { bytes: number; limit: (head: Uint8Array) => { maxBytes: number; expected: string } };
}

/**
 * The file's bytes, decompressed when they are gzip (detected by magic bytes, not by name). Gzip
 * data is inflated with a limit checked while it streams (zlib's maxOutputLength), never fully
 * first: `<who>: <path>: decompresses to more than N bytes (limit: ...); expected ...`.
 */
export function readMaybeGzip(who: string, path: string, options: GunzipOptions = {}): { bytes: Buffer; gzipped: boolean } {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (e) {
    throw new Error(`${who}: cannot read ${path}: ${(e as Error).message}`);
  }
  if (!isGzip(raw)) return { bytes: raw, gzipped: false };
  return { bytes: gunzipLimited(who, path, raw, options), gzipped: true };
}

/** Inflate gzip bytes under the limits of `options` (see readMaybeGzip); `path` names them in errors. */
export function gunzipLimited(who: string, path: string, raw: Uint8Array, options: GunzipOptions = {}): Buffer {
  const cap = options.maxBytes ?? MAX_GUNZIP_BYTES;
  if (!(Number.isSafeInteger(cap) && cap >= 0)) throw new RangeError(`${who}: maxBytes must be a non-negative integer, got ${cap}`);
  let limit = cap;
  let why = options.maxBytes === undefined ? `${cap}, the largest buffer` : `maxBytes = ${cap}`;
  let expected = `at most ${cap} bytes of data (a gzip bomb?)`;
  if (options.head) {
    const announced = options.head.limit(gunzip(who, path, () => gunzipHead(raw, options.head!.bytes)));
    if (announced.maxBytes > cap) throw new Error(`${who}: ${path}: decompresses to more than ${cap} bytes (limit: ${why}); expected at most ${cap} bytes, but its header announces ${announced.expected} (raise maxBytes to read it)`);
    limit = announced.maxBytes;
    why = 'what the header announces';
    expected = announced.expected;
  }
  return gunzip(who, path, () => gunzipSync(raw, { maxOutputLength: Math.max(1, limit) }), limit, why, expected);
}

function gunzip(who: string, path: string, run: () => Buffer, limit = 0, why = '', expected = ''): Buffer {
  let out: Buffer;
  try {
    out = run();
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new Error(`${who}: ${path}: decompresses to more than ${limit} bytes (limit: ${why}); expected ${expected}`);
    }
    throw new Error(`${who}: ${path}: starts with the gzip magic bytes 1f 8b but does not decompress (${(e as Error).message}); expected a complete gzip stream`);
  }
  if (expected && out.length > limit) throw new Error(`${who}: ${path}: decompresses to more than ${limit} bytes (limit: ${why}); expected ${expected}`);
  return out;
}

/**
 * The first `n` decompressed bytes (fewer if the data is shorter), inflating at most about 1 MiB:
 * prefixes of the compressed bytes are inflated (a truncated stream gives what it holds so far)
 * with a binary search on the prefix length when one expands past the cap.
 */
function gunzipHead(raw: Uint8Array, n: number): Buffer {
  const cap = Math.max(1 << 20, 2 * n);
  let lo = 0, hi = raw.length + 1; // a prefix of lo bytes gives fewer than n bytes; one of hi bytes more than cap
  let p = Math.min(raw.length, 256);
  for (;;) {
    let out: Buffer | null = null;
    try {
      out = gunzipSync(raw.subarray(0, p), { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: cap });
    } catch (e) {
      if ((e as { code?: string }).code !== 'ERR_BUFFER_TOO_LARGE') throw e;
    }
    if (out && (out.length >= n || p === raw.length)) return out.subarray(0, n);
    if (out) lo = p;
    else hi = p;
    const next = hi > raw.length ? Math.min(raw.length, p * 4) : Math.floor((lo + hi) / 2);
    if (next <= lo) throw new Error(`one compressed byte expands to more than ${cap} bytes`); // impossible for deflate
    p = next;
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
