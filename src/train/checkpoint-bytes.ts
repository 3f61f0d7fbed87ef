/**
 * A whole checkpoint as one file in memory: bytes a page can keep in IndexedDB, download, upload
 * or fetch, and resume from (`fit({ resume: decodeCheckpoint(bytes) })`). Browser-safe.
 *
 * The format, `descent-checkpoint-bytes/1`, is one safetensors file (see io/safetensors-codec.ts):
 *   tensors      `model.<key>`      the model's state dict (keys as in PyTorch, `0.weight`)
 *                `optimizer.<key>`  the optimizer's state tensors (`state.<parameter index>.<name>`)
 *   __metadata__ `format`           "descent-checkpoint-bytes/1"
 *                `checkpoint`       the checkpoint's JSON, as checkpoint.json of a checkpoint folder
 *                                   holds it (docs/run-folder.md) with this format, without `files`
 *                `sha256`           the SHA-256 of the whole file, computed with these 64 hex digits
 *                                   written as 64 ASCII zeros (as an IPv4 header checksum is computed
 *                                   with its own field zero), so every byte is covered: the header
 *                                   length, the tensors' dtypes, shapes and offsets, the JSON, the data.
 * The bytes are a function of the content and `savedAt`: tensors are sorted by name and the JSON
 * keeps the order of its fields, so the same state encodes to the same bytes.
 *
 * Reading refuses, with a CheckpointError of one line naming the source, the part and what was
 * expected: anything that is not a safetensors file, a safetensors file that is not a checkpoint,
 * a file whose digest does not match (truncated, extended or damaged: checked before any tensor is
 * decoded), and JSON or tensor names that do not fit the format.
 */
import type { Tensor } from '../core/tensor.js';
import { asUint8Array } from '../io/bytes.js';
import type { SafetensorsFile } from '../io/safetensors-codec.js';
import { decodeSafetensors, encodeSafetensors } from '../io/safetensors-codec.js';
import type { CheckpointContent, CheckpointMeta, CheckpointParts } from './checkpoint-format.js';
import { CHECKPOINT_BYTES_FORMAT, CHECKPOINT_FORMAT, CheckpointError, validateMeta } from './checkpoint-format.js';
import { Sha256 } from './sha256.js';
import type { Checkpoint, RestoreParts } from './store.js';
import { restoreCheckpoint, withCheckpointContent } from './store.js';

export { CHECKPOINT_BYTES_FORMAT } from './checkpoint-format.js';

const MODEL = 'model.';
const OPTIMIZER = 'optimizer.';
const METADATA_KEYS = ['checkpoint', 'format', 'sha256'];
const utf8 = new TextEncoder();
/** Where the digest is: right after this, once in the header (a `"` inside a JSON string is escaped, so the JSON cannot hold it). */
const DIGEST_KEY = utf8.encode('"sha256":"');
const ZEROS = '0'.repeat(64);

export interface EncodeCheckpointOptions {
  /** The time recorded as `savedAt` (ISO 8601; default: now). */
  savedAt?: string;
}

