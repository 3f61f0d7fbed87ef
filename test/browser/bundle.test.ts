/**
 * The package root in a browser (issue 14's first step): `import * as d from 'descent'` bundles
 * for the browser with esbuild and no configuration (no node:* import reachable, no stubs), stays
 * small, and in a real headless Chromium trains a model with fit() that yields to the page while
 * it trains, and saves and loads weights as safetensors bytes in memory.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import { launch } from '../report/browser.js';
import type { Browser } from '../report/browser.js';

const ROOT = join(import.meta.dirname, '..', '..');

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
out.sameWeights = copy.parameters().every((p, i) => p.dataSync().every((v, j) => v === model.parameters()[i].dataSync()[j]));
out.bytes = bytes.length;
out.backend = d.getBackend().name;
window.__result = out;
`;

let bundle = '';
let externals: string[] = [];
let browser: Browser;
let url = '';
const server = createServer((req, res) => {
  if (req.url === '/descent.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
  else if (req.url === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(PAGE_SCRIPT);
  else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>descent</title><script type="module" src="/page.js"></script>');
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
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server.close();
});

describe('descent in a browser', () => {
  it('bundles for the browser with no configuration, under 400 kB minified', () => {
    assert.ok(bundle.length > 10_000 && bundle.length < 400_000, `${bundle.length} bytes`);
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
});
