/**
 * NPY bytes (NumPy's format, versions 1.0, 2.0 and 3.0), parsed and encoded in memory: browser-safe
 * (readNpy and writeNpy, in npy.ts, read and write files with these). Layout:
 *   bytes 0-5  magic \x93NUMPY;  byte 6 major version;  byte 7 minor version
 *   header length: uint16 little-endian at byte 8 (v1), uint32 at byte 8 (v2, v3)
 *   header: a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 *   then the elements, C (row-major) order, in the byte order the descr names.
 * Element types read: float32, float64 (kept); int8/16/32, uint8/16, bool (to int32, exact);
 * int64, uint32, uint64 (to int32, with a range check). Integers of every width become int32
 * rather than float32 so labels and counts stay exact; scale images yourself (x / 255).
 */
import type { DType } from '../../core/dtype.js';
import type { Tensor } from '../../core/tensor.js';
import { tensor } from '../../ops/index.js';

export interface NpyHeader {
  /** The descr string, e.g. '<f4'. */
  descr: string;
  /** Element kind and size: 'f4', 'i8', 'u1', ... */
  kind: string;
  itemBytes: number;
  littleEndian: boolean;
  shape: number[];
  /** Byte offset of the first element. */
  dataOffset: number;
  /** The Descent dtype the elements become. */
  dtype: DType;
}

const KINDS: Record<string, DType> = { f4: 'float32', f8: 'float64', i1: 'int32', i2: 'int32', i4: 'int32', i8: 'int32', u1: 'int32', u2: 'int32', u4: 'int32', u8: 'int32', b1: 'int32' };
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93 N U M P Y

