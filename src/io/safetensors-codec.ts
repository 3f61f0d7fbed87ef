/**
 * The safetensors format in memory (no file system: a browser can use it). Layout: 8 bytes
 * little-endian header length N, N bytes of UTF-8 JSON
 *   {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}
 * (padded with spaces), then the data section: raw little-endian elements, C order.
 *
 * Reading is strict, as the format's specification asks: the whole header is checked before any
 * data is touched. Every entry has exactly dtype, shape and data_offsets; shapes are non-negative
 * integers; each tensor's byte range is numel × item size long; and the ranges, sorted, tile the
 * data section exactly: the first starts at 0, each starts where the previous ends (no gap, no
 * overlap) and the last ends at the end of the file. Any other file is an error of one line:
 *   `<name>: not a valid safetensors file: <part>: <what was expected>`.
 * Tensor names may be any non-empty string without control characters (`__proto__` included:
 * results are null-prototype objects, so no name is special).
 *
 * Descent has three dtypes; the others PyTorch writes are converted on reading: F16 and BF16 to
 * float32 (exactly), I8 I16 U8 U16 BOOL to int32 (exactly), I64 U32 U64 to int32 with a range
 * check (an error names the tensor and the value that does not fit).
 */
import type { DType } from '../core/dtype.js';
import type { Tensor } from '../core/tensor.js';
import { tensor } from '../ops/index.js';
import { asUint8Array } from './bytes.js';

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('safetensors: big-endian hosts are not supported');

/** The largest header accepted (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100_000_000;

interface StDType {
  bytes: number;
  dtype: DType;
  /** Element i of the view, for types that are converted. */
  get?: (v: DataView, at: number) => number | bigint;
}

const ST_DTYPES: Record<string, StDType> = {
  F64: { bytes: 8, dtype: 'float64' },
  F32: { bytes: 4, dtype: 'float32' },
  F16: { bytes: 2, dtype: 'float32', get: (v, at) => halfToFloat(v.getUint16(at, true)) },
  BF16: { bytes: 2, dtype: 'float32', get: (v, at) => bf16ToFloat(v.getUint16(at, true)) },
  I64: { bytes: 8, dtype: 'int32', get: (v, at) => v.getBigInt64(at, true) },
  U64: { bytes: 8, dtype: 'int32', get: (v, at) => v.getBigUint64(at, true) },
  I32: { bytes: 4, dtype: 'int32' },
  U32: { bytes: 4, dtype: 'int32', get: (v, at) => v.getUint32(at, true) },
  I16: { bytes: 2, dtype: 'int32', get: (v, at) => v.getInt16(at, true) },
  U16: { bytes: 2, dtype: 'int32', get: (v, at) => v.getUint16(at, true) },
  I8: { bytes: 1, dtype: 'int32', get: (v, at) => v.getInt8(at) },
  U8: { bytes: 1, dtype: 'int32', get: (v, at) => v.getUint8(at) },
  BOOL: { bytes: 1, dtype: 'int32', get: (v, at) => v.getUint8(at) },
};

/** The dtypes decodeSafetensors reads (written: F32, F64, I32, and I64 for the keys options.int64 picks). */
export const SAFETENSORS_DTYPES: readonly string[] = Object.keys(ST_DTYPES);

const ENTRY_KEYS = ['data_offsets', 'dtype', 'shape'];

export interface SafetensorsFile {
  /** The tensors by name (a null-prototype object: every name is an own key). */
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

export interface EncodeSafetensorsOptions {
  /**
   * Int32 tensors to store as I64, by name (default: PyTorch's int64 buffers, the keys named
   * `num_batches_tracked` or ending in `.num_batches_tracked`, so PyTorch reads them back as it wrote them).
   */
  int64?: (name: string) => boolean;
}

/** True for the state-dict keys PyTorch stores as int64: BatchNorm's `num_batches_tracked`. */
export function isPyTorchInt64Key(name: string): boolean {
  return name === 'num_batches_tracked' || name.endsWith('.num_batches_tracked');
}

/** The problem with a tensor name, or undefined when it is fine. */
function badName(name: string): string | undefined {
  if (name === '') return 'an empty name';
  if (name === '__metadata__') return 'the reserved name "__metadata__"';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return `a name with control characters (${JSON.stringify(name)})`;
  return undefined;
}

/** The bytes of a safetensors file holding `tensors` (keys sorted) and `metadata`. */
export function encodeSafetensors(
  tensors: Record<string, Tensor>,
  metadata: Record<string, string> = {},
  options: EncodeSafetensorsOptions = {},
): Uint8Array<ArrayBuffer> {
  const int64 = options.int64 ?? isPyTorchInt64Key;
  const header: Record<string, unknown> = Object.create(null);
  const meta = Object.entries(metadata);
  for (const [k, v] of meta) if (typeof v !== 'string') throw new TypeError(`saveSafetensors: metadata ${JSON.stringify(k)} must be a string, got ${typeof v}`);
  if (meta.length) header.__metadata__ = Object.fromEntries(meta);
  const parts: { data: Uint8Array | Int32Array; wide: boolean }[] = [];
  let offset = 0;
  for (const name of Object.keys(tensors).sort()) {
    const bad = badName(name);
    if (bad) throw new RangeError(`saveSafetensors: tensor names must be non-empty, not "__metadata__" and without control characters; got ${bad}`);
    const t = tensors[name]!;
    const a = t.dataSync();
    const wide = t.dtype === 'int32' && int64(name);
    const bytes = a.byteLength * (wide ? 2 : 1);
    header[name] = {
      dtype: wide ? 'I64' : { float32: 'F32', float64: 'F64', int32: 'I32' }[t.dtype],
      shape: [...t.shape],
      data_offsets: [offset, offset + bytes],
    };
    parts.push({ data: wide ? (a as Int32Array) : new Uint8Array(a.buffer, a.byteOffset, a.byteLength), wide });
    offset += bytes;
  }
  const enc = new TextEncoder();
  let json = enc.encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8; // spaces, so the data starts 8-byte aligned
  if (pad) json = enc.encode(JSON.stringify(header) + ' '.repeat(pad));
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const { data, wide } of parts) {
    if (wide) {
      // int32 -> int64: the value, then its sign extension (little-endian)
      for (let i = 0; i < data.length; i++, at += 8) {
        view.setInt32(at, data[i]!, true);
        view.setInt32(at + 4, data[i]! < 0 ? -1 : 0, true);
      }
    } else {
      out.set(data as Uint8Array, at);
      at += data.byteLength;
    }
  }
  return out;
}

