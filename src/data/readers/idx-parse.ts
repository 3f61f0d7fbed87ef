/**
 * Parsing and encoding IDX bytes (the MNIST format), with no file system: browser-safe. Layout,
 * all big-endian: bytes 0-1 zero; byte 2 the element type (0x08 uint8, 0x09 int8, 0x0B int16,
 * 0x0C int32, 0x0D float32, 0x0E float64); byte 3 the number of dimensions d; then d int32 sizes,
 * then the elements in row-major order. Files and gzip are handled by idx.ts (Node).
 */

export type IdxType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  shape: number[];
  type: IdxType;
  data: IdxData;
}

const CODES: Record<number, IdxType> = { 0x08: 'uint8', 0x09: 'int8', 0x0b: 'int16', 0x0c: 'int32', 0x0d: 'float32', 0x0e: 'float64' };
const CODE_OF: Record<IdxType, number> = { uint8: 0x08, int8: 0x09, int16: 0x0b, int32: 0x0c, float32: 0x0d, float64: 0x0e };
export const IDX_BYTES: Record<IdxType, number> = { uint8: 1, int8: 1, int16: 2, int32: 4, float32: 4, float64: 8 };

export interface IdxHeader {
  type: IdxType;
  shape: number[];
  /** Bytes before the first element: 4 + 4 * rank. */
  headerBytes: number;
}

/**
 * Parse the header from the file's first bytes. `where` names the file in errors; `available`
 * is how many bytes the file (or decompressed stream) holds, to report truncation.
 */
export function parseIdxHeader(who: string, where: string, bytes: Uint8Array, available = bytes.length): IdxHeader {
  const need = (n: number, what: string) => {
    if (available < n || bytes.length < n) throw new Error(`${who}: ${where}: truncated at byte ${Math.min(available, bytes.length)}: expected ${what} (the file has ${available} bytes)`);
  };
  need(4, 'the 4-byte IDX magic number 00 00 <type> <rank>');
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new Error(`${who}: ${where}: at byte 0: expected the IDX magic number to start with 00 00, got ${hex(bytes[0]!)} ${hex(bytes[1]!)} (not an IDX file?)`);
  }
  const type = CODES[bytes[2]!];
  if (!type) throw new Error(`${who}: ${where}: at byte 2: expected an IDX type code (08, 09, 0b, 0c, 0d or 0e), got ${hex(bytes[2]!)}`);
  const rank = bytes[3]!;
  if (rank === 0) throw new Error(`${who}: ${where}: at byte 3: expected a rank of at least 1, got 0`);
  const headerBytes = 4 + 4 * rank;
  need(headerBytes, `${rank} big-endian int32 dimension sizes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  for (let i = 0; i < rank; i++) {
    const s = view.getInt32(4 + 4 * i, false);
    if (s < 0) throw new Error(`${who}: ${where}: at byte ${4 + 4 * i}: expected a non-negative dimension size, got ${s}`);
    shape.push(s);
  }
  // 255 sizes up to 2^31 can multiply past 2^53, where byte counts stop being exact.
  if (!Number.isSafeInteger(headerBytes + shape.reduce((a, b) => a * b, 1) * IDX_BYTES[type])) {
    throw new Error(`${who}: ${where}: at byte 4: shape [${shape.join(', ')}] of ${type} would need more than 2^53 bytes; expected sizes that fit a file`);
  }
  return { type, shape, headerBytes };
}

/** Decode `count` big-endian elements starting at `offset` into a native typed array. */
export function decodeBigEndian(type: IdxType, bytes: Uint8Array, offset: number, count: number): IdxData {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * IDX_BYTES[type]);
  switch (type) {
    // Copies into plain typed arrays (a Buffer's slice would be a view of Node's shared pool).
    case 'uint8': return new Uint8Array(bytes.subarray(offset, offset + count));
    case 'int8': { const a = new Int8Array(count); for (let i = 0; i < count; i++) a[i] = view.getInt8(i); return a; }
    case 'int16': { const a = new Int16Array(count); for (let i = 0; i < count; i++) a[i] = view.getInt16(2 * i, false); return a; }
    case 'int32': { const a = new Int32Array(count); for (let i = 0; i < count; i++) a[i] = view.getInt32(4 * i, false); return a; }
    case 'float32': { const a = new Float32Array(count); for (let i = 0; i < count; i++) a[i] = view.getFloat32(4 * i, false); return a; }
    case 'float64': { const a = new Float64Array(count); for (let i = 0; i < count; i++) a[i] = view.getFloat64(8 * i, false); return a; }
  }
}

/** Parse the bytes of an (uncompressed) IDX file; `where` names it in errors. Every header field is checked before the data is read. */
export function parseIdx(bytes: Uint8Array, where: string, who = 'readIdx'): IdxArray {
  const { type, shape, headerBytes } = parseIdxHeader(who, where, bytes);
  const count = shape.reduce((a, b) => a * b, 1);
  const need = headerBytes + count * IDX_BYTES[type];
  if (bytes.length < need) {
    throw new Error(`${who}: ${where}: truncated at byte ${bytes.length}: expected ${need} bytes (header ${headerBytes} + ${count} ${type} elements of shape [${shape.join(', ')}])`);
  }
  if (bytes.length > need) throw new Error(`${who}: ${where}: at byte ${need}: expected the end of the file after ${count} ${type} elements of shape [${shape.join(', ')}], found ${bytes.length - need} more bytes`);
  return { shape, type, data: decodeBigEndian(type, bytes, headerBytes, count) };
}

function typeOfData(data: IdxData): IdxType {
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Float32Array) return 'float32';
  return 'float64';
}

/** Encode an array as IDX bytes (header + big-endian elements). */
export function encodeIdx(arr: { shape: readonly number[]; data: IdxData; type?: IdxType }): Uint8Array {
  const type = arr.type ?? typeOfData(arr.data);
  const count = arr.shape.reduce((a, b) => a * b, 1);
  if (count !== arr.data.length) throw new RangeError(`writeIdx: shape [${arr.shape.join(', ')}] has ${count} elements but data has ${arr.data.length}`);
  if (arr.shape.length < 1 || arr.shape.length > 255) throw new RangeError(`writeIdx: rank must be 1..255, got ${arr.shape.length}`);
  const header = 4 + 4 * arr.shape.length;
  const out = new Uint8Array(header + count * IDX_BYTES[type]);
  const view = new DataView(out.buffer);
  out[2] = CODE_OF[type];
  out[3] = arr.shape.length;
  arr.shape.forEach((s, i) => view.setInt32(4 + 4 * i, s, false));
  const d = arr.data;
  for (let i = 0; i < count; i++) {
    const v = d[i]!;
    const at = header + i * IDX_BYTES[type];
    switch (type) {
      case 'uint8': out[at] = v; break;
      case 'int8': view.setInt8(at, v); break;
      case 'int16': view.setInt16(at, v, false); break;
      case 'int32': view.setInt32(at, v, false); break;
      case 'float32': view.setFloat32(at, v, false); break;
      case 'float64': view.setFloat64(at, v, false); break;
    }
  }
  return out;
}


function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}
