import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import * as d from '../api/internal.js';
import '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'descent-st-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A hand-made file: the 8-byte length, the header text exactly as given, then the data bytes. */
function raw(header: string | object, data: Uint8Array | number = 0): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}
const f32 = (shape: number[], data_offsets: unknown[]) => ({ dtype: 'F32', shape, data_offsets });
/** decodeSafetensors(bytes, 'x.st') must fail with `x.st: not a valid safetensors file: <part>: <expected>`, on one line (part: a regular expression). */
function rejects(bytes: Uint8Array, part: string, expected: RegExp): void {
  assert.throws(
    () => d.decodeSafetensors(bytes, 'x.st'),
    (e: Error) => {
      assert.ok(!/[\n\r]/.test(e.message), `one line: ${e.message}`);
      assert.match(e.message, new RegExp(`^x\\.st: not a valid safetensors file: ${part}: `));
      assert.match(e.message, expected);
      return true;
    },
  );
}

describe('safetensors', () => {
  it('round-trips float32, float64 and int32 tensors with metadata, written atomically', () => {
    const f = join(dir, 'a.safetensors');
    const t = {
      w: d.tensor([
        [1.5, -2],
        [3, 4],
      ]),
      b: d.tensor([0.1], { dtype: 'float64' }),
      i: d.tensor([7, -8, 9], { dtype: 'int32' }),
      s: d.tensor(3),
      e: d.zeros([0, 3]),
    };
    d.saveSafetensors(f, t, { note: 'hello' });
    assert.deepEqual(readdirSync(dir), ['a.safetensors']);
    const r = d.loadSafetensors(f);
    assert.deepEqual({ ...r.metadata }, { note: 'hello' });
    for (const [k, v] of Object.entries(t)) {
      assert.equal(r.tensors[k]!.dtype, v.dtype);
      assert.deepEqual(r.tensors[k]!.shape, v.shape);
      assert.deepEqual(r.tensors[k]!.toArray(), v.toArray());
    }
    // layout: 8-byte little-endian header length, then JSON whose length keeps the data 8-aligned
    const bytes = readFileSync(f);
    const n = Number(bytes.readBigUInt64LE(0));
    assert.equal((8 + n) % 8, 0);
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString());
    assert.deepEqual(header.w, { dtype: 'F32', shape: [2, 2], data_offsets: [header.w.data_offsets[0], header.w.data_offsets[0] + 16] });
    assert.deepEqual(header.i.dtype, 'I32');
  });

  it('the in-memory codec equals the file functions and imports nothing from node:', () => {
    const t = { a: d.tensor([1, 2, 3]), 'x.num_batches_tracked': d.scalar(5, 'int32') };
    d.saveSafetensors(join(dir, 'm.safetensors'), t, { k: 'v' });
    assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'm.safetensors'))), d.encodeSafetensors(t, { k: 'v' }));
    const src = readFileSync(new URL('../../src/io/safetensors-codec.ts', import.meta.url), 'utf8');
    assert.doesNotMatch(src, /from 'node:|require\(/);
  });

  it('names the file and the part for truncated or corrupt files', () => {
    const f = join(dir, 'b.safetensors');
    d.saveSafetensors(f, { w: d.ones([4, 4]) });
    const whole = readFileSync(f);
    writeFileSync(join(dir, 'trunc.safetensors'), whole.subarray(0, whole.length - 10));
    assert.throws(
      () => d.loadSafetensors(join(dir, 'trunc.safetensors')),
      /trunc\.safetensors: not a valid safetensors file: tensor "w" data_offsets: \[0, 64\] end past the data section, which has 54 bytes .*truncated\?/,
    );
    writeFileSync(join(dir, 'tiny.safetensors'), Buffer.from([1, 2, 3]));
    assert.throws(
      () => d.loadSafetensors(join(dir, 'tiny.safetensors')),
      /tiny\.safetensors: not a valid safetensors file: header length \(bytes 0-7\): expected an 8-byte little-endian length, the file has 3 bytes/,
    );
    const bad = Buffer.from(whole);
    bad.write('!', 8);
    writeFileSync(join(dir, 'json.safetensors'), bad);
    assert.throws(
      () => d.loadSafetensors(join(dir, 'json.safetensors')),
      /json\.safetensors: not a valid safetensors file: header \(bytes 8-\d+\): expected a JSON object/,
    );
    assert.throws(() => d.loadSafetensors(join(dir, 'absent.safetensors')), /absent\.safetensors: cannot read the safetensors file/);
  });

  it('header length: larger than the file, larger than 100 MB, or 2^64 - 1', () => {
    const ok = raw({ a: f32([1], [0, 4]) }, 4);
    const big = ok.slice();
    new DataView(big.buffer).setBigUint64(0, 1000n, true);
    rejects(big, 'header length \\(bytes 0-7\\)', /1000 bytes of header, but only \d+ bytes follow \(truncated\?\)/);
    new DataView(big.buffer).setBigUint64(0, 2n ** 64n - 1n, true);
    rejects(big, 'header length \\(bytes 0-7\\)', /expected at most 100000000 bytes, got 18446744073709551615/);
    new DataView(big.buffer).setBigUint64(0, 0n, true);
    rejects(big, 'header \\(0 bytes\\)', /expected a JSON object/);
  });

  it('header text: UTF-8, a JSON object, unique keys', () => {
    const bytes = raw('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 4);
    bytes[12] = 0xff; // inside the key "a" (byte 8 is "{")
    rejects(bytes, 'header \\(bytes 8-\\d+\\)', /expected UTF-8 text/);
    rejects(raw('[1, 2]'), 'header \\(bytes 8-13\\)', /expected a JSON object, got \[1,2\]/);
    rejects(raw('null'), 'header \\(bytes 8-11\\)', /expected a JSON object, got null/);
    // JSON.parse would keep the second "a" and silently drop the first
    rejects(
      raw('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}, "a" :{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', 8),
      'header \\(bytes 8-\\d+\\)',
      /expected unique keys, "a" appears twice/,
    );
    rejects(raw('{"a":{"dtype":"F32","dtype":"F64","shape":[1],"data_offsets":[0,4]}}', 4), 'header \\(bytes 8-\\d+\\)', /"dtype" appears twice/);
    // strings that merely look like keys are values, not duplicates
    assert.deepEqual(
      { ...d.decodeSafetensors(raw('{"__metadata__":{"a":"a","b":"a"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 4)).metadata },
      { a: 'a', b: 'a' },
    );
  });

  it('entries: exactly dtype, shape and data_offsets; a known dtype; non-negative integer shapes', () => {
    rejects(raw({ a: 5 }), 'tensor "a"', /expected an object \{dtype, shape, data_offsets\}, got 5/);
    rejects(raw({ a: { dtype: 'F32', shape: [1] } }, 4), 'tensor "a"', /expected exactly the keys dtype, shape, data_offsets, got "dtype", "shape"/);
    rejects(raw({ a: { ...f32([1], [0, 4]), extra: 1 } }, 4), 'tensor "a"', /got "data_offsets", "dtype", "extra", "shape"/);
    rejects(
      raw({ a: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, 1),
      'tensor "a" dtype',
      /expected one of F64 F32 F16 BF16 I64 U64 I32 U32 I16 U16 I8 U8 BOOL, got "F8_E4M3"/,
    );
    rejects(raw({ a: f32([-1], [0, 4]) }, 4), 'tensor "a" shape', /expected an array of non-negative integers, got \[-1\]/);
    rejects(raw({ a: f32([1.5], [0, 4]) }, 4), 'tensor "a" shape', /got \[1\.5\]/);
    rejects(raw({ a: f32(['2'] as never, [0, 8]) }, 8), 'tensor "a" shape', /got \["2"\]/);
    rejects(raw({ a: f32([2 ** 40, 2 ** 40], [0, 4]) }, 4), 'tensor "a" shape', /\[1099511627776, 1099511627776\] F32 would need more than 2\^53 bytes/);
    rejects(
      raw({ a: f32([2 ** 25, 2 ** 25], [0, 4]) }, 4),
      'tensor "a" data_offsets',
      /\[0, 4\] span 4 bytes; expected 4503599627370496 \(shape \[33554432, 33554432\]/,
    );
    rejects(raw({ a: f32([2], [0, 4]) }, 4), 'tensor "a" data_offsets', /span 4 bytes; expected 8 \(shape \[2\] = 2 elements of F32, 4 bytes each\)/);
  });

  it('data offsets: negative, fractional, reversed, overlapping, with gaps, not from 0 or short of the end are refused', () => {
    const offsets = 'tensor "a" data_offsets';
    rejects(raw({ a: f32([1], [-4, 0]) }, 4), offsets, /expected \[begin, end\], integers with 0 <= begin <= end, got \[-4,0\]/);
    rejects(raw({ a: f32([1], [0.5, 4.5]) }, 5), offsets, /got \[0\.5,4\.5\]/);
    rejects(raw({ a: f32([1], [4, 0]) }, 4), offsets, /got \[4,0\]/);
    rejects(raw({ a: f32([1], [0, 4, 8]) }, 8), offsets, /got \[0,4,8\]/);
    rejects(raw({ a: f32([1], ['0', '4']) }, 4), offsets, /got \["0","4"\]/);
    // b reads a's last 4 bytes as well as its own
    rejects(raw({ a: f32([2], [0, 8]), b: f32([2], [4, 12]) }, 12), 'tensor "b" data_offsets', /\[4, 12\] overlap tensor "a" at \[0, 8\]/);
    // two names for the same bytes
    rejects(raw({ a: f32([2], [0, 8]), b: f32([2], [0, 8]) }, 8), 'tensor "b" data_offsets', /overlap tensor "a"/);
    rejects(raw({ a: f32([1], [0, 4]), b: f32([1], [8, 12]) }, 12), 'tensor "b" data_offsets', /leave bytes \[4, 8\) of the data section to no tensor/);
    rejects(raw({ a: f32([1], [4, 8]) }, 8), offsets, /leave bytes \[0, 4\) of the data section to no tensor/);
    rejects(raw({ a: f32([1], [0, 4]) }, 9), 'data section', /expected it to end with the last tensor, at byte \d+ of the file, but 5 more bytes follow/);
    rejects(raw({ a: f32([1], [0, 4]) }, 3), offsets, /end past the data section, which has 3 bytes/);
    // the header may list the tensors in any order: their ranges are sorted first
    const r = d.decodeSafetensors(raw({ b: f32([1], [4, 8]), a: f32([1], [0, 4]), z: f32([0], [4, 4]) }, new Uint8Array(new Float32Array([1, 2]).buffer)));
    assert.deepEqual([r.tensors.a!.item(), r.tensors.b!.item(), r.tensors.z!.size], [1, 2, 0]);
  });

  it('names: __proto__ and constructor are ordinary names; empty and control-character names are refused', () => {
    const r = d.decodeSafetensors(
      raw(
        '{"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"constructor":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
        new Uint8Array(new Float32Array([7, 8]).buffer),
      ),
    );
    assert.deepEqual(Object.keys(r.tensors).sort(), ['__proto__', 'constructor']);
    assert.equal(Object.getOwnPropertyDescriptor(r.tensors, '__proto__')!.value.item(), 7);
    assert.equal(r.tensors['constructor' as string]!.item(), 8);
    rejects(raw({ '': f32([1], [0, 4]) }, 4), 'tensor ""', /expected a non-empty name without control characters, got an empty name/);
    rejects(raw({ 'a\nb': f32([1], [0, 4]) }, 4), 'tensor "a\\\\nb"', /got a name with control characters/);
    // and a name that round-trips: written and read back under the same key
    const t = Object.create(null) as Record<string, d.Tensor>;
    t['__proto__'] = d.tensor([1, 2]);
    assert.deepEqual(Object.keys(d.decodeSafetensors(d.encodeSafetensors(t)).tensors), ['__proto__']);
    assert.throws(() => d.encodeSafetensors({ '': d.ones([1]) }), /saveSafetensors: tensor names must be non-empty.*got an empty name/);
    assert.throws(() => d.encodeSafetensors({ __metadata__: d.ones([1]) }), /got the reserved name "__metadata__"/);
  });

  it('__metadata__ must map strings to strings', () => {
    rejects(raw({ __metadata__: { a: 1 } }), '__metadata__ "a"', /expected a string, got 1/);
    rejects(raw({ __metadata__: ['a'] }), '__metadata__', /expected an object of strings, got \["a"\]/);
    assert.deepEqual(Object.keys(d.decodeSafetensors(raw({ __metadata__: {} })).tensors), []);
    assert.throws(() => d.encodeSafetensors({}, { a: 1 as never }), /saveSafetensors: metadata "a" must be a string, got number/);
  });

  it('I64 (how PyTorch stores num_batches_tracked) reads into int32; a value out of range names the tensor and the value', () => {
    const data = new DataView(new ArrayBuffer(24));
    data.setBigInt64(0, -5n, true);
    data.setBigInt64(8, 2147483647n, true);
    data.setBigInt64(16, -2147483648n, true);
    const ok = d.decodeSafetensors(raw({ n: { dtype: 'I64', shape: [3], data_offsets: [0, 24] } }, new Uint8Array(data.buffer)));
    assert.equal(ok.tensors.n!.dtype, 'int32');
    assert.deepEqual(ok.tensors.n!.toArray(), [-5, 2147483647, -2147483648]);
    data.setBigInt64(8, 2n ** 31n, true);
    rejects(
      raw({ n: { dtype: 'I64', shape: [3], data_offsets: [0, 24] } }, new Uint8Array(data.buffer)),
      'tensor "n"',
      /element 1 \(I64\) is 2147483648, which does not fit int32 \(Descent reads I64 as int32\)/,
    );
    // written: int32 tensors the option picks (default: *num_batches_tracked) as I64, others as I32
    const t = { '1.num_batches_tracked': d.scalar(-3, 'int32'), count: d.tensor([4], { dtype: 'int32' }) };
    const header = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + Number(new DataView(b.buffer).getBigUint64(0, true)))));
    const b1 = d.encodeSafetensors(t);
    assert.equal(header(b1)['1.num_batches_tracked'].dtype, 'I64');
    assert.equal(header(b1).count.dtype, 'I32');
    assert.equal(d.decodeSafetensors(b1).tensors['1.num_batches_tracked']!.item(), -3);
    const b2 = d.encodeSafetensors(t, {}, { int64: (name) => name === 'count' });
    assert.deepEqual([header(b2)['1.num_batches_tracked'].dtype, header(b2).count.dtype], ['I32', 'I64']);
    assert.deepEqual(d.decodeSafetensors(b2).tensors.count!.toArray(), [4]);
  });

  it('reads the other dtypes PyTorch writes: F16 BF16 to float32, I8 U8 I16 U16 U32 U64 BOOL to int32', () => {
    const cases: [string, number, (v: DataView, at: number) => void, number[]][] = [
      // F16 0x3c00 = 1, 0xc000 = -2, 0x0001 = 2^-24 (smallest subnormal), 0x7c00 = inf
      ['F16', 2, (v, at) => [0x3c00, 0xc000, 0x0001, 0x7c00].forEach((h, i) => v.setUint16(at + 2 * i, h, true)), [1, -2, 2 ** -24, Infinity]],
      // BF16: the high 16 bits of the float32: 0x3fc0 = 1.5, 0xc040 = -3, 0x0000 = 0, 0xff80 = -inf
      ['BF16', 2, (v, at) => [0x3fc0, 0xc040, 0, 0xff80].forEach((h, i) => v.setUint16(at + 2 * i, h, true)), [1.5, -3, 0, -Infinity]],
      ['I8', 1, (v, at) => [-128, 127, 0, -1].forEach((x, i) => v.setInt8(at + i, x)), [-128, 127, 0, -1]],
      ['U8', 1, (v, at) => [0, 255, 1, 7].forEach((x, i) => v.setUint8(at + i, x)), [0, 255, 1, 7]],
      ['BOOL', 1, (v, at) => [1, 0, 0, 1].forEach((x, i) => v.setUint8(at + i, x)), [1, 0, 0, 1]],
      ['I16', 2, (v, at) => [-32768, 32767, 0, -2].forEach((x, i) => v.setInt16(at + 2 * i, x, true)), [-32768, 32767, 0, -2]],
      ['U16', 2, (v, at) => [65535, 0, 1, 2].forEach((x, i) => v.setUint16(at + 2 * i, x, true)), [65535, 0, 1, 2]],
      ['U32', 4, (v, at) => [2147483647, 0, 1, 2].forEach((x, i) => v.setUint32(at + 4 * i, x, true)), [2147483647, 0, 1, 2]],
      ['U64', 8, (v, at) => [2147483647n, 0n, 1n, 2n].forEach((x, i) => v.setBigUint64(at + 8 * i, x, true)), [2147483647, 0, 1, 2]],
    ];
    for (const [dtype, size, fill, expected] of cases) {
      const data = new DataView(new ArrayBuffer(4 * size));
      fill(data, 0);
      const t = d.decodeSafetensors(raw({ t: { dtype, shape: [2, 2], data_offsets: [0, 4 * size] } }, new Uint8Array(data.buffer))).tensors.t!;
      assert.equal(t.dtype, dtype.startsWith('F') || dtype === 'BF16' ? 'float32' : 'int32', dtype);
      assert.deepEqual(Array.from(t.data), expected, dtype);
    }
    const u32 = new DataView(new ArrayBuffer(4));
    u32.setUint32(0, 2 ** 31, true);
    rejects(
      raw({ t: { dtype: 'U32', shape: [], data_offsets: [0, 4] } }, new Uint8Array(u32.buffer)),
      'tensor "t"',
      /element 0 \(U32\) is 2147483648, which does not fit int32/,
    );
  });
});
