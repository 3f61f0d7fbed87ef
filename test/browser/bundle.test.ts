/**
 * The package root in a browser (issue 14's first step): `import * as d from 'descent'` bundles
 * for the browser with esbuild and no configuration (no node:* import reachable, no stubs), stays
 * small, and in a real headless Chromium trains a model with fit() that yields to the page while
 * it trains, and saves and loads weights as safetensors bytes in memory.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import { launch } from '../report/browser.js';
import type { Browser } from '../report/browser.js';
import * as d from '../../src/index.js';
import { trainBlobs } from './train-blobs.js';
import { responsive } from './ticker.js';
import { pageResult } from './page-result.js';
import { loadFashionMnist } from '../../src/node/index.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** A page that trains a small MLP and nothing else, importing from the package root. */
const TRAINING_APP = `import { mlp, fit, SGD, crossEntropy, tensor, DataLoader, TensorDataset } from './src/index.ts';
const model = mlp([4, 8, 3]);
const data = new TensorDataset(tensor([[1, 2, 3, 4]]), tensor([0], { dtype: 'int32' }));
fit({ model, epochs: 1, loss: crossEntropy, optimizer: new SGD(model.parameters(), { lr: 0.1 }), train: new DataLoader(data, { batchSize: 1 }) }).then(console.log);`;

/** The page's script: trains blobs with fit() while a timer counts, round-trips the weights. */
const PAGE_SCRIPT = `
import * as d from './descent.js';
const out = { ticks: 0 };
const timer = setInterval(() => out.ticks++, 5);
d.manualSeed(0);
const g = new d.Generator(1);
const n = 600;
const y = d.randint(0, 3, [n], { generator: g });
const centers = d.tensor([[2, 0, 0, 1], [0, 2, 0, -1], [0, 0, 2, 0]]);
const x = d.add(d.indexSelect(centers, 0, y), d.randn([n, 4], { generator: g, std: 0.7 }));
const ds = new d.TensorDataset(x, y);
const model = d.nn.mlp([4, 256, 256, 3]);
const r = await d.fit({
  model, epochs: 8, loss: (o, t) => d.crossEntropy(o, t),
  optimizer: new d.optim.Adam(model.parameters(), { lr: 3e-3 }),
  train: new d.DataLoader(ds, { batchSize: 16, shuffle: true }),
  validation: new d.DataLoader(ds, { batchSize: 200 }),
});
clearInterval(timer);
out.first = r.epochs[0].train_loss;
out.last = r.epochs.at(-1).val_loss;
out.accuracy = r.epochs.at(-1).val_accuracy;
out.seconds = r.seconds;
const bytes = d.encodeSafetensors(model.stateDict());
const copy = d.nn.mlp([4, 256, 256, 3]);
copy.loadStateDict(d.decodeSafetensors(bytes).tensors);
out.sameWeights = copy.parameters().every((p, i) => { const a = p.dataSync(), b = model.parameters()[i].dataSync(); return a.length === b.length && a.every((v, j) => v === b[j]); });
out.bytes = bytes.length;
out.backend = d.getBackend().name;
window.__result = out;
`;

let bundle = '';
let externals: string[] = [];
let browser: Browser;
let url = '';
/** Fashion-MNIST from the shipped files, fetched by the page as static assets. */
const FASHION_SCRIPT = `
import * as d from './descent.js';
const f = await d.fetchFashionMnist('/data/fashion-mnist-subset/');
const [x, y] = f.train.getBatch(Int32Array.from([0, 1, 2, 5999]));
window.__result = { train: f.train.length, test: f.test.length, sum: x.dataSync().reduce((a, b) => a + b, 0), labels: Array.from(y.dataSync()) };
`;

let threadsBundle = '';
// /iso/... is served cross-origin isolated (COOP + COEP), which is what lets a page use threads.
const server = createServer((req, res) => {
  const isolated = req.url?.startsWith('/iso/') ?? false;
  const headers = isolated ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {};
  const path = (req.url ?? '/').replace(/^\/iso/, '').replace(/\?.*$/, '');
  const js = { 'content-type': 'text/javascript', ...headers };
  if (path === '/descent.js') res.writeHead(200, js).end(bundle);
  else if (path === '/page.js') res.writeHead(200, js).end(PAGE_SCRIPT);
  else if (path === '/threads.js') res.writeHead(200, js).end(threadsBundle);
  else if (path === '/fashion.js') res.writeHead(200, js).end(FASHION_SCRIPT);
  else if (path === '/fashion.html')
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><script type="module" src="/fashion.js"></script>');
  else if (/^\/data\/fashion-mnist-subset\/[\w.-]+$/.test(path) && existsSync(join(ROOT, path))) res.writeHead(200).end(readFileSync(join(ROOT, path)));
  else if (path.startsWith('/data/')) res.writeHead(404).end();
  else if (path === '/threads.html')
    res
      .writeHead(200, { 'content-type': 'text/html', ...headers })
      .end('<!doctype html><title>threads</title><script type="module" src="threads.js"></script>');
  else
    res.writeHead(200, { 'content-type': 'text/html', ...headers }).end('<!doctype html><title>descent</title><script type="module" src="/page.js"></script>');
});

