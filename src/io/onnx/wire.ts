/**
 * The protobuf wire format, as much of it as ONNX files use (no dependency: the whole format is
 * varints, 32/64-bit little-endian words and length-prefixed bytes). A message is a sequence of
 * fields, each a key varint (field number << 3 | wire type) then its value:
 *   type 0 varint (int32, int64, enum; negative numbers as 10-byte two's complement),
 *   type 1 eight bytes (double, fixed64), type 2 a length varint then that many bytes (strings,
 *   bytes, sub-messages, packed repeated numbers), type 5 four bytes (float, fixed32).
 * Writing: `ProtoWriter` appends fields; sub-messages are written to their own writer and added as
 * bytes. Reading: `readFields` splits a message into its fields, checked against the buffer's end
 * (a truncated or garbled file is an error naming the part being read, never a read past the end).
 */

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

export class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private cur = new Uint8Array(256);
  private at = 0;
  private total = 0;

  private reserve(n: number): void {
    if (this.at + n <= this.cur.length) return;
    this.flush();
    if (n > this.cur.length) this.cur = new Uint8Array(Math.max(n, 2 * this.cur.length));
  }

  private flush(): void {
    if (this.at > 0) this.chunks.push(this.cur.slice(0, this.at));
    this.at = 0;
  }

  private byte(b: number): void {
    this.cur[this.at++] = b;
    this.total++;
  }

  /** An unsigned varint of up to 64 bits (numbers below 2^53, or a bigint already made unsigned). */
  private varint(v: number | bigint): void {
    this.reserve(10);
    if (typeof v === 'number' && v < 0x80000000) {
      while (v > 0x7f) {
        this.byte((v & 0x7f) | 0x80);
        v >>>= 7;
      }
      this.byte(v);
      return;
    }
    let b = BigInt.asUintN(64, BigInt(v));
    while (b > 0x7fn) {
      this.byte(Number(b & 0x7fn) | 0x80);
      b >>= 7n;
    }
    this.byte(Number(b));
  }

  private key(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  private raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.cur.set(bytes, this.at);
    this.at += bytes.length;
    this.total += bytes.length;
  }

  /** int32, int64 or enum (negative values take ten bytes, as protobuf's int64). */
  int(field: number, v: number): this {
    if (!Number.isSafeInteger(v)) throw new RangeError(`protobuf: field ${field}: ${v} is not a safe integer`);
    this.key(field, 0);
    this.varint(v < 0 ? BigInt.asUintN(64, BigInt(v)) : v);
    return this;
  }

  float(field: number, v: number): this {
    this.key(field, 5);
    this.reserve(4);
    new DataView(this.cur.buffer, this.cur.byteOffset + this.at, 4).setFloat32(0, v, true);
    this.at += 4;
    this.total += 4;
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.key(field, 2);
    this.varint(b.length);
    this.raw(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, utf8.encode(s));
  }

  message(field: number, m: ProtoWriter): this {
    return this.bytes(field, m.finish());
  }

  /** Repeated int64 / int32 written packed (one length-prefixed run of varints). */
  packedInts(field: number, vs: readonly number[]): this {
    const w = new ProtoWriter();
    for (const v of vs) {
      if (!Number.isSafeInteger(v)) throw new RangeError(`protobuf: field ${field}: ${v} is not a safe integer`);
      w.varint(v < 0 ? BigInt.asUintN(64, BigInt(v)) : v);
    }
    return this.bytes(field, w.finish());
  }

  /** Repeated float written packed (little-endian float32 words). */
  packedFloats(field: number, vs: readonly number[]): this {
    return this.bytes(field, new Uint8Array(Float32Array.from(vs).buffer));
  }

  finish(): Uint8Array {
    this.flush();
    if (this.chunks.length === 1) return this.chunks[0]!;
    const out = new Uint8Array(this.total);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    this.chunks = [out];
    return out;
  }
}

/** One field as read: its number, wire type and value (varints as bigint, length-delimited as a view of the bytes). */
export type ProtoField =
  | { field: number; wire: 0; value: bigint }
  | { field: number; wire: 1; value: DataView }
  | { field: number; wire: 2; value: Uint8Array }
  | { field: number; wire: 5; value: DataView };

/** A reading error: says which message and part of the file was being read. */
export class ProtoError extends Error {}

