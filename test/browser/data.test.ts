/**
 * The data namespace in a real headless Chromium: a page bundles the package root with esbuild,
 * fetches the shipped data/iris.csv (raw and gzip) with d.data.fetchIris, and parses CSV and NPY
 * bytes it fetched with d.data.parseCsv and d.data.parseNpy; every tensor equals what Node reads
 * from the same bytes, element for element, and refused inputs give Node's messages word for word.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { launch } from '../report/browser.js';
import { pageResult } from './page-result.js';
import type { Browser } from '../report/browser.js';
import * as d from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import { dataDir, loadIris } from '../../src/node/index.js';
import { CSV_BAD_UTF8, CSV_OPTIONS, CSV_TEXT, NPY_BAD, NPY_OK } from '../data/parser-samples.js';

const ROOT = join(import.meta.dirname, '..', '..');
const iris = readFileSync(join(dataDir(), 'iris.csv'));
const npyOk = Object.entries(NPY_OK);
const npyBad = Object.entries(NPY_BAD);
const csvBad = Object.entries(CSV_BAD_UTF8);

/** Served bytes: path -> body. */
const FILES: Record<string, Uint8Array> = {
  '/data/iris.csv': iris,
  '/data/iris.csv.gz': gzipSync(iris),
  '/csv/sample.csv': new TextEncoder().encode(CSV_TEXT),
  ...Object.fromEntries(npyOk.map(([, b], i) => [`/npy/${i}.npy`, b])),
  ...Object.fromEntries(npyBad.map(([, [b]], i) => [`/npy/bad-${i}.npy`, b])),
  ...Object.fromEntries(csvBad.map(([, [b]], i) => [`/csv/bad-${i}.csv`, b])),
};

/** The page's script: everything it reads, as plain JSON for Node to compare. */
const PAGE_SCRIPT = `
import * as d from './descent.js';
const t = (x) => ({ dtype: x.dtype, shape: x.shape, data: Array.from(x.dataSync()) });
const bytes = async (p) => new Uint8Array(await (await fetch(p)).arrayBuffer());
const refused = (run) => { try { run(); return 'not refused'; } catch (e) { return e.message; } };
const iris = (r) => ({ tensors: r.dataset.tensors.map(t), classes: r.classes, columns: r.columns });
try {
  const out = { iris: iris(await d.data.fetchIris('/data/iris.csv')), irisGz: iris(await d.data.fetchIris('/data/iris.csv.gz')) };
  const csv = d.data.parseCsv(await bytes('/csv/sample.csv'), ${JSON.stringify(CSV_OPTIONS)}, 'sample.csv');
  out.csv = { features: t(csv.features), labels: t(csv.labels), classes: csv.classes, columns: csv.columns, header: csv.header };
  out.npy = [];
  for (let i = 0; i < ${npyOk.length}; i++) out.npy.push(t(d.data.parseNpy(await (await fetch('/npy/' + i + '.npy')).arrayBuffer(), 'x.npy')));
  out.npyBad = [];
  for (let i = 0; i < ${npyBad.length}; i++) { const b = await bytes('/npy/bad-' + i + '.npy'); out.npyBad.push(refused(() => d.data.parseNpy(b, 'x.npy'))); }
  out.csvBad = [];
  for (let i = 0; i < ${csvBad.length}; i++) { const b = await bytes('/csv/bad-' + i + '.csv'); out.csvBad.push(refused(() => d.data.parseCsv(b, {}, 'x.csv'))); }
  window.__result = out;
} catch (e) {
  window.__error = String(e && e.stack || e);
}
`;

let bundle = '';
let browser: Browser;
let url = '';
const server = createServer((req, res) => {
  const path = (req.url ?? '/').replace(/\?.*$/, '');
  const js = { 'content-type': 'text/javascript' };
  if (path === '/descent.js') res.writeHead(200, js).end(bundle);
  else if (path === '/data.js') res.writeHead(200, js).end(PAGE_SCRIPT);
  else if (Object.hasOwn(FILES, path)) res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(FILES[path]);
  else if (path === '/') res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><script type="module" src="/data.js"></script>');
  else if (path === '/favicon.ico') res.writeHead(204).end();
  else res.writeHead(404).end();
});

before(async () => {
  const r = await build({
    stdin: { contents: "export * from './src/index.ts';", resolveDir: ROOT, loader: 'ts' },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    logLevel: 'silent',
  });
  assert.deepEqual(r.errors, []);
  bundle = r.outputFiles[0]!.text;
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server.close();
});

type Plain = { dtype: string; shape: number[]; data: number[] };
const plain = (x: Tensor): Plain => ({ dtype: x.dtype, shape: [...x.shape], data: Array.from(x.data) });

describe('the data namespace in Chromium', () => {
  let r: Record<string, unknown>;
  before(async () => {
    r = (await pageResult(browser, url)).r;
  });

  it('fetchIris (raw and gzip) gives the tensors, classes and columns of loadIris in Node', () => {
    const node = loadIris();
    const expected = { tensors: node.dataset.tensors.map(plain), classes: node.classes, columns: node.columns };
    assert.deepEqual(r.iris, expected);
    assert.deepEqual(r.irisGz, expected);
  });

  it('parseCsv on fetched bytes equals Node', () => {
    const node = d.data.parseCsv(FILES['/csv/sample.csv']!, CSV_OPTIONS, 'sample.csv');
    assert.deepEqual(r.csv, { features: plain(node.features), labels: plain(node.labels!), classes: node.classes, columns: node.columns, header: node.header });
  });

  it('parseNpy on fetched bytes equals Node for every dtype and layout', () => {
    assert.deepEqual(
      r.npy,
      npyOk.map(([, b]) => plain(d.data.parseNpy(b, 'x.npy'))),
    );
  });

  it('refuses bad NPY and bad UTF-8 with the messages Node gives', () => {
    const nodeMessage = (run: () => unknown): string => {
      try {
        run();
      } catch (e) {
        return (e as Error).message;
      }
      return 'not refused';
    };
    assert.deepEqual(
      r.npyBad,
      npyBad.map(([, [b]]) => nodeMessage(() => d.data.parseNpy(b, 'x.npy'))),
    );
    assert.deepEqual(
      r.csvBad,
      csvBad.map(([, [b]]) => nodeMessage(() => d.data.parseCsv(b, {}, 'x.csv'))),
    );
    (r.npyBad as string[]).forEach((m, i) => assert.match(m, npyBad[i]![1][1]));
    (r.csvBad as string[]).forEach((m, i) => assert.match(m, csvBad[i]![1][1]));
  });
});
