import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import '../helpers.js';
import { writeComparePage, writeExplainPage } from '../../src/report/index.js';
import { launch, open, pageState, screenshot } from './browser.js';
import type { Browser } from './browser.js';
import { makeRun, removeTempDirs, tempDir } from './fixtures.js';

let browser: Browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
  removeTempDirs();
});

describe('compare page', () => {
  it('overlays the curves of two runs, one series per run', async () => {
    const root = tempDir();
    const { mkdirSync } = await import('node:fs');
    const a = join(root, 'adam-slow'),
      b = join(root, 'adam-fast');
    mkdirSync(a);
    mkdirSync(b);
    const ra = await makeRun({ dir: a, epochs: 2, lr: 1e-3, stats: true });
    const rb = await makeRun({ dir: b, epochs: 2, lr: 1e-2 });
    const out = writeComparePage([a, b], { out: join(root, 'compare.html') });
    const { page, errors } = await open(browser, `file://${out}`);
    const s = await pageState(page);
    // 2 epochs of 24 steps each per run
    assert.deepEqual(s.charts['val-loss'], { 'adam-slow': 2, 'adam-fast': 2 });
    assert.deepEqual(s.charts['val-accuracy'], { 'adam-slow': 2, 'adam-fast': 2 });
    assert.deepEqual(s.charts['train-loss-step'], { 'adam-slow': ra.stepLines, 'adam-fast': rb.stepLines });
    assert.equal(ra.stepLines, 48);
    assert.deepEqual(s.charts.noise, { 'adam-slow': 24, 'adam-fast': 0 });
    assert.equal(await page.locator('#runs tr').count(), 3);
    assert.deepEqual(errors, []);
    await screenshot(page, 'compare.png');
    await page.close();
  });
});

describe('explain page', () => {
  it('draws the variance sweep against tr Σ / B and the steps-examples trade-off', async () => {
    // tr Σ = 50, ‖G‖² = 0.5, so B_noise = 100. Measured variances scatter ±10% around tr Σ / B.
    const sweep = [8, 16, 32, 64, 128, 256, 512].map((b, i) => ({
      batch_size: b,
      measured_variance: (50 / b) * (1 + (i % 2 ? 0.1 : -0.1)),
      predicted_variance: 50 / b,
    }));
    const out = writeExplainPage(join(tempDir(), 'explain.html'), {
      sweep,
      trace_cov: 50,
      grad_norm_sq: 0.5,
      noise_scale: 100,
      dataset: 'Fashion-MNIST subset',
      model: 'mlp:256,128',
    });
    const { page, errors } = await open(browser, `file://${out}`);
    const s = await pageState(page);
    assert.deepEqual(s.charts.variance, { measured: 7, predicted: 7, 'tr Σ / B': 48 });
    assert.deepEqual(s.charts.tradeoff, { 'McCandlish relation': 121, 'sweep batch sizes': 7, 'B = B_noise': 1 });
    const text = await page.locator('#explain-text').textContent();
    assert.match(text ?? '', /\(S\/S_min − 1\)\(E\/E_min − 1\) = 1/);
    assert.match(text ?? '', /B_noise = tr Σ \/ ‖G‖² ≈ 100/);
    assert.equal(await page.locator('#sweep tr').count(), 8);
    assert.deepEqual(errors, []);
    await screenshot(page, 'explain.png');
    await page.close();
  });

  it('names the field that is wrong', () => {
    assert.throws(
      () =>
        writeExplainPage(join(tempDir(), 'x.html'), {
          sweep: [{ batch_size: 0, measured_variance: 1, predicted_variance: 1 }],
          trace_cov: 1,
          grad_norm_sq: 1,
          noise_scale: 1,
          dataset: '',
          model: '',
        }),
      /writeExplainPage: sweep\[0\]\.batch_size must be a positive integer, got 0/,
    );
  });
});