/** One line naming the source and what did not fit. */
function fail(source: string, what: string): never {
  throw new CheckpointError(`checkpoint: ${source}: ${what}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  const s = v === undefined ? 'missing' : JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function dispose(tensors: Record<string, Tensor>): void {
  for (const t of Object.values(tensors)) t.dispose();
}

/** Where the digest's 64 hex digits start: right after the one `"sha256":"` of the header; -1 when it is not there exactly once. */
function digestOffset(bytes: Uint8Array, headerEnd: number): number {
  let found = -1;
  next: for (let i = 8; i + DIGEST_KEY.length + 64 <= headerEnd; i++) {
    for (let j = 0; j < DIGEST_KEY.length; j++) if (bytes[i + j] !== DIGEST_KEY[j]) continue next;
    if (found >= 0) return -1;
    found = i + DIGEST_KEY.length;
  }
  return found;
}

/** SHA-256 of the file with the 64 bytes at `at` read as ASCII zeros. */
function digest(bytes: Uint8Array, at: number): string {
  return new Sha256()
    .update(bytes.subarray(0, at))
    .update(utf8.encode(ZEROS))
    .update(bytes.subarray(at + 64))
    .hex();
}

/** The bytes of one file holding everything `content` holds (the format is at the top of this file). */
export function encodeCheckpoint(content: CheckpointContent, opts: EncodeCheckpointOptions = {}): Uint8Array<ArrayBuffer> {
  const tensors: Record<string, Tensor> = Object.create(null);
  for (const [k, t] of Object.entries(content.model)) tensors[MODEL + k] = t;
  for (const [k, t] of Object.entries(content.optimizer?.tensors ?? {})) tensors[OPTIMIZER + k] = t;
  const meta = { format: CHECKPOINT_BYTES_FORMAT, ...content.meta, optimizer: content.optimizer?.meta, savedAt: opts.savedAt ?? new Date().toISOString() };
  const bytes = encodeSafetensors(tensors, { format: CHECKPOINT_BYTES_FORMAT, sha256: ZEROS, checkpoint: JSON.stringify(meta) });
  const at = digestOffset(bytes, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true)));
  if (at < 0) throw new Error('encodeCheckpoint: the digest field is not in the header (a bug)');
  bytes.set(utf8.encode(digest(bytes, at)), at);
  return bytes;
}

interface Header {
  /** Where the data section starts. */
  end: number;
  header: Record<string, unknown>;
  metadata?: Record<string, unknown>;
}

/** The header, when it can be read at all (the strict checks are decodeSafetensors's). */
function readHeader(bytes: Uint8Array): Header | undefined {
  if (bytes.length < 8) return undefined;
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(bytes.length - 8)) return undefined;
  const end = 8 + Number(n);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, end)));
  } catch {
    return undefined;
  }
  if (!isObject(header)) return undefined;
  const metadata = header.__metadata__;
  return { end, header, metadata: isObject(metadata) ? metadata : undefined };
}

/** decodeSafetensors, its error a CheckpointError naming the source. */
function decodeFile(bytes: Uint8Array, source: string): SafetensorsFile {
  try {
    return decodeSafetensors(bytes, source);
  } catch (e) {
    const msg = (e as Error).message;
    return fail(source, msg.startsWith(`${source}: `) ? msg.slice(source.length + 2) : msg);
  }
}

/** Refuse bytes that are not a checkpoint in one file, saying what they are instead. */
function refuseForeign(bytes: Uint8Array, source: string, metadata: Record<string, unknown> | undefined): never {
  dispose(decodeFile(bytes, source).tensors); // not safetensors at all: its own error, more precise
  const format = metadata?.format;
  const hint =
    format === CHECKPOINT_FORMAT
      ? 'this is the model.safetensors of a checkpoint folder; on Node read the folder with checkpointFrom'
      : 'a safetensors file, but not a checkpoint written by encodeCheckpoint';
  return fail(source, `__metadata__.format is ${describe(format)}, expected "${CHECKPOINT_BYTES_FORMAT}" (${hint})`);
}

/** The file's size as its header describes it (header + the end of the last tensor), when the header says. */
function describedSize(h: Header): number | undefined {
  let last = 0;
  for (const [k, e] of Object.entries(h.header)) {
    if (k === '__metadata__') continue;
    const end = isObject(e) && Array.isArray(e.data_offsets) ? e.data_offsets[1] : undefined;
    if (!Number.isSafeInteger(end)) return undefined;
    last = Math.max(last, end as number);
  }
  return h.end + last;
}

/** Check the digest before anything is decoded; on a mismatch, say whether the file was cut short. */
function verifyDigest(bytes: Uint8Array, h: Header, source: string): void {
  const claimed = h.metadata?.sha256;
  if (typeof claimed !== 'string' || !/^[0-9a-f]{64}$/.test(claimed))
    fail(source, `__metadata__.sha256 is ${describe(claimed)}, expected 64 lowercase hex digits (the file's SHA-256)`);
  const at = digestOffset(bytes, h.end);
  if (at < 0 || new TextDecoder().decode(bytes.subarray(at, at + 64)) !== claimed)
    fail(source, `__metadata__.sha256 is not where encodeCheckpoint writes it; expected "sha256":"<64 hex digits>" once in the header`);
  const actual = digest(bytes, at);
  if (actual === claimed) return;
  const size = describedSize(h);
  if (size !== undefined && size > bytes.length) fail(source, `has ${bytes.length} bytes, expected ${size} as its header describes (truncated?)`);
  if (size !== undefined && size < bytes.length) fail(source, `has ${bytes.length} bytes, expected ${size} as its header describes (bytes added at the end?)`);
  fail(source, `its SHA-256 is ${actual}, expected ${claimed} (__metadata__.sha256): the bytes are damaged`);
}

