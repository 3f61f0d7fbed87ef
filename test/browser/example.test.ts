/**
 * The browser example (examples/browser, served by `npm run example:browser`) in real Chromium:
 * the page is cross-origin isolated and trains on 2 threads, the default MLP learns from the
 * built-in subset in two epochs while the live charts draw, and "Download weights" hands over a
 * safetensors file that Node reads back.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { launch } from '../report/browser.js';
import type { Browser } from '../report/browser.js';
import { serveExample } from '../../scripts/serve-example.js';
import * as d from '../../src/index.js';

let browser: Browser;
let server: Server;
let url = '';

before(async () => {
  ({ url, server } = await serveExample(0));
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server?.close();
});

describe('examples/browser', () => {
  it('trains the default MLP in an isolated page on 2 threads with live curves, and downloads its weights', async () => {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text());
    });
    await page.goto(`${url}?epochs=2&autostart=1`);
    await page.waitForFunction(() => document.body.dataset.done === 'true', undefined, { timeout: 120_000 });
    assert.deepEqual(errors, []);
    assert.match(await page.locator('#env').innerText(), /cross-origin isolated: training uses 2 threads/);
    const text = await page.locator('#result').innerText();
    const accuracy = Number(await page.locator('#result').getAttribute('data-accuracy'));
    assert.match(text, /^Done: \d+\.\d\d% of the 1,000 test images right after 188 steps/);
    assert.ok(accuracy > 0.75, text);
    const points = await page.locator('#descent-chart-step-loss').getAttribute('data-points');
    assert.equal(points, String(2 * 188), 'every step drawn, raw and smoothed');
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#download').click()]);
    const path = await download.path();
    const file = d.decodeSafetensors(new Uint8Array(readFileSync(path)));
    assert.deepEqual(Object.keys(file.tensors).sort(), ['0.bias', '0.weight', '2.bias', '2.weight', '4.bias', '4.weight']);
    assert.deepEqual(file.tensors['0.weight']!.shape, [256, 784]);
    await page.close();
  });
});