function readVarint(b: Uint8Array, pos: { at: number }, what: string): bigint {
  let result = 0n,
    shift = 0n;
  for (;;) {
    if (pos.at >= b.length) throw new ProtoError(`${what}: a number runs past the end of its bytes (the file is truncated or not ONNX)`);
    const byte = b[pos.at++]!;
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return result;
    shift += 7n;
    if (shift > 63n) throw new ProtoError(`${what}: a number is longer than 10 bytes (the file is not ONNX)`);
  }
}

/** Every field of the message in `b`, in order; `what` names the message in errors. */
export function readFields(b: Uint8Array, what: string): ProtoField[] {
  const out: ProtoField[] = [];
  const pos = { at: 0 };
  while (pos.at < b.length) {
    const key = readVarint(b, pos, what);
    const field = Number(key >> 3n),
      wire = Number(key & 7n);
    if (field === 0) throw new ProtoError(`${what}: field number 0 at byte ${pos.at} (the file is not ONNX)`);
    if (wire === 0) out.push({ field, wire, value: readVarint(b, pos, what) });
    else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (pos.at + n > b.length) throw new ProtoError(`${what}: field ${field} runs past the end of its bytes (the file is truncated)`);
      out.push({ field, wire, value: new DataView(b.buffer, b.byteOffset + pos.at, n) });
      pos.at += n;
    } else if (wire === 2) {
      const n = Number(readVarint(b, pos, what));
      if (pos.at + n > b.length) throw new ProtoError(`${what}: field ${field} says ${n} bytes but only ${b.length - pos.at} are left (the file is truncated)`);
      out.push({ field, wire, value: b.subarray(pos.at, pos.at + n) });
      pos.at += n;
    } else {
      throw new ProtoError(`${what}: field ${field} has wire type ${wire}, which ONNX files do not use (the file is not ONNX)`);
    }
  }
  return out;
}

/** A signed int64 from a varint (two's complement), as a number; an error beyond 2^53. */
export function toInt(v: bigint, what: string): number {
  const s = BigInt.asIntN(64, v);
  if (s > BigInt(Number.MAX_SAFE_INTEGER) || s < BigInt(Number.MIN_SAFE_INTEGER))
    throw new ProtoError(`${what}: ${s} is beyond the integers Descent reads (2^53)`);
  return Number(s);
}

export function toStr(f: ProtoField, what: string): string {
  if (f.wire !== 2) throw new ProtoError(`${what}: expected a string (wire type 2), got wire type ${f.wire}`);
  try {
    return utf8Decoder.decode(f.value);
  } catch {
    throw new ProtoError(`${what}: not valid UTF-8`);
  }
}

export function toBytes(f: ProtoField, what: string): Uint8Array {
  if (f.wire !== 2) throw new ProtoError(`${what}: expected bytes (wire type 2), got wire type ${f.wire}`);
  return f.value;
}

/** A repeated integer field's values, packed or not. */
export function repeatedInts(fields: readonly ProtoField[], what: string): number[] {
  const out: number[] = [];
  for (const f of fields) {
    if (f.wire === 0) out.push(toInt(f.value, what));
    else if (f.wire === 2) {
      const pos = { at: 0 };
      while (pos.at < f.value.length) out.push(toInt(readVarint(f.value, pos, what), what));
    } else throw new ProtoError(`${what}: expected integers, got wire type ${f.wire}`);
  }
  return out;
}

/** A repeated float (wire 5) or double (wire 1) field's values, packed or not. */
export function repeatedFloats(fields: readonly ProtoField[], what: string, width: 4 | 8): number[] {
  const out: number[] = [];
  const read = (v: DataView, at: number) => (width === 4 ? v.getFloat32(at, true) : v.getFloat64(at, true));
  for (const f of fields) {
    if (f.wire === 2) {
      if (f.value.length % width !== 0) throw new ProtoError(`${what}: ${f.value.length} bytes of packed values is not a multiple of ${width}`);
      const v = new DataView(f.value.buffer, f.value.byteOffset, f.value.length);
      for (let at = 0; at < f.value.length; at += width) out.push(read(v, at));
    } else if ((f.wire === 5 && width === 4) || (f.wire === 1 && width === 8)) out.push(read(f.value, 0));
    else throw new ProtoError(`${what}: expected ${width === 4 ? 'floats' : 'doubles'}, got wire type ${f.wire}`);
  }
  return out;
}

/** The fields of `fields` grouped by number. */
export function byField(fields: readonly ProtoField[]): Map<number, ProtoField[]> {
  const m = new Map<number, ProtoField[]>();
  for (const f of fields) {
    const list = m.get(f.field);
    if (list) list.push(f);
    else m.set(f.field, [f]);
  }
  return m;
}