/** The checkpoint in a decoded file: its JSON checked, its tensors split into the model's and the optimizer's. */
function assemble(file: SafetensorsFile, source: string): Checkpoint {
  const keys = Object.keys(file.metadata).sort();
  if (keys.join() !== METADATA_KEYS.join())
    fail(source, `__metadata__ has the keys ${keys.map((k) => JSON.stringify(k)).join(', ')}, expected exactly ${METADATA_KEYS.join(', ')}`);
  let json: unknown;
  try {
    json = JSON.parse(file.metadata.checkpoint!);
  } catch (e) {
    return fail(source, `__metadata__.checkpoint is not valid JSON (${(e as Error).message}); expected the checkpoint's JSON`);
  }
  const meta = validateMeta(`${source}: __metadata__.checkpoint`, json, [CHECKPOINT_BYTES_FORMAT]);
  const model: Record<string, Tensor> = Object.create(null);
  const optimizer: Record<string, Tensor> = Object.create(null);
  for (const [k, t] of Object.entries(file.tensors)) {
    if (k.startsWith(MODEL)) model[k.slice(MODEL.length)] = t;
    else if (k.startsWith(OPTIMIZER) && meta.optimizer !== undefined) optimizer[k.slice(OPTIMIZER.length)] = t;
    else if (k.startsWith(OPTIMIZER))
      fail(source, `tensor ${JSON.stringify(k)} is optimizer state, but __metadata__.checkpoint has no optimizer; expected both or neither`);
    else fail(source, `tensor ${JSON.stringify(k)}: expected a name starting with "${MODEL}" or "${OPTIMIZER}"`);
  }
  return { meta, model, optimizer: meta.optimizer !== undefined ? { tensors: optimizer, meta: meta.optimizer } : undefined, source };
}

/**
 * A checkpoint from bytes encodeCheckpoint wrote, verified whole before anything is decoded;
 * `source` (a file name, a URL, an IndexedDB key) names it in errors and in fit's messages.
 */
export function decodeCheckpoint(input: Uint8Array | ArrayBuffer, source: string = '<bytes>'): Checkpoint {
  const bytes = asUint8Array(input, `decodeCheckpoint(${source})`);
  const h = readHeader(bytes);
  if (!h || h.metadata?.format !== CHECKPOINT_BYTES_FORMAT) return refuseForeign(bytes, source, h?.metadata);
  verifyDigest(bytes, h, source);
  const file = decodeFile(bytes, source);
  try {
    return assemble(file, source);
  } catch (e) {
    dispose(file.tensors);
    throw e;
  }
}

/**
 * The bytes of a checkpoint of these objects (the model's state dict, the optimizer's, the
 * scheduler's and loader's state) and of the default generator, as saveCheckpoint writes a folder.
 */
export function checkpointToBytes(p: CheckpointParts, opts: EncodeCheckpointOptions = {}): Uint8Array<ArrayBuffer> {
  return withCheckpointContent(p, (content) => encodeCheckpoint(content, opts));
}

/**
 * Restore everything the bytes hold into the given objects (and the default generator); returns
 * the metadata. The bytes are verified and decoded before anything changes; a failure names the
 * part that did not fit.
 */
export function loadCheckpointBytes(input: Uint8Array | ArrayBuffer, p: RestoreParts, source?: string): CheckpointMeta {
  const c = decodeCheckpoint(input, source);
  try {
    return restoreCheckpoint(c, p);
  } finally {
    dispose(c.model);
    if (c.optimizer) dispose(c.optimizer.tensors);
  }
}