/** Parse the header from the first bytes of the file (`available`: the file's full size). Every field is checked. */
export function parseNpyHeader(who: string, file: string, bytes: Uint8Array, available = bytes.length): NpyHeader {
  const need = (n: number, what: string) => {
    if (bytes.length < n) throw new Error(`${who}: ${file}: truncated at byte ${Math.min(bytes.length, available)}: expected ${what}`);
  };
  need(10, 'the 6-byte magic \\x93NUMPY, the version and the header length');
  for (let i = 0; i < 6; i++) {
    if (bytes[i] !== MAGIC[i]) throw new Error(`${who}: ${file}: at byte ${i}: expected the NPY magic \\x93NUMPY, got byte 0x${bytes[i]!.toString(16).padStart(2, '0')} (not an .npy file?)`);
  }
  const major = bytes[6]!;
  if (major < 1 || major > 3 || bytes[7] !== 0) throw new Error(`${who}: ${file}: at byte 6: expected format version 1.0, 2.0 or 3.0, got ${major}.${bytes[7]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number, start: number;
  if (major === 1) { headerLen = view.getUint16(8, true); start = 10; }
  else { need(12, 'a 4-byte header length'); headerLen = view.getUint32(8, true); start = 12; }
  need(start + headerLen, `a ${headerLen}-byte header dictionary starting at byte ${start}`);
  let text: string;
  try {
    text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1', { fatal: true }).decode(bytes.subarray(start, start + headerLen));
  } catch {
    throw new Error(`${who}: ${file}: header at byte ${start}: expected UTF-8 text (format version 3)`);
  }
  const { descr, fortran, shape } = parseHeaderDict(text, (at, what) => {
    throw new Error(`${who}: ${file}: header at byte ${start + at}: expected ${what}, got ${snippet(text, at)}`);
  });
  if (fortran) throw new Error(`${who}: ${file}: fortran_order is True; only C-order arrays are read (save with np.save(path, np.ascontiguousarray(a)))`);
  const order = descr[0]!;
  const kind = descr.slice(1);
  const dtype = Object.hasOwn(KINDS, kind) ? KINDS[kind] : undefined;
  const itemBytes = Number(kind.slice(1));
  // '|' (byte order not applicable) only for one-byte types, as NumPy writes them
  if (!'<>|='.includes(order) || dtype === undefined || (order === '|' && itemBytes !== 1)) {
    throw new Error(`${who}: ${file}: unsupported descr ${JSON.stringify(descr)}; expected one of <f4 <f8 <i1 <i2 <i4 <i8 |u1 <u2 <u4 <u8 |b1 (or > for big-endian)`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(start + headerLen + count * itemBytes)) {
    throw new Error(`${who}: ${file}: shape (${shape.join(', ')}) of ${descr} would need more than 2^53 bytes; expected sizes that fit a file`);
  }
  return { descr, kind, itemBytes, littleEndian: order !== '>', shape, dataOffset: start + headerLen, dtype };
}

/**
 * The header dictionary, a Python literal such as {'descr': '<f4', 'fortran_order': False,
 * 'shape': (2, 3), } then spaces and a newline: exactly these three keys, each once.
 */
function parseHeaderDict(text: string, bad: (at: number, what: string) => never): { descr: string; fortran: boolean; shape: number[] } {
  let i = 0;
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const take = (re: RegExp): string | undefined => {
    re.lastIndex = i;
    const m = re.exec(text);
    if (m) i = re.lastIndex;
    return m?.[0];
  };
  const STR = /'[^'\\]*'|"[^"\\]*"/y, BOOL = /True|False/y, INT = /\d+L?/y;
  const values = new Map<string, string | boolean | number[]>();
  ws();
  if (!take(/\{/y)) bad(i, "a dict {'descr': ..., 'fortran_order': ..., 'shape': (...)}");
  for (ws(); text[i] !== '}'; ws()) {
    const at = i;
    const key = take(STR)?.slice(1, -1);
    if (key === undefined) bad(i, "a quoted key or '}'");
    if (key !== 'descr' && key !== 'fortran_order' && key !== 'shape') bad(at, "one of the keys 'descr', 'fortran_order', 'shape'");
    if (values.has(key!)) bad(at, `the key '${key}' once`);
    ws();
    if (!take(/:/y)) bad(i, "':'");
    ws();
    if (key === 'descr') {
      const v = take(STR);
      if (v === undefined) bad(i, "a dtype string such as '<f4' (structured dtypes are not read)");
      values.set(key, v!.slice(1, -1));
    } else if (key === 'fortran_order') {
      const v = take(BOOL);
      if (v === undefined) bad(i, 'True or False');
      values.set(key, v === 'True');
    } else {
      if (!take(/\(/y)) bad(i, "a shape tuple such as (2, 3) or (5,)");
      const shape: number[] = [];
      for (ws(); text[i] !== ')'; ws()) {
        const v = take(INT);
        if (v === undefined) bad(i, "a non-negative integer size or ')'");
        const size = Number(v!.replace('L', ''));
        if (!Number.isSafeInteger(size)) bad(i - v!.length, 'a size below 2^53');
        shape.push(size);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== ')') bad(i, "',' or ')' in the shape tuple");
      }
      i++;
      if (shape.length === 1 && !/,\s*\)$/.test(text.slice(0, i))) bad(i - 1, `a one-element tuple written (${shape[0]},)`);
      values.set(key, shape);
    }
    ws();
    if (text[i] === ',') i++;
    else if (text[i] !== '}') bad(i, "',' or '}'");
  }
  i++;
  ws();
  if (i < text.length) bad(i, 'only spaces and a newline after the header dict');
  for (const k of ['descr', 'fortran_order', 'shape']) if (!values.has(k)) bad(i, `the key '${k}' in the header dict`);
  return { descr: values.get('descr') as string, fortran: values.get('fortran_order') as boolean, shape: values.get('shape') as number[] };
}

/** The text from position `at`, short and on one line, for an error message. */
function snippet(text: string, at: number): string {
  if (at >= text.length) return 'the end of the header';
  const s = JSON.stringify(text.slice(at, at + 40));
  return at + 40 < text.length ? `${s}...` : s;
}

/**
 * Decode `count` elements at `offset` into a typed array of the header's dtype. `elementBase` is
 * the index of the first element (for error messages), `fileOffset` the file position of `offset`.
 */
export function decodeNpy(who: string, file: string, h: NpyHeader, bytes: Uint8Array, offset: number, count: number, out: Float32Array | Float64Array | Int32Array, outAt = 0, fileOffset = offset): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * h.itemBytes);
  const le = h.littleEndian;
  const wide = (i: number, v: bigint | number) => {
    if (v < -2147483648 || v > 2147483647) {
      throw new Error(`${who}: ${file}: at byte ${fileOffset + i * h.itemBytes}: ${h.descr} value ${v} does not fit int32; expected |values| < 2^31`);
    }
    return Number(v);
  };
  for (let i = 0; i < count; i++) {
    const at = i * h.itemBytes;
    let v: number;
    switch (h.kind) {
      case 'f4': v = view.getFloat32(at, le); break;
      case 'f8': v = view.getFloat64(at, le); break;
      case 'i1': v = view.getInt8(at); break;
      case 'u1': case 'b1': v = view.getUint8(at); break;
      case 'i2': v = view.getInt16(at, le); break;
      case 'u2': v = view.getUint16(at, le); break;
      case 'i4': v = view.getInt32(at, le); break;
      case 'u4': v = wide(i, view.getUint32(at, le)); break;
      case 'i8': v = wide(i, view.getBigInt64(at, le)); break;
      default: v = wide(i, view.getBigUint64(at, le)); break;
    }
    out[outAt + i] = v;
  }
}

function newArray(dtype: DType, n: number): Float32Array | Float64Array | Int32Array {
  return dtype === 'float32' ? new Float32Array(n) : dtype === 'float64' ? new Float64Array(n) : new Int32Array(n);
}

/**
 * Parse the bytes of an .npy file (a Uint8Array, or an ArrayBuffer such as a fetch's
 * arrayBuffer()); `file` names them in errors. The whole header is checked before the data is read.
 */
export function parseNpy(input: Uint8Array | ArrayBuffer, file = '<bytes>', who = 'readNpy'): Tensor {
  let bytes: Uint8Array;
  if (ArrayBuffer.isView(input)) bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  else if (input instanceof ArrayBuffer) bytes = new Uint8Array(input);
  else throw new TypeError(`${who}: ${file}: expected NPY bytes as a Uint8Array or an ArrayBuffer, got ${input === null ? 'null' : typeof input}`);
  const h = parseNpyHeader(who, file, bytes);
  const count = h.shape.reduce((a, b) => a * b, 1);
  const need = h.dataOffset + count * h.itemBytes;
  const what = `header ${h.dataOffset} + ${count} ${h.descr} elements of shape (${h.shape.join(', ')})`;
  if (bytes.length < need) throw new Error(`${who}: ${file}: truncated at byte ${bytes.length}: expected ${need} bytes (${what})`);
  if (bytes.length > need) throw new Error(`${who}: ${file}: at byte ${need}: expected the end of the file after the ${what}, found ${bytes.length - need} more bytes`);
  const out = newArray(h.dtype, count);
  decodeNpy(who, file, h, bytes, h.dataOffset, count, out);
  return tensor(out, { shape: h.shape, dtype: h.dtype });
}

/** Encode a tensor as NPY v1.0 bytes (little-endian, C order). */
export function encodeNpy(t: Tensor): Uint8Array {
  const descr = t.dtype === 'float32' ? '<f4' : t.dtype === 'float64' ? '<f8' : '<i4';
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  // Pad with spaces so the data starts on a 64-byte boundary (10 bytes of preamble + dict + '\n').
  dict += ' '.repeat((64 - ((10 + dict.length + 1) % 64)) % 64) + '\n';
  const item = t.dtype === 'float64' ? 8 : 4;
  const out = new Uint8Array(10 + dict.length + t.size * item);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  const view = new DataView(out.buffer);
  view.setUint16(8, dict.length, true);
  for (let i = 0; i < dict.length; i++) out[10 + i] = dict.charCodeAt(i);
  const d = t.data;
  const base = 10 + dict.length;
  for (let i = 0; i < d.length; i++) {
    if (t.dtype === 'float32') view.setFloat32(base + 4 * i, d[i]!, true);
    else if (t.dtype === 'float64') view.setFloat64(base + 8 * i, d[i]!, true);
    else view.setInt32(base + 4 * i, d[i]!, true);
  }
  return out;
}
