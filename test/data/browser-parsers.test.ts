/**
 * The browser-safe parsers (data namespace) against the Node readers on the same bytes: parseCsv
 * from bytes, from text and readCsv of the file agree; parseNpy agrees with readNpy on every
 * dtype and layout and refuses the same inputs with the same message; irisFromCsv and fetchIris
 * give loadIris's tensors bit for bit. Hostile input is refused with one line naming the source.
 */
import '../helpers.js';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import * as d from '../../src/index.js';
import { dataDir, loadIris, readCsv, readNpy } from '../../src/node/index.js';
import type { CsvData, TabularClassification } from '../../src/data/index.js';
import type { Tensor } from '../../src/index.js';
import { CSV_BAD_UTF8, CSV_OPTIONS, CSV_TEXT, NPY_BAD, NPY_OK } from './parser-samples.js';

const { parseCsv, parseNpy, encodeNpy, irisFromCsv, fetchIris, IRIS_CLASSES } = d.data;
const tmp = mkdtempSync(join(tmpdir(), 'descent-parsers-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const file = (name: string, bytes: Uint8Array) => {
  const p = join(tmp, name);
  writeFileSync(p, bytes);
  return p;
};

/** The same tensor: dtype, shape and every element's bits (NaN, -0 and all). */
function sameTensor(a: Tensor | undefined, b: Tensor | undefined, what: string): void {
  assert.ok(a && b, what);
  assert.equal(a.dtype, b.dtype, what);
  assert.deepEqual(a.shape, b.shape, what);
  assert.ok(
    a.data.length === b.data.length && a.data.every((v, i) => Object.is(v, b.data[i])),
    `${what}: elements differ`,
  );
}

function sameCsv(a: CsvData, b: CsvData, what: string): void {
  sameTensor(a.features, b.features, `${what} features`);
  if (a.labels || b.labels) sameTensor(a.labels, b.labels, `${what} labels`);
  assert.deepEqual([a.classes, a.columns, a.header], [b.classes, b.columns, b.header], what);
}

function sameIris(a: TabularClassification, b: TabularClassification): void {
  a.dataset.tensors.forEach((t, i) => sameTensor(t, b.dataset.tensors[i], `tensor ${i}`));
  assert.deepEqual([a.classes, a.columns], [b.classes, b.columns]);
}

/** Assert `run` throws one line that starts `<who>: <source>` and says `expected`. */
function refuses(run: () => unknown, who: string, source: string, expected: RegExp): void {
  assert.throws(run, (e: Error) => {
    assert.ok(!/[\n\r]/.test(e.message), e.message);
    assert.ok(e.message.startsWith(`${who}: ${source}: `), e.message);
    assert.match(e.message, expected);
    return true;
  });
}

describe('parseCsv from bytes (browser-safe)', () => {
  const bytes = new TextEncoder().encode(CSV_TEXT);

  it('bytes (Uint8Array, ArrayBuffer, a view into a larger buffer), text and readCsv of the file give the same data', () => {
    const fromText = parseCsv(CSV_TEXT, CSV_OPTIONS);
    assert.deepEqual(fromText.columns, ['sepal', 'petal, cm'], 'the byte-order mark is not part of the first column name');
    assert.deepEqual(fromText.classes, ['setosa', 'versicolor', 'virginica']);
    assert.deepEqual(fromText.features.toArray(), [[5.1, 3.5], [4.9, -0.3], [6.2, 0.2], [1, 2]].map((r) => r.map(Math.fround)));
    const padded = new Uint8Array(bytes.length + 7);
    padded.set(bytes, 3);
    const inputs: [string, Uint8Array | ArrayBuffer][] = [
      ['Uint8Array', bytes],
      ['ArrayBuffer', bytes.slice().buffer],
      ['a view at offset 3', padded.subarray(3, 3 + bytes.length)],
      ['no byte-order mark', bytes.subarray(3)],
    ];
    for (const [what, input] of inputs) sameCsv(parseCsv(input, CSV_OPTIONS), fromText, what);
    sameCsv(readCsv(file('sample.csv', bytes), CSV_OPTIONS), fromText, 'readCsv');
  });

  it('bytes that are not UTF-8 are refused naming the source, line and byte, by parseCsv and readCsv alike', () => {
    for (const [what, [bad, expected]] of Object.entries(CSV_BAD_UTF8)) {
      refuses(() => parseCsv(bad, {}, 'bad.csv'), 'readCsv', 'bad.csv', expected);
      refuses(() => parseCsv(bad), 'readCsv', '<bytes>', expected);
      const path = file(`bad-${what.replace(/\W/g, '_')}.csv`, bad);
      refuses(() => readCsv(path), 'readCsv', path, expected);
    }
  });

  it('keeps the validation of text: a cell that is not a number names its line and column', () => {
    const bad = new TextEncoder().encode('a,b\n1,2\n3,x7\n');
    refuses(() => parseCsv(bad, {}, 'w.csv'), 'readCsv', 'w.csv', /^readCsv: w\.csv: line 3, column 2 \("b"\): expected a number, got "x7"$/);
    refuses(() => parseCsv(new Uint8Array(0), {}, 'e.csv'), 'readCsv', 'e.csv', /the file is empty/);
    refuses(() => parseCsv(Uint8Array.of(0xef, 0xbb, 0xbf), {}, 'bom.csv'), 'readCsv', 'bom.csv', /the file is empty/);
    assert.throws(() => parseCsv(42 as never, {}, 'n.csv'), /^TypeError: readCsv: n\.csv: expected CSV as a string, a Uint8Array or an ArrayBuffer, got number$/);
  });

  it('mutated bytes (a small fuzz) parse consistently or fail with one line naming the source', () => {
    let seed = 7;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    const special = [0x80, 0xbf, 0xc0, 0xc3, 0xe2, 0xed, 0xf0, 0xf4, 0xff, 0x22, 0x2c, 0x0a, 0x0d];
    let refused = 0;
    for (let k = 0; k < 3000; k++) {
      const b = bytes.slice(0, bytes.length - rand(4));
      for (let e = 0; e <= rand(3); e++) b[rand(b.length)] = rand(2) ? special[rand(special.length)]! : rand(256);
      try {
        const r = parseCsv(b, CSV_OPTIONS, 'fuzz.csv');
        assert.equal(r.features.size, r.features.shape[0]! * r.columns.length);
        assert.equal(r.labels!.size, r.features.shape[0]);
      } catch (e) {
        refused++;
        assert.ok((e as Error).message.startsWith('readCsv: fuzz.csv: ') && !/\n/.test((e as Error).message), (e as Error).message);
      }
    }
    assert.ok(refused > 100, `${refused} refused`);
  });
});

describe('parseNpy (browser-safe)', () => {
  it('reads every dtype and layout (big-endian, 0-d, empty, versions 2 and 3) exactly as readNpy, from a Uint8Array or an ArrayBuffer', () => {
    for (const [name, bytes] of Object.entries(NPY_OK)) {
      const path = file(`${name.replace(/\W/g, '_')}.npy`, bytes);
      const node = readNpy(path);
      sameTensor(parseNpy(bytes, name), node, name);
      sameTensor(parseNpy(bytes.slice().buffer), node, `${name} (ArrayBuffer)`);
    }
    assert.deepEqual(parseNpy(NPY_OK['f4 [] (0-d)']!).shape, []);
    assert.deepEqual(parseNpy(NPY_OK['i2 [3] (big-endian)']!).toArray(), [-300, 0, 300]);
    assert.deepEqual(parseNpy(NPY_OK['u1 [2, 2, 2]']!).dtype, 'int32');
  });

  it('encodeNpy round-trips through parseNpy and readNpy (float32, float64, int32, 0-d)', () => {
    const g = new d.Generator(3);
    for (const t of [d.randn([3, 5], { generator: g }), d.tensor([1e300, -0.5], { dtype: 'float64' }), d.tensor([[1, -2]], { dtype: 'int32' }), d.scalar(1.5)]) {
      const bytes = encodeNpy(t);
      sameTensor(parseNpy(bytes), t, `${t.dtype} [${t.shape}]`);
      sameTensor(readNpy(file('round.npy', bytes)), t, `${t.dtype} [${t.shape}] from a file`);
    }
  });

  it('refuses what readNpy refuses (fortran order, truncation, trailing bytes, int64 overflow, wrong magic, complex) with the same message but the source', () => {
    for (const [name, [bytes, expected]] of Object.entries(NPY_BAD)) {
      refuses(() => parseNpy(bytes, 'x.npy'), 'readNpy', 'x.npy', expected);
      refuses(() => parseNpy(bytes), 'readNpy', '<bytes>', expected);
      const path = file(`bad-${name.replace(/\W/g, '_')}.npy`, bytes);
      refuses(() => readNpy(path), 'readNpy', path, expected);
    }
    assert.throws(() => parseNpy('abc' as never, 'x.npy'), /^TypeError: readNpy: x\.npy: expected NPY bytes as a Uint8Array or an ArrayBuffer, got string$/);
  });
});

describe('Iris in any runtime', () => {
  const csvPath = join(dataDir(), 'iris.csv');
  const bytes = readFileSync(csvPath);
  const node = loadIris();

  it('irisFromCsv (bytes or text) gives loadIris bit for bit: 150 x 4 float32, labels 0..2, the species sorted', () => {
    sameIris(irisFromCsv(bytes), node);
    sameIris(irisFromCsv(bytes.toString('utf8')), node);
    // and what loadIris read before it used irisFromCsv: readCsv with the species as labels
    const old = readCsv(csvPath, { labelColumn: 'species' });
    sameIris(node, { dataset: new d.TensorDataset(old.features, old.labels!), classes: old.classes!, columns: old.columns });
    assert.deepEqual(node.classes, [...IRIS_CLASSES]);
    assert.deepEqual(node.dataset.tensors[0]!.shape, [150, 4]);
    assert.deepEqual(Array.from(node.dataset.tensors[1]!.data.subarray(48, 52)), [0, 0, 1, 1]);
  });

  it('refuses a CSV that is not Iris: an unknown species, other columns', () => {
    refuses(() => irisFromCsv('sepal_length,sepal_width,petal_length,petal_width,species\n1,2,3,4,rose\n', 'i.csv'), 'loadIris', 'i.csv', /line 2, column 5 \("species"\): label "rose" is not one of the 3 known classes \("setosa", "versicolor", "virginica"\)/);
    refuses(() => irisFromCsv('a,b,species\n1,2,setosa\n', 'j.csv'), 'loadIris', 'j.csv', /expected the feature columns sepal_length, sepal_width, petal_length, petal_width \(then species\), got a, b$/);
    refuses(() => irisFromCsv(Uint8Array.of(0xff)), 'loadIris', 'iris.csv', /expected UTF-8 text/);
  });

  /** A fetch that serves `files` (path -> bytes) and 404s the rest. */
  const serve = (files: Record<string, Uint8Array>) => (async (u: URL | RequestInfo) => {
    const b = files[new URL(String(u)).pathname];
    return b ? new Response(b as Uint8Array<ArrayBuffer>) : new Response('no', { status: 404, statusText: 'Not Found' });
  }) as typeof fetch;

  it('fetchIris reads the CSV raw or gzipped (inflated in a stream) to the same tensors', async () => {
    const f = serve({ '/data/iris.csv': bytes, '/data/iris.csv.gz': gzipSync(bytes) });
    sameIris(await fetchIris('http://x/data/iris.csv', { fetch: f }), node);
    sameIris(await fetchIris(new URL('http://x/data/iris.csv.gz'), { fetch: f }), node);
  });

  it('fetchIris refuses a missing file, a body over maxBytes, a gzip bomb and broken gzip, naming the URL', async () => {
    const bomb = gzipSync(new Uint8Array(8 << 20));
    const f = serve({ '/iris.csv': bytes, '/bomb.gz': bomb, '/broken.gz': gzipSync(bytes).subarray(0, 100) });
    await assert.rejects(fetchIris('http://x/nope.csv', { fetch: f }), /^Error: loadIris: http:\/\/x\/nope\.csv: HTTP 404 Not Found; expected the Iris CSV/);
    await assert.rejects(fetchIris('http://x/iris.csv', { fetch: f, maxBytes: 1000 }), /^Error: loadIris: http:\/\/x\/iris\.csv: is more than 1000 bytes; expected at most 1000 \(maxBytes\)/);
    await assert.rejects(fetchIris('http://x/bomb.gz', { fetch: f }), /^Error: loadIris: http:\/\/x\/bomb\.gz: decompresses to more than 1048576 bytes/);
    await assert.rejects(fetchIris('http://x/broken.gz', { fetch: f }), /^Error: loadIris: http:\/\/x\/broken\.gz: starts with the gzip magic bytes 1f 8b but does not decompress/);
    await assert.rejects(fetchIris('http://x/iris.csv', { fetch: f, maxBytes: -1 }), /^RangeError: loadIris: maxBytes must be a non-negative integer, got -1/);
  });
});
