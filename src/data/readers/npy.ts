/**
 * NPY files (NumPy's format, versions 1.0, 2.0 and 3.0). Layout:
 *   bytes 0-5  magic \x93NUMPY;  byte 6 major version;  byte 7 minor version
 *   header length: uint16 little-endian at byte 8 (v1), uint32 at byte 8 (v2, v3)
 *   header: a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 *   then the elements, C (row-major) order, in the byte order the descr names.
 * Element types read: float32, float64 (kept); int8/16/32, uint8/16, bool (to int32, exact);
 * int64, uint32, uint64 (to int32, with a range check). Integers of every width become int32
 * rather than float32 so labels and counts stay exact; scale images yourself (x / 255).
 */
import { readFileSync } from 'node:fs';
import type { DType } from '../../core/dtype.js';
import type { Tensor } from '../../core/tensor.js';
import { tensor } from '../../ops/index.js';
import { writeFileAtomic } from './files.js';

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

/** Parse the header from the first bytes of the file (`available`: the file's full size). */
export function parseNpyHeader(who: string, file: string, bytes: Uint8Array, available = bytes.length): NpyHeader {
  const need = (n: number, what: string) => {
    if (bytes.length < n) throw new Error(`${who}: ${file}: truncated at byte ${Math.min(bytes.length, available)}: expected ${what}`);
  };
  need(10, 'the 6-byte magic \\x93NUMPY, the version and the header length');
  for (let i = 0; i < 6; i++) {
    if (bytes[i] !== MAGIC[i]) throw new Error(`${who}: ${file}: at byte ${i}: expected the NPY magic \\x93NUMPY, got byte 0x${bytes[i]!.toString(16).padStart(2, '0')} (not an .npy file?)`);
  }
  const major = bytes[6]!;
  if (major < 1 || major > 3) throw new Error(`${who}: ${file}: at byte 6: expected format version 1, 2 or 3, got ${major}.${bytes[7]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number, start: number;
  if (major === 1) { headerLen = view.getUint16(8, true); start = 10; }
  else { need(12, 'a 4-byte header length'); headerLen = view.getUint32(8, true); start = 12; }
  need(start + headerLen, `a ${headerLen}-byte header dictionary starting at byte ${start}`);
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const bad = (what: string) => new Error(`${who}: ${file}: at byte ${start}: expected a header dict with ${what}, got ${JSON.stringify(text.trim())}`);
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(text)?.[1];
  if (descr === undefined) throw bad("'descr'");
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text)?.[1];
  if (fortran === undefined) throw bad("'fortran_order'");
  if (fortran === 'True') throw new Error(`${who}: ${file}: fortran_order is True; only C-order arrays are read (save with np.save(path, np.ascontiguousarray(a)))`);
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (shapeText === undefined) throw bad("'shape': (...)");
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (shape.some((s) => !Number.isInteger(s) || s < 0)) throw bad('a shape of non-negative integers');
  const order = descr[0]!;
  const kind = descr.slice(1);
  const dtype = KINDS[kind];
  if (!'<>|='.includes(order) || dtype === undefined) {
    throw new Error(`${who}: ${file}: unsupported descr ${JSON.stringify(descr)}; expected one of <f4 <f8 <i1 <i2 <i4 <i8 |u1 <u2 <u4 <u8 |b1 (or > for big-endian)`);
  }
  return { descr, kind, itemBytes: Number(kind.slice(1)), littleEndian: order !== '>', shape, dataOffset: start + headerLen, dtype };
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

/** Read an .npy file into a tensor (float32/float64 kept, integer types as int32). */
export function readNpy(path: string): Tensor {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`readNpy: cannot read ${path}: ${(e as Error).message}`);
  }
  const h = parseNpyHeader('readNpy', path, bytes);
  const count = h.shape.reduce((a, b) => a * b, 1);
  const need = h.dataOffset + count * h.itemBytes;
  if (bytes.length < need) {
    throw new Error(`readNpy: ${path}: truncated at byte ${bytes.length}: expected ${need} bytes (header ${h.dataOffset} + ${count} ${h.descr} elements of shape (${h.shape.join(', ')}))`);
  }
  const out = newArray(h.dtype, count);
  decodeNpy('readNpy', path, h, bytes, h.dataOffset, count, out);
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

/** Write a tensor as an .npy file, atomically (temporary file + rename). */
export function writeNpy(path: string, t: Tensor): void {
  writeFileAtomic(path, [encodeNpy(t)]);
}
