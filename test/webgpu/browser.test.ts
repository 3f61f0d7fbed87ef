/**
 * The webgpu backend in a page: Descent bundled for the browser (esbuild, as a user's bundler
 * would), headless Chromium with WebGPU on SwiftShader (`--enable-unsafe-webgpu`), the backend
 * chosen with `await setBackendAsync('webgpu')` on `navigator.gpu`, and a small MLP trained by hand
 * for 20 steps: its losses match the same loop on the CPU in Node. Skips where Chromium is missing.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import type { BrowserContext } from 'playwright-core';
import { getBackend, setBackend } from '../../src/backend/index.js';
import * as d from '../../src/index.js';
import { pageResult } from '../browser/page-result.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CHROMIUM = process.env.DESCENT_CHROMIUM ?? '/usr/bin/chromium';
const STEPS = 20;

/** The training loop, as the page runs it and as Node runs it for reference (d: the package). */
const TRAIN = `
async function train(d) {
  d.manualSeed(0);
  const g = new d.Generator(5);
  const x = d.tensor(new Float32Array(64 * 8).map(() => g.nextFloat64() * 2 - 1), { shape: [64, 8] });
  const y = d.tensor(new Int32Array(64).map((_, i) => (i * 7) % 3));
  const model = d.nn.mlp([8, 16, 3]);
  const opt = new d.optim.SGD(model.parameters(), { lr: 0.2, momentum: 0.9 });
  const losses = [];
  for (let i = 0; i < ${STEPS}; i++) {
    const loss = d.scope(() => {
      const { value, grads } = d.valueAndGrad(() => d.crossEntropy(model.forward(x), y), model.parameters());
      opt.step(grads);
      return value;
    });
    losses.push(await loss.itemAsync());
  }
  return losses;
}`;

const PAGE = `
import * as d from './descent.js';
${TRAIN}
try {
  const b = await d.setBackendAsync('webgpu');
  window.__result = { backend: d.getBackend().name, adapter: b.adapter, losses: await train(d) };
} catch (e) {
  window.__error = String(e && e.stack || e);
}
`;

let bundle = '';
let context: BrowserContext | null = null;
let profile = '';
let url = '';
const server = createServer((req, res) => {
  const js = { 'content-type': 'text/javascript' };
  if (req.url === '/descent.js') res.writeHead(200, js).end(bundle);
  else if (req.url === '/page.js') res.writeHead(200, js).end(PAGE);
  else if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><script type="module" src="/page.js"></script>');
  else res.writeHead(204).end();
});

describe('webgpu in Chromium', () => {
  before(async () => {
    if (!existsSync(CHROMIUM)) return;
    const r = await build({
      stdin: { contents: "export * from './src/index.ts';", resolveDir: ROOT, loader: 'ts' },
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
    });
    bundle = r.outputFiles[0]!.text;
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`; // a secure context: navigator.gpu exists
    profile = mkdtempSync(join(tmpdir(), 'descent-webgpu-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--enable-unsafe-webgpu', // the one flag WebGPU needs in headless Chromium on Linux
        '--use-webgpu-adapter=swiftshader',
        '--enable-features=Vulkan',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  after(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    server.close();
  });

  it('trains an MLP on navigator.gpu, matching the same loop on the CPU (loss within 1e-3 relative)', async (t) => {
    if (!context) return t.skip(`Chromium not found at ${CHROMIUM} (set DESCENT_CHROMIUM)`);
    const r = (await pageResult({ context }, url)).r as { backend: string; adapter: string; losses: number[] };
    assert.equal(r.backend, 'webgpu');
    const prev = getBackend().name;
    setBackend(d.listBackends().includes('wasm') ? 'wasm' : 'js');
    try {
      const train = new Function('d', `${TRAIN}; return train(d);`) as (pkg: typeof d) => Promise<number[]>;
      const cpu = await train(d);
      for (let i = 0; i < STEPS; i++)
        assert.ok(Math.abs(r.losses[i]! - cpu[i]!) <= 1e-3 * Math.abs(cpu[i]!), `step ${i}: page ${r.losses[i]} vs Node ${cpu[i]} (${r.adapter})`);
      assert.ok(cpu[STEPS - 1]! < cpu[0]!, 'the loss falls');
    } finally {
      setBackend(prev);
    }
  });
});
