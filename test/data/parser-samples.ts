/**
 * Inputs shared by the parser tests in Node (test/data/browser-parsers.test.ts) and in Chromium
 * (test/browser/data.test.ts): NPY files of several dtypes and layouts, a CSV with quoting, CRLF
 * and a byte-order mark, and byte sequences that are not UTF-8.
 */

/** An .npy file written by hand (as NumPy lays it out): magic, version, header dict, then `body`. */
export function npyBytes(descr: string, shape: string, body: Uint8Array, fortran = 'False', version = 1): Uint8Array {
  let dict = `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`;
  const pre = version === 1 ? 10 : 12;
  dict += ' '.repeat((64 - ((pre + dict.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(pre + dict.length + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, dict.length, true);
  else view.setUint32(8, dict.length, true);
  for (let i = 0; i < dict.length; i++) out[pre + i] = dict.charCodeAt(i);
  out.set(body, pre + dict.length);
  return out;
}

/** `n` elements written by `set(view, byteOffset, i)`, `size` bytes each. */
function body(n: number, size: number, set: (v: DataView, at: number, i: number) => void): Uint8Array {
  const b = new Uint8Array(n * size);
  const v = new DataView(b.buffer);
  for (let i = 0; i < n; i++) set(v, i * size, i);
  return b;
}

/** Valid .npy files: name -> bytes. */
export const NPY_OK: Record<string, Uint8Array> = {
  'f4 [2, 3]': npyBytes('<f4', '(2, 3)', body(6, 4, (v, at, i) => v.setFloat32(at, i / 3 - 1, true))),
  'f8 [4] (big-endian)': npyBytes('>f8', '(4,)', body(4, 8, (v, at, i) => v.setFloat64(at, Math.PI * (i - 1.5) * 1e100, false))),
  'f4 [2, 2] (big-endian)': npyBytes('>f4', '(2, 2)', body(4, 4, (v, at, i) => v.setFloat32(at, 0.1 * i, false))),
  'i8 [3]': npyBytes('<i8', '(3,)', body(3, 8, (v, at, i) => v.setBigInt64(at, BigInt([-5, 2147483647, -2147483648][i]!), true))),
  'u1 [2, 2, 2]': npyBytes('|u1', '(2, 2, 2)', body(8, 1, (v, at, i) => v.setUint8(at, i * 36))),
  'i2 [3] (big-endian)': npyBytes('>i2', '(3,)', body(3, 2, (v, at, i) => v.setInt16(at, (i - 1) * 300, false))),
  'u4 [2]': npyBytes('<u4', '(2,)', body(2, 4, (v, at, i) => v.setUint32(at, i * 7, true))),
  'b1 [3]': npyBytes('|b1', '(3,)', Uint8Array.of(1, 0, 1)),
  'f4 [] (0-d)': npyBytes('<f4', '()', body(1, 4, (v, at) => v.setFloat32(at, 2.5, true))),
  'f8 [0, 3] (empty)': npyBytes('<f8', '(0, 3)', new Uint8Array(0)),
  'i4 [2] (version 2.0)': npyBytes('<i4', '(2,)', body(2, 4, (v, at, i) => v.setInt32(at, -i, true)), 'False', 2),
  'f4 [2] (version 3.0)': npyBytes('<f4', '(2,)', body(2, 4, (v, at, i) => v.setFloat32(at, i + 0.5, true)), 'False', 3),
};

const f4x4 = body(4, 4, (v, at, i) => v.setFloat32(at, i, true));
/** .npy files every reader refuses: name -> [bytes, what the error says]. */
export const NPY_BAD: Record<string, [Uint8Array, RegExp]> = {
  'fortran order': [npyBytes('<f4', '(2, 2)', f4x4, 'True'), /fortran_order is True; only C-order arrays are read/],
  truncated: [npyBytes('<f4', '(2, 2)', f4x4).subarray(0, 139), /truncated at byte 139: expected 144 bytes \(header 128 \+ 4 <f4 elements of shape \(2, 2\)\)/],
  'header cut': [npyBytes('<f4', '(2, 2)', f4x4).subarray(0, 30), /truncated at byte 30: expected a 118-byte header dictionary starting at byte 10/],
  'bytes after the data': [Uint8Array.from([...npyBytes('<f4', '(1,)', f4x4.subarray(0, 4)), 0]), /at byte 132: expected the end of the file after the header 128 \+ 1 <f4 elements/],
  'int64 beyond int32': [npyBytes('<i8', '(1,)', body(1, 8, (v, at) => v.setBigInt64(at, 2n ** 40n, true))), /at byte 128: <i8 value 1099511627776 does not fit int32/],
  'not npy': [new TextEncoder().encode('PK\x03\x04 this is a zip file'), /at byte 0: expected the NPY magic/],
  complex: [npyBytes('<c8', '(1,)', new Uint8Array(8)), /unsupported descr "<c8"/],
};

/** A CSV with a byte-order mark, a quoted header cell, a blank line, CRLF, spaces and names as labels. */
export const CSV_TEXT = '\ufeffsepal,"petal, cm",label\n5.1,3.5,setosa\n4.9,-3e-1,versicolor\n\n6.2, 0.2 ,setosa\r\n1,2,"virginica"\n';
export const CSV_OPTIONS = { labelColumn: 'label' } as const;

/** CSV bytes that are not UTF-8: name -> [bytes, what the error says (after the source)]. */
export const CSV_BAD_UTF8: Record<string, [Uint8Array, RegExp]> = {
  'a Latin-1 byte': [Uint8Array.from([...new TextEncoder().encode('x,y\n1,caf'), 0xe9, 0x0a]), /: line 2, byte 9: expected UTF-8 text, got byte 0xe9/],
  'a cut character at the end': [Uint8Array.from([...new TextEncoder().encode('x,y\n1,2\n3,'), 0xe2, 0x82]), /: line 3, byte 10: expected UTF-8 text, got the end of the data inside a character/],
  'an overlong form': [Uint8Array.from([0x78, 0x0a, 0xc0, 0xae, 0x0a]), /: line 2, byte 2: expected UTF-8 text, got byte 0xc0/],
  'a surrogate': [Uint8Array.from([0x78, 0x0a, 0x31, 0xed, 0xa0, 0x80]), /: line 2, byte 3: expected UTF-8 text, got byte 0xed/],
};
