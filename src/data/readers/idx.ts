/**
 * IDX files (the MNIST format). Layout, all big-endian:
 *   bytes 0-1  zero
 *   byte  2    element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
 *   byte  3    number of dimensions d
 *   then d int32 sizes, then the elements in row-major order.
 * Files may be gzipped (detected by the magic bytes 1f 8b, whatever the name).
 */
import { gzipSync } from 'node:zlib';
import { gunzipLimited, isGzip, readMaybeGzip, writeFileAtomic } from './files.js';
import type { GunzipOptions } from './files.js';
import type { IdxArray, IdxData, IdxType } from './idx-parse.js';
import { encodeIdx, IDX_BYTES, parseIdx, parseIdxHeader } from './idx-parse.js';

export { decodeBigEndian, encodeIdx, IDX_BYTES, parseIdx, parseIdxHeader } from './idx-parse.js';
export type { IdxArray, IdxData, IdxHeader, IdxType } from './idx-parse.js';

/** The largest IDX header: 4 bytes of magic and 255 sizes. */
const MAX_HEADER_BYTES = 4 + 4 * 255;

export interface ReadIdxOptions {
  /**
   * Most bytes a gzipped file may decompress to (default: exactly what its header announces,
   * and at most MAX_GUNZIP_BYTES), so a gzip bomb stops early with an error.
   */
  maxBytes?: number;
}

/** Read an IDX file (raw or gzipped) into its shape, element type and native typed array. */
export function readIdx(path: string, options: ReadIdxOptions = {}): IdxArray {
  const who = 'readIdx';
  const { bytes, gzipped } = readMaybeGzip(who, path, gunzipOptions(who, path, options));
  return parseIdx(bytes, gzipped ? gzipWhere(path) : path, who);
}

/** readIdx on bytes already in memory (raw or gzipped); `path` names them in errors. */
export function decodeIdx(bytes: Uint8Array, path: string, options: ReadIdxOptions = {}, who = 'readIdx'): IdxArray {
  if (!isGzip(bytes)) return parseIdx(bytes, path, who);
  return parseIdx(gunzipLimited(who, path, bytes, gunzipOptions(who, path, options)), gzipWhere(path), who);
}

function gzipWhere(path: string): string {
  return `${path} (gzip; offsets in the decompressed data)`;
}

/** Inflate no more than the header announces (and at most options.maxBytes). */
function gunzipOptions(who: string, path: string, options: ReadIdxOptions): GunzipOptions {
  return {
    maxBytes: options.maxBytes,
    head: {
      bytes: MAX_HEADER_BYTES,
      limit: (head) => {
        const h = parseIdxHeader(who, gzipWhere(path), head);
        const count = h.shape.reduce((a, b) => a * b, 1);
        const need = h.headerBytes + count * IDX_BYTES[h.type];
        return { maxBytes: need, expected: `${need} bytes (header ${h.headerBytes} + ${count} ${h.type} elements of shape [${h.shape.join(', ')}])` };
      },
    },
  };
}

/**
 * Write an IDX file atomically (temporary file + rename). Gzipped when `gzip` is true, which is
 * the default for names ending in .gz. `type` defaults to the typed array's own type.
 */
export function writeIdx(path: string, arr: { shape: readonly number[]; data: IdxData; type?: IdxType }, options: { gzip?: boolean } = {}): void {
  const bytes = encodeIdx(arr);
  const gzip = options.gzip ?? path.endsWith('.gz');
  // level 9 and Node's zero mtime make the compressed bytes depend only on the data.
  writeFileAtomic(path, [gzip ? gzipSync(bytes, { level: 9 }) : bytes]);
}