interface Entry {
  name: string;
  st: string;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Read safetensors bytes (a Uint8Array, or an ArrayBuffer such as a fetch's arrayBuffer(); for a
 * Blob or a Response, `await io.readBytes(...)` first); `name` (a file path, say) starts every
 * error message. Every field is checked before any data is read; see the top of this file for
 * what is accepted.
 */
// lint-allow-long-function: the format's checks in the order the spec states them, each one line; one place to audit
export function decodeSafetensors(input: Uint8Array | ArrayBuffer, name = '<bytes>'): SafetensorsFile {
  const fail = (part: string, what: string): never => {
    throw new Error(`${name}: not a valid safetensors file: ${part}: ${oneLine(what)}`);
  };
  const bytes = asUint8Array(input, `decodeSafetensors(${name})`);
  if (bytes.length < 8) fail('header length (bytes 0-7)', `expected an 8-byte little-endian length, the file has ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) fail('header length (bytes 0-7)', `expected at most ${MAX_HEADER_BYTES} bytes, got ${n64}`);
  const n = Number(n64);
  if (n > bytes.length - 8) fail('header length (bytes 0-7)', `${n} bytes of header, but only ${bytes.length - 8} bytes follow (truncated?)`);
  const dataStart = 8 + n;
  const headerPart = n ? `header (bytes 8-${dataStart - 1})` : 'header (0 bytes)';
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart));
  } catch {
    return fail(headerPart, 'expected UTF-8 text');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(headerPart, `expected a JSON object (${(e as Error).message})`);
  }
  if (!isObject(header) || !text.trimStart().startsWith('{')) return fail(headerPart, `expected a JSON object, got ${describe(header)}`);
  const dup = firstDuplicateKey(text);
  if (dup !== undefined) fail(headerPart, `expected unique keys, ${JSON.stringify(dup)} appears twice`);

  // 1. every field of every entry, alone
  const metadata: Record<string, string> = Object.create(null);
  const entries: Entry[] = [];
  for (const key of Object.keys(header)) {
    const e = header[key];
    if (key === '__metadata__') {
      if (!isObject(e)) fail('__metadata__', `expected an object of strings, got ${describe(e)}`);
      for (const k of Object.keys(e as object)) {
        const v = (e as Record<string, unknown>)[k];
        if (typeof v !== 'string') fail(`__metadata__ ${JSON.stringify(k)}`, `expected a string, got ${describe(v)}`);
        metadata[k] = v as string;
      }
      continue;
    }
    const part = `tensor ${JSON.stringify(key)}`;
    const bad = badName(key);
    if (bad) fail(part, `expected a non-empty name without control characters, got ${bad}`);
    if (!isObject(e)) return fail(part, `expected an object {dtype, shape, data_offsets}, got ${describe(e)}`);
    const keys = Object.keys(e).sort();
    if (keys.join() !== ENTRY_KEYS.join())
      fail(part, `expected exactly the keys dtype, shape, data_offsets, got ${keys.map((k) => JSON.stringify(k)).join(', ') || 'none'}`);
    const { dtype, shape, data_offsets: offsets } = e as Record<string, unknown>;
    if (typeof dtype !== 'string' || !Object.hasOwn(ST_DTYPES, dtype))
      fail(`${part} dtype`, `expected one of ${SAFETENSORS_DTYPES.join(' ')}, got ${describe(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((s) => Number.isSafeInteger(s) && s >= 0))
      return fail(`${part} shape`, `expected an array of non-negative integers, got ${describe(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
      return fail(`${part} data_offsets`, `expected [begin, end], integers with 0 <= begin <= end, got ${describe(offsets)}`);
    }
    const st = ST_DTYPES[dtype as string]!;
    const numel = shape.includes(0) ? 0 : shape.reduce((a: number, b: number) => a * b, 1);
    if (!Number.isSafeInteger(numel * st.bytes))
      fail(`${part} shape`, `[${shape.join(', ')}] ${dtype} would need more than 2^53 bytes; expected a shape that fits the file`);
    const [begin, end] = offsets as [number, number];
    if (end - begin !== numel * st.bytes) {
      fail(
        `${part} data_offsets`,
        `[${begin}, ${end}] span ${end - begin} bytes; expected ${numel * st.bytes} (shape [${shape.join(', ')}] = ${numel} elements of ${dtype}, ${st.bytes} bytes each)`,
      );
    }
    entries.push({ name: key, st: dtype as string, shape, begin, end });
  }

  // 2. the ranges together: sorted, they tile the data section [0, dataLength) exactly
  const dataLength = bytes.length - dataStart;
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let prev: Entry | undefined;
  for (const e of entries) {
    const part = `tensor ${JSON.stringify(e.name)} data_offsets`;
    if (e.end > dataLength)
      fail(
        part,
        `[${e.begin}, ${e.end}] end past the data section, which has ${dataLength} bytes (bytes ${dataStart}-${bytes.length - 1} of the file; truncated?)`,
      );
    if (e.begin < at)
      fail(
        part,
        `[${e.begin}, ${e.end}] overlap tensor ${JSON.stringify(prev!.name)} at [${prev!.begin}, ${prev!.end}]; expected each tensor's bytes to start where the previous one's end`,
      );
    if (e.begin > at)
      fail(
        part,
        `[${e.begin}, ${e.end}] leave bytes [${at}, ${e.begin}) of the data section to no tensor; expected each tensor's bytes to start where the previous one's end (${at})`,
      );
    at = e.end;
    prev = e;
  }
  if (at !== dataLength)
    fail('data section', `expected it to end with the last tensor, at byte ${dataStart + at} of the file, but ${dataLength - at} more bytes follow`);

  // 3. the data
  const tensors: Record<string, Tensor> = Object.create(null);
  for (const e of entries) tensors[e.name] = decodeEntry(bytes, dataStart, e, (what) => fail(`tensor ${JSON.stringify(e.name)}`, what));
  return { tensors, metadata };
}

function decodeEntry(bytes: Uint8Array, dataStart: number, e: Entry, fail: (what: string) => never): Tensor {
  const st = ST_DTYPES[e.st]!;
  const start = bytes.byteOffset + dataStart + e.begin;
  const count = (e.end - e.begin) / st.bytes;
  if (!st.get) {
    // A copy (the offsets need not be aligned, and the source may be a view of a shared pool).
    const buf = bytes.buffer.slice(start, start + (e.end - e.begin));
    const arr = st.dtype === 'float32' ? new Float32Array(buf) : st.dtype === 'float64' ? new Float64Array(buf) : new Int32Array(buf);
    return tensor(arr, { shape: e.shape, dtype: st.dtype });
  }
  const view = new DataView(bytes.buffer, start, e.end - e.begin);
  const out = st.dtype === 'float32' ? new Float32Array(count) : new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const v = st.get(view, i * st.bytes);
    if (st.dtype === 'int32' && (v < -2147483648 || v > 2147483647)) {
      fail(`element ${i} (${e.st}) is ${v}, which does not fit int32 (Descent reads ${e.st} as int32); expected values in [-2147483648, 2147483647]`);
    }
    out[i] = Number(v);
  }
  return tensor(out, { shape: e.shape, dtype: st.dtype });
}

/** IEEE half precision bits to a number (exact in float32). */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const bf16View = new DataView(new ArrayBuffer(4));
/** bfloat16 bits: the high half of a float32. */
function bf16ToFloat(h: number): number {
  bf16View.setUint32(0, h << 16);
  return bf16View.getFloat32(0);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A short one-line description of a JSON value, for error messages. */
function describe(v: unknown): string {
  const s = v === undefined ? 'nothing' : JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Control characters escaped, so a message stays on one line whatever the file held. */
function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * The first key that appears twice in one object of valid JSON text (JSON.parse keeps the last
 * silently, so a file could hide a tensor behind another of the same name), or undefined.
 */
function firstDuplicateKey(json: string): string | undefined {
  const objects: (Set<string> | null)[] = []; // one entry per open { (its keys) or [ (null)
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '{') objects.push(new Set());
    else if (c === '[') objects.push(null);
    else if (c === '}' || c === ']') objects.pop();
    else if (c === '"') {
      let j = i + 1;
      while (json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
      const keys = objects[objects.length - 1];
      if (keys) {
        let k = j + 1;
        while (json[k] === ' ' || json[k] === '\t' || json[k] === '\n' || json[k] === '\r') k++;
        if (json[k] === ':') {
          const key = JSON.parse(json.slice(i, j + 1)) as string;
          if (keys.has(key)) return key;
          keys.add(key);
        }
      }
      i = j;
    }
  }
  return undefined;
}
