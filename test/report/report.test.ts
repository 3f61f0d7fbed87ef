import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import '../helpers.js';
import { writeReport } from '../../src/report/index.js';
import { launch, open, pageState, screenshot } from './browser.js';
import type { Browser } from './browser.js';
import { makeRun, removeTempDirs, tempDir } from './fixtures.js';
import type { RunFixture } from './fixtures.js';

let browser: Browser;
let run: RunFixture;
before(async () => {
  browser = await launch();
  run = await makeRun({ stats: true });
});
after(async () => {
  await browser?.close();
  removeTempDirs();
});

/** Sum of the confusion matrix's cells as the page shows them (without the total row and column). */
const confusionCells = (page: import('playwright-core').Page) =>
  page.evaluate(() => {
    const rows = Array.from(document.querySelectorAll('#confusion tr')).slice(1, -1);
    let sum = 0,
      diagonal = 0;
    rows.forEach((tr) =>
      Array.from(tr.querySelectorAll('td'))
        .slice(0, -1)
        .forEach((td) => {
          sum += Number(td.textContent);
          if (td.classList.contains('diag')) diagonal += Number(td.textContent);
        }),
    );
    return { sum, diagonal, rows: rows.length };
  });

describe('report.html of a trained run, in Chromium', () => {
  it('draws one point per logged line, the confusion matrix and misclassified images, offline, in light and dark', async () => {
    const path = writeReport(run.dir);
    assert.equal(path, join(run.dir, 'report.html'));
    for (const scheme of ['light', 'dark'] as const) {
      const { page, errors, requests } = await open(browser, `file://${path}`, scheme);
      const s = await pageState(page);
      // 1,200 examples in batches of 50 = 24 steps per epoch, 3 epochs, a step line every step
      assert.equal(run.stepLines, 72);
      assert.deepEqual(s.charts.loss, { 'train loss (step)': 72, 'train loss (epoch)': 3, 'validation loss (epoch)': 3 });
      assert.deepEqual(s.charts.accuracy, { 'train accuracy (step)': 72, 'train accuracy (epoch)': 3, 'validation accuracy (epoch)': 3 });
      assert.deepEqual(s.charts.lr, { 'learning rate (step)': 72 });
      assert.deepEqual(s.charts.throughput, { 'examples/s (step)': 72, 'examples/s (epoch)': 3 });
      assert.deepEqual(s.charts.gradnorm, { 'gradient norm': 72 });
      // a statistics line every second step: 36 lines, every estimate positive
      assert.deepEqual(s.charts.noise, { B_noise: 36, 'B_noise (EMA)': 36 });
      assert.deepEqual(s.charts.norms, { p90: 36, p75: 36, median: 36, p25: 36, p10: 36 });
      assert.deepEqual(Object.keys(s.charts.normhist!), ['epoch 1', 'epoch 2', 'epoch 3']);
      // every chart really holds a drawn canvas of the page's width share
      const canvases = await page.evaluate(() => Array.from(document.querySelectorAll('.chart canvas')).map((c) => (c as HTMLCanvasElement).width));
      assert.equal(canvases.length, 9);
      assert.ok(
        canvases.every((w) => w > 200),
        `canvas widths ${canvases}`,
      );
      // the confusion matrix holds every test example once; its diagonal the correct ones
      assert.equal(s.confusionTotal, run.testSize);
      assert.deepEqual(await confusionCells(page), { sum: 1000, diagonal: 1000 - run.misclassified, rows: 10 });
      assert.equal(s.misclassifiedShown, Math.min(48, run.misclassified));
      assert.equal(await page.locator('#misclassified figure').count(), Math.min(48, run.misclassified));
      assert.equal(await page.locator('#run-status').textContent(), 'finished');
      assert.deepEqual(errors, []);
      assert.deepEqual(
        requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:')),
        [],
        'the page loads nothing from the network',
      );
      const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      assert.equal(bg, scheme === 'dark' ? 'rgb(18, 19, 23)' : 'rgb(247, 247, 249)');
      await screenshot(page, `report-${scheme}.png`);
      await page.close();
    }
  });

  it('shows a run still in progress: no statistics, no predictions, a half-written last line', async () => {
    const dir = tempDir();
    const config = { model: 'mlp:8 </script><script>window.injected = 1</script>', optimizer: 'sgd', lr: 0.1, epochs: 4 };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    const lines = [1, 2, 3, 4, 5].map((step) =>
      JSON.stringify({ type: 'step', epoch: 1, step, loss: 2 / step, examples: 10, correct: step, lr: 0.1, gradNorm: 1, examples_per_second: 100 * step }),
    );
    lines.push('not json at all');
    lines.push(
      JSON.stringify({
        type: 'epoch',
        epoch: 1,
        step: 5,
        train_loss: 0.9,
        train_accuracy: 0.3,
        val_loss: 1.1,
        val_accuracy: 0.25,
        lr: 0.1,
        seconds: 1,
        examples_per_second: 50,
      }),
    );
    writeFileSync(join(dir, 'metrics.jsonl'), lines.join('\n') + '\n{"type":"step","epoch":2,"st');
    const { page, errors } = await open(browser, `file://${writeReport(dir)}`);
    const s = await pageState(page);
    assert.deepEqual(s.charts.loss, { 'train loss (step)': 5, 'train loss (epoch)': 1, 'validation loss (epoch)': 1 });
    // correct / examples per step: 1/10 ... 5/10
    assert.deepEqual(s.charts.accuracy, { 'train accuracy (step)': 5, 'train accuracy (epoch)': 1, 'validation accuracy (epoch)': 1 });
    assert.deepEqual(s.charts.noise, { B_noise: 0, 'B_noise (EMA)': 0 });
    assert.match((await page.locator('#chart-noise .empty').textContent()) ?? '', /not logged/);
    assert.equal(s.confusionTotal, null);
    assert.match((await page.locator('#predictions').textContent()) ?? '', /No test-predictions\.json/);
    assert.equal(await page.locator('#run-status').textContent(), 'in progress');
    assert.match((await page.locator('#run-header').textContent()) ?? '', /1 unreadable line skipped/);
    // the config's text is shown as text, never run as markup
    assert.match((await page.locator('#run-header').textContent()) ?? '', /mlp:8 <\/script><script>/);
    assert.equal(await page.evaluate(() => (window as unknown as { injected?: number }).injected), undefined);
    assert.ok(!readFileSync(join(dir, 'report.html'), 'utf8').includes('</script><script>window.injected'));
    assert.deepEqual(errors, []);
    await page.close();
  });
});
