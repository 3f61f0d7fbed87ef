/**
 * ONNX export in a browser: the package root, bundled for the browser with esbuild (no node:*
 * import), exports a CNN with BatchNorm and a residual block to ONNX bytes in headless Chromium and
 * imports them back; ONNX Runtime (in Node) runs those very bytes with the page's outputs.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import * as ort from 'onnxruntime-node';
import { launch, type Browser } from '../report/browser.js';

const ROOT = join(import.meta.dirname, '..', '..');

const PAGE = `
import * as d from './src/index.ts';
const { nn } = d;
d.manualSeed(3);
const body = new nn.Sequential(new nn.Conv2d(4, 4, 3, { padding: 1, bias: false }), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.Conv2d(4, 4, 3, { padding: 1 }));
const model = new nn.Sequential(new nn.Conv2d(1, 4, 3, { padding: 1 }), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.Residual(body), new nn.MaxPool2d(2), new nn.Flatten(), new nn.Linear(64, 3));
d.noGrad(() => model.forward(d.randn([8, 1, 8, 8])));   // training mode: BatchNorm statistics move
model.eval();
const x = d.randn([3, 1, 8, 8]);
const bytes = d.exportOnnx(model, d.randn([1, 1, 8, 8]));
const back = d.importOnnx(bytes);
window.__result = { bytes: Array.from(bytes), x: Array.from(x.dataSync()), y: Array.from(model.forward(x).dataSync()), yBack: Array.from(back.forward(x).dataSync()) };
`;

let browser: Browser;
let bundle = '';
before(async () => {
  const r = await build({
    stdin: { contents: PAGE, resolveDir: ROOT, loader: 'ts' },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const externals = Object.values(r.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path));
  assert.deepEqual(externals, [], 'no import left for the page to resolve (such as node:*)');
  bundle = r.outputFiles[0]!.text;
  browser = await launch();
});
after(async () => browser?.close());

describe('exportOnnx in a browser', () => {
  it('Chromium exports and imports ONNX bytes; ONNX Runtime runs them with the page outputs', async () => {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto('about:blank');
    await page.addScriptTag({ content: bundle, type: 'module' });
    await page.waitForFunction(() => (window as unknown as { __result?: unknown }).__result !== undefined, undefined, { timeout: 60_000 });
    const r = await page.evaluate(() => (window as unknown as { __result: Record<string, number[]> }).__result);
    await page.close();
    assert.deepEqual(errors, []);
    const session = await ort.InferenceSession.create(Uint8Array.from(r.bytes!));
    const { output } = await session.run({ input: new ort.Tensor('float32', Float32Array.from(r.x!), [3, 1, 8, 8]) });
    const o = output!.data as Float32Array;
    r.y!.forEach((v, i) => {
      assert.ok(Math.abs(o[i]! - v) <= 1e-5 * (1 + Math.abs(v)), `output ${i}: ONNX Runtime ${o[i]} vs the page ${v}`);
      assert.ok(Math.abs(r.yBack![i]! - v) <= 1e-5 * (1 + Math.abs(v)), `output ${i}: imported ${r.yBack![i]} vs the page ${v}`);
    });
  });
});
