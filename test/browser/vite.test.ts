/**
 * The published package (dist/, as `npm ci` builds it) bundled by Vite with no configuration: a
 * page that does `import * as d from 'descent'` builds with no plugin, stub or alias, and the
 * built page runs in headless Chromium (no import map) and trains.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { build } from 'vite';
import type { Rollup } from 'vite';
import { launch } from '../report/browser.js';

const ROOT = join(import.meta.dirname, '..', '..');
const app = mkdtempSync(join(tmpdir(), 'descent-vite-'));
after(() => rmSync(app, { recursive: true, force: true }));

describe('descent bundled by Vite', () => {
  it('builds a page importing the package with no configuration, and the page trains in Chromium', async () => {
    // A user's app: the package installed in its node_modules, one HTML page, one module.
    mkdirSync(join(app, 'node_modules'));
    symlinkSync(ROOT, join(app, 'node_modules', 'descent'), 'dir');
    writeFileSync(join(app, 'index.html'), '<!doctype html><title>app</title><script type="module" src="/main.js"></script>');
    writeFileSync(
      join(app, 'main.js'),
      `import * as d from 'descent';
d.manualSeed(0);
const x = d.randn([64, 4]);
const y = d.randint(0, 3, [64]);
const model = d.nn.mlp([4, 16, 3]);
const r = await d.fit({ model, epochs: 20, loss: (o, t) => d.crossEntropy(o, t), optimizer: new d.optim.Adam(model.parameters(), { lr: 0.01 }), train: new d.DataLoader(new d.TensorDataset(x, y), { batchSize: 16 }) });
window.__result = { first: r.epochs[0].train_loss, last: r.epochs.at(-1).train_loss };
`,
    );
    const out = (await build({ root: app, logLevel: 'silent', configFile: false, build: { write: false, target: 'esnext' } })) as
      Rollup.RollupOutput | Rollup.RollupOutput[];
    const outputs = (Array.isArray(out) ? out : [out]).flatMap((o) => o.output);
    const files = new Map(outputs.map((o) => [`/${o.fileName}`, o.type === 'chunk' ? o.code : o.source]));
    const js = outputs.filter((o) => o.type === 'chunk').reduce((n, o) => n + (o as Rollup.OutputChunk).code.length, 0);
    assert.ok(files.has('/index.html') && js > 10_000 && js < 400_000, `built ${[...files.keys()].join(', ')}; ${js} bytes of JS`);
    for (const o of outputs)
      if (o.type === 'chunk')
        assert.deepEqual(
          o.imports.filter((i) => i.startsWith('node:')),
          [],
          `${o.fileName} imports nothing from node:*`,
        );

    const server = createServer((req, res) => {
      const path = req.url === '/' ? '/index.html' : (req.url ?? '/');
      const body = files.get(path);
      if (body === undefined) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': path.endsWith('.js') ? 'text/javascript' : 'text/html' }).end(body);
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const browser = await launch();
    try {
      const page = await browser.context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      await page.waitForFunction(() => (window as unknown as { __result?: unknown }).__result !== undefined, undefined, { timeout: 60_000 });
      const r = await page.evaluate(() => (window as unknown as { __result: { first: number; last: number } }).__result);
      assert.deepEqual(errors, []);
      assert.ok(r.last < r.first, JSON.stringify(r));
    } finally {
      await browser.close();
      server.close();
    }
  });
});