before(async () => {
  const r = await build({
    stdin: { contents: "export * from './src/index.ts';", resolveDir: ROOT, loader: 'ts' },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    minify: true,
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  assert.deepEqual(r.errors, []);
  bundle = r.outputFiles[0]!.text;
  externals = Object.values(r.metafile!.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path));
  const t = await build({
    entryPoints: [join(import.meta.dirname, 'page-entry.ts')],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    logLevel: 'silent',
  });
  threadsBundle = t.outputFiles[0]!.text;
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server.close();
});

describe('descent in a browser', () => {
  it('bundles for the browser with no configuration: everything under 450 kB minified, a training app under 200 kB', async () => {
    // Everything the root exports (the wasm and WebGPU backends, ONNX, the charts' uPlot...).
    assert.ok(bundle.length > 10_000 && bundle.length < 450_000, `${bundle.length} bytes`);
    // An app pays for what it imports: the package is free of side effects ("sideEffects": false),
    // so a bundler leaves out the charts (uPlot, 52 kB) and ONNX when the app does not use them.
    const app = await build({
      stdin: { contents: TRAINING_APP, resolveDir: ROOT, loader: 'ts' },
      bundle: true,
      platform: 'browser',
      format: 'esm',
      minify: true,
      write: false,
      logLevel: 'silent',
    });
    const size = app.outputFiles[0]!.text.length;
    assert.ok(size > 10_000 && size < 200_000, `a training app bundles to ${size} bytes`);
    assert.ok(
      bundle.includes('u-legend') && !app.outputFiles[0]!.text.includes('u-legend'),
      'the charts library (its u-legend class) is left out of an app that does not draw',
    );
    // No module outside the package's own sources was left for the page to import.
    assert.deepEqual(externals, [], 'no import left unresolved (such as node:*)');
  });

  it('trains with fit() in Chromium, yielding to the page, and round-trips its weights as safetensors bytes', async () => {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(url);
    await page.waitForFunction(() => (window as unknown as { __result?: unknown }).__result !== undefined, undefined, { timeout: 60_000 });
    const r = await page.evaluate(() => (window as unknown as { __result: Record<string, number | boolean | string> }).__result);
    assert.deepEqual(errors, []);
    assert.equal(r.backend, 'wasm');
    assert.ok((r.last as number) < (r.first as number) * 0.5 && (r.accuracy as number) > 0.85, JSON.stringify(r));
    // fit() gave the page its turn while it trained: the 5 ms timer ran during the run.
    assert.ok((r.ticks as number) >= 3, `timer ticks during ${r.seconds} s of training: ${r.ticks}`);
    assert.equal(r.sameWeights, true);
    await page.close();
  });

  const result = (path: string) => pageResult(browser, url.replace(/\/$/, '') + path);

  it('in a cross-origin isolated page trains on 2 threads (Web Workers), to the same weights as Node on 2 threads, bit for bit', async () => {
    const { r } = await result('/iso/threads.html?threads=2');
    assert.equal(r.isolated, true);
    assert.equal(r.threads, 2, 'the page runs the wasm backend on 2 threads');
    assert.equal(r.workers, 1, 'one Web Worker beside the page thread was started');
    const node = await trainBlobs(d, 2);
    assert.equal(node.threads, 2);
    assert.deepEqual(r.losses, node.losses);
    assert.ok(
      (r.weights as number[]).length === node.weights.length && (r.weights as number[]).every((v, i) => v === node.weights[i]),
      'the same weights as Node, bit for bit',
    );
    // The page stayed responsive while its thread and a worker trained (ticker.ts).
    const gaps = { maxGapMs: r.maxGapMs as number, measuredMs: r.measuredMs as number };
    console.log(`isolated page, 2 threads: the longest gap between 16 ms timer ticks, ${gaps.maxGapMs.toFixed(0)} ms in ${gaps.measuredMs.toFixed(0)} ms`);
    assert.equal(responsive(gaps), undefined);
  });

  it('in a page that is not isolated runs on one thread and says once why (a notice, not an error)', async () => {
    const { r, console: logs } = await result('/threads.html?threads=2');
    assert.equal(r.isolated, false);
    assert.equal(r.threads, 1);
    const notices = logs.filter((l) => /not cross-origin isolated/.test(l));
    assert.ok(
      notices.length >= 1 && notices.every((l) => /Cross-Origin-Opener-Policy: same-origin.*Cross-Origin-Embedder-Policy: require-corp/.test(l)),
      logs.join('\n'),
    );
  });

  it('loads the built-in Fashion-MNIST subset in a page from its files as static assets (gzip inflated in a stream), as Node reads them', async () => {
    const { r } = await result('/fashion.html');
    const f = loadFashionMnist();
    const [x, y] = f.train.getBatch!(Int32Array.from([0, 1, 2, 5999]));
    assert.deepEqual(r, { train: 6000, test: 1000, sum: Array.from(x!.dataSync()).reduce((a, b) => a + b, 0), labels: Array.from(y!.dataSync()) });
  });
});
