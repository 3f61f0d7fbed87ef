import '../helpers.js';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import * as d from '../../src/index.js';
import { readCsv, readIdx, readNpy, writeIdx, writeNpy } from '../../src/node/index.js';
import { readMaybeGzip } from '../../src/data/readers/files.js';
import { encodeIdx } from '../../src/data/readers/idx.js';
import { parseNpy } from '../../src/data/readers/npy.js';

const dir = mkdtempSync(join(tmpdir(), 'descent-readers-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string) => join(dir, name);

describe('IDX', () => {
  it('round-trips every element type, raw and gzipped, with no temporary file left behind', () => {
    const cases = [
      new Uint8Array([0, 1, 255, 128, 7, 9]),
      new Int8Array([-128, 127, 0, -1, 5, 6]),
      new Int16Array([-32768, 32767, 0, -1, 300, 6]),
      new Int32Array([-2147483648, 2147483647, 0, -1, 70000, 6]),
      new Float32Array([1.5, -2.25, 0, 1e-30, 3e38, -0]),
      new Float64Array([Math.PI, -Math.E, 0, 1e-300, 1e300, 2 ** -1074]),
    ];
    for (const data of cases) {
      for (const name of ['a.idx', 'a.idx.gz']) {
        writeIdx(file(name), { shape: [2, 3], data });
        const back = readIdx(file(name));
        assert.deepEqual(back.shape, [2, 3]);
        assert.equal(back.data.constructor, data.constructor);
        assert.deepEqual(Array.from(back.data), Array.from(data));
      }
    }
    assert.ok(readdirSync(dir).every((f) => !f.includes('.tmp-')));
  });

  it('is big-endian on disk, and gzip is detected by magic bytes whatever the name', () => {
    writeIdx(file('be.idx'), { shape: [1], data: new Int32Array([0x01020304]) });
    // 00 00 0c(int32) 01(rank) | 00 00 00 01 (size 1) | 01 02 03 04 (big-endian value)
    assert.deepEqual([...readFileSync(file('be.idx'))], [0, 0, 0x0c, 1, 0, 0, 0, 1, 1, 2, 3, 4]);
    writeFileSync(file('sneaky.idx'), gzipSync(readFileSync(file('be.idx'))));
    assert.deepEqual(Array.from(readIdx(file('sneaky.idx')).data), [0x01020304]);
  });

  it('truncated and corrupt files: errors name the file, the byte offset and what was expected', () => {
    writeIdx(file('t.idx'), { shape: [4, 2], data: new Uint8Array(8) });
    const whole = readFileSync(file('t.idx')); // 4 + 2*4 header + 8 data = 20 bytes
    writeFileSync(file('short.idx'), whole.subarray(0, 17));
    assert.throws(() => readIdx(file('short.idx')), (e: Error) => e.message.includes(file('short.idx')) && /truncated at byte 17: expected 20 bytes/.test(e.message));
    writeFileSync(file('hdr.idx'), whole.subarray(0, 6));
    assert.throws(() => readIdx(file('hdr.idx')), /hdr\.idx: truncated at byte 6: expected 2 big-endian int32 dimension sizes/);
    const bad = Buffer.from(whole);
    bad[2] = 0x42;
    writeFileSync(file('type.idx'), bad);
    assert.throws(() => readIdx(file('type.idx')), /type\.idx: at byte 2: expected an IDX type code .* got 42/);
    writeFileSync(file('text.idx'), 'hello world');
    assert.throws(() => readIdx(file('text.idx')), /text\.idx: at byte 0: expected the IDX magic number/);
    writeFileSync(file('long.idx'), Buffer.concat([whole, Buffer.from([1])]));
    assert.throws(() => readIdx(file('long.idx')), /long\.idx: at byte 20: expected the end of the file/);
    const gz = gzipSync(whole);
    writeFileSync(file('cut.idx.gz'), gz.subarray(0, gz.length - 6));
    assert.throws(() => readIdx(file('cut.idx.gz')), /cut\.idx\.gz: .*expected a complete gzip stream/);
    assert.throws(() => readIdx(file('absent.idx')), /readIdx: cannot read .*absent\.idx/);
  });

  it('sizes whose product passes 2^53 bytes are refused before any arithmetic on them', () => {
    const head = Buffer.alloc(4 + 4 * 4);
    head.set([0, 0, 0x0e, 4]);
    for (let i = 0; i < 4; i++) head.writeInt32BE(2 ** 31 - 1, 4 + 4 * i);
    writeFileSync(file('huge.idx'), head);
    assert.throws(() => readIdx(file('huge.idx')), /huge\.idx: at byte 4: shape \[2147483647, 2147483647, 2147483647, 2147483647\] of float64 would need more than 2\^53 bytes/);
  });
});

describe('gzip: inflated under a limit, checked while it streams', () => {
  // 64 MiB of zeros as 64 gzip members of 1 MiB each (~67 KB), so making it never holds 64 MiB
  const zeros = () => gzipSync(new Uint8Array(1 << 20));
  const bomb = (first = zeros()) => Buffer.concat([first, ...Array.from({ length: 63 }, zeros)]);
  const peakGrowthMiB = (f: () => void) => {
    const before = process.resourceUsage().maxRSS;
    f();
    return (process.resourceUsage().maxRSS - before) / 1024;
  };

  it('stops a gzip bomb at maxBytes with a one-line error, without the memory jump of inflating it', () => {
    writeFileSync(file('bomb.gz'), bomb());
    let message = '';
    // inflating it whole takes 128 MiB at the peak (the chunks, then their concatenation)
    const growth = peakGrowthMiB(() => assert.throws(() => readMaybeGzip('reader', file('bomb.gz'), { maxBytes: 8 << 20 }), (e: Error) => ((message = e.message), true)));
    assert.equal(message, `reader: ${file('bomb.gz')}: decompresses to more than 8388608 bytes (limit: maxBytes = 8388608); expected at most 8388608 bytes of data (a gzip bomb?)`);
    assert.ok(growth < 40, `peak RSS grew by ${growth} MiB`);
    assert.equal(readMaybeGzip('reader', file('bomb.gz'), { maxBytes: 64 << 20 }).bytes.length, 64 << 20);
  });

  it('readIdx inflates a gzipped file only as far as its header announces', () => {
    // a real header (10 uint8 values), then 64 MiB more than it announces
    const head = encodeIdx({ shape: [10], data: new Uint8Array(10) });
    writeFileSync(file('liar.idx.gz'), bomb(gzipSync(head)));
    let message = '';
    const growth = peakGrowthMiB(() => assert.throws(() => readIdx(file('liar.idx.gz')), (e: Error) => ((message = e.message), true)));
    assert.equal(message, `readIdx: ${file('liar.idx.gz')}: decompresses to more than 18 bytes (limit: what the header announces); expected 18 bytes (header 8 + 10 uint8 elements of shape [10])`);
    assert.ok(growth < 40, `peak RSS grew by ${growth} MiB`);
    // zeros from the first byte are no IDX header: refused after inflating about a kilobyte
    writeFileSync(file('zeros.idx.gz'), bomb());
    assert.throws(() => readIdx(file('zeros.idx.gz')), /zeros\.idx\.gz \(gzip; offsets in the decompressed data\): at byte 2: expected an IDX type code/);
    // a header announcing more than maxBytes fails before the data is inflated
    writeFileSync(file('huge.idx.gz'), gzipSync(encodeIdx({ shape: [1 << 20], data: new Uint8Array(1 << 20) })));
    assert.throws(() => readIdx(file('huge.idx.gz'), { maxBytes: 1000 }), /huge\.idx\.gz: decompresses to more than 1000 bytes \(limit: maxBytes = 1000\); expected at most 1000 bytes, but its header announces 1048584 bytes \(header 8 \+ 1048576 uint8 elements of shape \[1048576\]\) \(raise maxBytes to read it\)/);
    assert.equal(readIdx(file('huge.idx.gz')).data.length, 1 << 20);
  });

  it('a header split over gzip members and a header behind a long gzip extra field are found', () => {
    const bytes = encodeIdx({ shape: [3, 2], data: new Int32Array([1, -2, 3, -4, 5, -6]) });
    writeFileSync(file('split.idx.gz'), Buffer.concat([gzipSync(bytes.subarray(0, 5)), gzipSync(bytes.subarray(5))]));
    assert.deepEqual(Array.from(readIdx(file('split.idx.gz')).data), [1, -2, 3, -4, 5, -6]);
    // FEXTRA (flag 4) of 60000 bytes before the deflate data
    const gz = gzipSync(bytes);
    const extra = Buffer.alloc(2 + 60000);
    extra.writeUInt16LE(60000, 0);
    const withExtra = Buffer.concat([gz.subarray(0, 10), extra, gz.subarray(10)]);
    withExtra[3] = 4;
    writeFileSync(file('extra.idx.gz'), withExtra);
    assert.deepEqual(readIdx(file('extra.idx.gz')).shape, [3, 2]);
  });
});

describe('CSV', () => {
  it('reads features and named class labels (classes sorted), with quoted fields and CRLF', () => {
    writeFileSync(file('a.csv'), 'w,"len, cm",kind\r\n1,2.5,cat\r\n3,-4e-1,dog\r\n\r\n5,6,cat\r\n');
    const { features, labels, classes, columns } = readCsv(file('a.csv'), { labelColumn: 'kind' });
    assert.deepEqual(columns, ['w', 'len, cm']);
    assert.deepEqual(features.shape, [3, 2]);
    assert.equal(features.dtype, 'float32');
    assert.deepEqual(features.toArray(), [[1, 2.5], [3, Math.fround(-0.4)], [5, 6]]);
    assert.deepEqual(classes, ['cat', 'dog']);
    assert.deepEqual(labels!.toArray(), [0, 1, 0]);
    assert.equal(labels!.dtype, 'int32');
  });

  it('integer labels are used as they are; no header and a label index; another delimiter', () => {
    writeFileSync(file('b.csv'), '0.5;7\n1.5;2\n');
    const r = readCsv(file('b.csv'), { header: false, labelColumn: 1, delimiter: ';' });
    assert.deepEqual(r.labels!.toArray(), [7, 2]);
    assert.equal(r.classes, undefined);
    assert.deepEqual(r.features.toArray(), [[0.5], [1.5]]);
    assert.deepEqual(r.columns, ['0']);
    assert.equal(readCsv(file('b.csv'), { header: false, delimiter: ';' }).features.shape[1], 2);
  });

  it('a bad cell names the file, line and column; a bad label column lists the columns', () => {
    writeFileSync(file('bad.csv'), 'a,b\n1,2\n3,x7\n');
    assert.throws(() => readCsv(file('bad.csv')), (e: Error) => e.message.includes(file('bad.csv')) && /line 3, column 2 \("b"\): expected a number, got "x7"/.test(e.message));
    assert.throws(() => readCsv(file('bad.csv'), { labelColumn: 'c' }), /label column "c" not found; the columns are "a", "b"/);
    writeFileSync(file('real.csv'), 'a,t\n1,2\n3,0.5\n');
    assert.throws(() => readCsv(file('real.csv'), { labelColumn: 't' }), /real\.csv: line 3, column 2 \("t"\): expected an integer class label, got "0\.5"/);
    writeFileSync(file('ragged.csv'), 'a,b\n1,2\n3\n');
    assert.throws(() => readCsv(file('ragged.csv')), /ragged\.csv: line 3: expected 2 fields, got 1/);
  });
});

/** A hand-made .npy v1.0 file: the header dict padded so 10 + header length is a multiple of 16. */
function npyBytes(descr: string, shape: string, body: Uint8Array, fortran = 'False', version = 1): Buffer {
  let dict = `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`;
  const pre = version === 1 ? 10 : 12;
  dict += ' '.repeat((16 - ((pre + dict.length + 1) % 16)) % 16) + '\n';
  const head = Buffer.alloc(pre);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  if (version === 1) head.writeUInt16LE(dict.length, 8);
  else head.writeUInt32LE(dict.length, 8);
  return Buffer.concat([head, Buffer.from(dict, 'latin1'), body]);
}

describe('NPY', () => {
  it('writeNpy then readNpy round-trips float32, float64 and int32, 64-byte aligned', () => {
    for (const t of [d.tensor([[1.5, -2], [3, 4e-8]]), d.tensor([Math.PI, 1e300], { dtype: 'float64' }), d.tensor([[[-7, 2147483647]]], { dtype: 'int32' }), d.scalar(2.5)]) {
      writeNpy(file('t.npy'), t);
      const back = readNpy(file('t.npy'));
      assert.deepEqual(back.shape, t.shape);
      assert.equal(back.dtype, t.dtype);
      assert.deepEqual(back.toArray(), t.toArray());
      const bytes = readFileSync(file('t.npy'));
      assert.equal((10 + bytes.readUInt16LE(8)) % 64, 0);
    }
  });

  it('reads the NumPy dtypes: <f8 >f4 |u1 <i8 <i2 |b1, versions 1 and 2', () => {
    const f8 = Buffer.alloc(16); f8.writeDoubleLE(0.1, 0); f8.writeDoubleLE(-2, 8);
    writeFileSync(file('f8.npy'), npyBytes('<f8', '(2,)', f8));
    assert.deepEqual(readNpy(file('f8.npy')).toArray(), [0.1, -2]);
    assert.equal(readNpy(file('f8.npy')).dtype, 'float64');
    const f4 = Buffer.alloc(8); f4.writeFloatBE(1.5, 0); f4.writeFloatBE(-3, 4);
    writeFileSync(file('f4be.npy'), npyBytes('>f4', '(1, 2)', f4, 'False', 2));
    assert.deepEqual(readNpy(file('f4be.npy')).toArray(), [[1.5, -3]]);
    // uint8 becomes int32 (exact, label-friendly), not float.
    writeFileSync(file('u1.npy'), npyBytes('|u1', '(3,)', Uint8Array.of(0, 200, 255)));
    const u1 = readNpy(file('u1.npy'));
    assert.equal(u1.dtype, 'int32');
    assert.deepEqual(u1.toArray(), [0, 200, 255]);
    const i8 = Buffer.alloc(16); i8.writeBigInt64LE(-5n, 0); i8.writeBigInt64LE(2147483647n, 8);
    writeFileSync(file('i8.npy'), npyBytes('<i8', '(2,)', i8));
    assert.deepEqual(readNpy(file('i8.npy')).toArray(), [-5, 2147483647]);
    const i2 = Buffer.alloc(4); i2.writeInt16LE(-300, 0); i2.writeInt16LE(12, 2);
    writeFileSync(file('i2.npy'), npyBytes('<i2', '(2,)', i2));
    assert.deepEqual(readNpy(file('i2.npy')).toArray(), [-300, 12]);
    writeFileSync(file('b1.npy'), npyBytes('|b1', '(2,)', Uint8Array.of(1, 0)));
    assert.deepEqual(readNpy(file('b1.npy')).toArray(), [1, 0]);
  });

  it('errors: int64 out of int32 range (with its byte offset), fortran order, truncation, bad magic, unknown dtype', () => {
    const i8 = Buffer.alloc(16); i8.writeBigInt64LE(1n, 0); i8.writeBigInt64LE(2n ** 40n, 8);
    const big = npyBytes('<i8', '(2,)', i8);
    writeFileSync(file('big.npy'), big);
    const at = big.length - 8; // the second element starts 8 bytes before the end
    assert.throws(() => readNpy(file('big.npy')), new RegExp(`big\\.npy: at byte ${at}: <i8 value 1099511627776 does not fit int32`));
    writeFileSync(file('f.npy'), npyBytes('<f4', '(2, 2)', Buffer.alloc(16), 'True'));
    assert.throws(() => readNpy(file('f.npy')), /f\.npy: fortran_order is True; only C-order/);
    const ok = npyBytes('<f4', '(2, 2)', Buffer.alloc(16));
    writeFileSync(file('cut.npy'), ok.subarray(0, ok.length - 3));
    assert.throws(() => readNpy(file('cut.npy')), new RegExp(`cut\\.npy: truncated at byte ${ok.length - 3}: expected ${ok.length} bytes`));
    writeFileSync(file('hdr.npy'), ok.subarray(0, 20));
    assert.throws(() => readNpy(file('hdr.npy')), /hdr\.npy: truncated at byte 20: expected a \d+-byte header dictionary/);
    writeFileSync(file('magic.npy'), Buffer.from('PK\x03\x04 this is a zip'));
    assert.throws(() => readNpy(file('magic.npy')), /magic\.npy: at byte 0: expected the NPY magic/);
    writeFileSync(file('c8.npy'), npyBytes('<c8', '(1,)', Buffer.alloc(8)));
    assert.throws(() => readNpy(file('c8.npy')), /c8\.npy: unsupported descr "<c8"/);
  });

  it('the header dict is parsed strictly: exactly descr, fortran_order and shape, integer sizes, nothing after it', () => {
    const body = Buffer.alloc(16);
    const rejects = (bytes: Uint8Array, expected: RegExp) => assert.throws(() => parseNpy(bytes, 'x.npy'), (e: Error) => {
      assert.ok(!/[\n\r]/.test(e.message), e.message);
      assert.match(e.message, /^readNpy: x\.npy: /);
      assert.match(e.message, expected);
      return true;
    });
    const dict = (text: string, data: Uint8Array = body) => {
      const head = Buffer.alloc(10);
      head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
      head.writeUInt16LE(text.length, 8);
      return Buffer.concat([head, Buffer.from(text, 'latin1'), data]);
    };
    assert.deepEqual(parseNpy(dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }   \n"), 'x.npy').shape, [2, 2]);
    assert.deepEqual(parseNpy(dict('{"shape":(4,),"descr":"<f4","fortran_order":False}'), 'x.npy').shape, [4]);
    assert.deepEqual(parseNpy(dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 2L), }\n"), 'x.npy').shape, [2, 2]);
    // a regular expression search found 'shape': (16,) inside the descr string and read 0x10 as 16
    rejects(dict("{'descr': '<f4', 'fortran_order': False, 'shape': (0x10,), }\n", Buffer.alloc(64)), /header at byte 62: expected ',' or '\)' in the shape tuple, got "x10,\), }\\n"/);
    rejects(dict("{'descr': '<f4', 'fortran_order': False, 'shape': (1e1,), }\n"), /expected ',' or '\)' in the shape tuple/);
    rejects(dict("{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }\n"), /expected a non-negative integer size or '\)', got "-4,\), }\\n"/);
    rejects(dict("{'descr': '<f4', 'fortran_order': False, 'shape': (4), }\n"), /expected a one-element tuple written \(4,\)/);
    rejects(dict("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'shape': (2, 2)}\n"), /expected the key 'shape' once/);
    rejects(dict("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'extra': 1}\n"), /expected one of the keys 'descr', 'fortran_order', 'shape', got "'extra': 1}/);
    rejects(dict("{'descr': '<f4', 'shape': (4,)}\n"), /expected the key 'fortran_order' in the header dict/);
    rejects(dict("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,)}\n"), /expected a dtype string such as '<f4' \(structured dtypes are not read\)/);
    rejects(dict("{'descr': '<f4', 'fortran_order': 0, 'shape': (4,)}\n"), /expected True or False, got "0, 'shape'/);
    rejects(dict("{'descr': '<f4', 'fortran_order': False, 'shape': (4,)} trailing\n"), /expected only spaces and a newline after the header dict, got "trailing\\n"/);
    rejects(dict("{'descr': '|f4', 'fortran_order': False, 'shape': (4,)}\n"), /unsupported descr "\|f4"/);
    rejects(dict("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776)}\n"), /shape \(1099511627776, 1099511627776\) of <f4 would need more than 2\^53 bytes/);
    rejects(dict("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}\n"), /expected a size below 2\^53/);
    const v11 = dict("{'descr': '<f4', 'fortran_order': False, 'shape': (4,)}\n");
    v11[7] = 1;
    rejects(v11, /at byte 6: expected format version 1\.0, 2\.0 or 3\.0, got 1\.1/);
    // data after the last element
    rejects(dict("{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}\n"), /at byte 78: expected the end of the file after the header 66 \+ 3 <f4 elements of shape \(3\), found 4 more bytes/);
  });
});
