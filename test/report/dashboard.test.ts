import assert from 'node:assert/strict';
import { appendFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import '../helpers.js';
import { startDashboard, writeTestPredictions } from '../../src/report/index.js';
import type { Dashboard } from '../../src/report/index.js';
import { launch, open, pageState, screenshot } from './browser.js';
import type { Browser } from './browser.js';
import { removeTempDirs, tempDir } from './fixtures.js';

let browser: Browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
  removeTempDirs();
});

const stepLine = (step: number, epoch = 1) =>
  JSON.stringify({
    type: 'step',
    time: new Date().toISOString(),
    epoch,
    step,
    loss: 2 / Math.sqrt(step),
    examples: 32,
    correct: Math.min(32, 8 + (step % 20)),
    lr: 0.1,
    gradNorm: 1 + 1 / step,
    batch: step,
    batches: 5000,
    examples_per_second: 3000,
  }) + '\n';

/** GET path with a chosen Host header; resolves to the status code. */
function get(port: number, path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('live dashboard', () => {
  let dash: Dashboard | undefined;
  after(async () => {
    await dash?.close();
  });

  it('listens on 127.0.0.1 only and answers only requests addressed to it', async () => {
    const dir = tempDir();
    dash = await startDashboard(dir, { port: 0 });
    assert.deepEqual({ address: dash.address.address, family: dash.address.family }, { address: '127.0.0.1', family: 'IPv4' });
    assert.ok(dash.port > 0);
    assert.equal(dash.url, `http://127.0.0.1:${dash.port}/`);
    assert.equal(await get(dash.port, '/', `127.0.0.1:${dash.port}`), 200);
    assert.equal(await get(dash.port, '/', `localhost:${dash.port}`), 200);
    assert.equal(await get(dash.port, '/', `attacker.example:${dash.port}`), 403, 'a rebinding page cannot read it');
    assert.equal(await get(dash.port, '/../config.json', `127.0.0.1:${dash.port}`), 404, 'no files beyond the page');
    // no other interface answers on that port
    const others = Object.values(networkInterfaces())
      .flat()
      .filter((a) => a && !a.internal)
      .map((a) => a!.address);
    for (const a of others) assert.equal(await canConnect(a, dash.port), false, `reachable on ${a}`);
    assert.equal(await canConnect('::1', dash.port), false, 'reachable on ::1');
    await dash.close();
    assert.equal(await canConnect('127.0.0.1', dash.port), false, 'the port is released by close()');
    dash = undefined;
  });

  it('follows a run logging every step, even while the main thread is busy training', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model: 'mlp:16', optimizer: 'sgd', lr: 0.1, epochs: 2 }));
    writeFileSync(join(dir, 'metrics.jsonl'), [1, 2, 3].map((s) => stepLine(s)).join(''));
    dash = await startDashboard(dir, { port: 0 });
    const { page, errors, requests } = await open(browser, dash.url);
    assert.deepEqual((await pageState(page)).charts.loss, { 'train loss (step)': 3, 'train loss (epoch)': 0, 'validation loss (epoch)': 0 });
    await page.waitForFunction(() => document.getElementById('live-status')?.textContent?.includes('connected'));
    // Like fit(): append a line per step synchronously, never yielding to the event loop, for
    // 1.5 s. The page must receive lines while this runs (the server has its own thread).
    await page.evaluate(() => {
      const w = window as unknown as { arrivals: number[]; __descent: { eventSource: EventSource } };
      w.arrivals = [];
      w.__descent.eventSource.addEventListener('records', () => w.arrivals.push(Date.now()));
    });
    let step = 3;
    const t0 = Date.now();
    while (Date.now() - t0 < 1500) {
      appendFileSync(join(dir, 'metrics.jsonl'), stepLine(++step));
      const until = performance.now() + 0.5;
      while (performance.now() < until); // half a millisecond of "training"
    }
    const t1 = Date.now();
    appendFileSync(
      join(dir, 'metrics.jsonl'),
      JSON.stringify({
        type: 'epoch',
        epoch: 1,
        step,
        train_loss: 0.5,
        train_accuracy: 0.8,
        val_loss: 0.6,
        val_accuracy: 0.75,
        lr: 0.1,
        seconds: 1.5,
        examples_per_second: 3000,
      }) + '\n',
    );
    assert.ok(step > 500, `only ${step} steps written`);
    await page.waitForFunction(
      (n) => (window as unknown as { __descent: { charts: { loss: Record<string, number> } } }).__descent.charts.loss['train loss (step)'] === n,
      step,
      { timeout: 5000 },
    );
    const arrivals = await page.evaluate(() => (window as unknown as { arrivals: number[] }).arrivals);
    assert.ok(arrivals.filter((t) => t > t0 && t < t1).length >= 3, `updates during the busy second and a half: ${arrivals.map((t) => t - t0)}`);
    await page.waitForFunction(
      () => (window as unknown as { __descent: { charts: { loss: Record<string, number> } } }).__descent.charts.loss['validation loss (epoch)'] === 1,
    );
    const s = await pageState(page);
    assert.deepEqual(s.charts.loss, { 'train loss (step)': step, 'train loss (epoch)': 1, 'validation loss (epoch)': 1 });
    assert.equal(s.received, step - 3 + 1);
    assert.equal(await page.locator('#run-status').textContent(), 'live');
    // training ends: the summary and predictions appear on the open page
    writeTestPredictions(dir, { classes: ['a', 'b'], labels: [0, 1, 1, 0, 1], predictions: [0, 1, 0, 0, 1] });
    writeFileSync(
      join(dir, 'summary.json'),
      JSON.stringify({ test_accuracy: 0.8, test_loss: 0.6, train_loss: 0.5, examples_per_second: 3000, epochs: 1, seconds: 1.5 }),
    );
    await page.waitForFunction(() => (window as unknown as { __descent: { confusionTotal: number | null } }).__descent.confusionTotal === 5);
    await page.waitForFunction(() => document.getElementById('run-status')?.textContent === 'finished');
    await screenshot(page, 'dashboard.png');
    assert.deepEqual(errors, []);
    assert.deepEqual(
      requests.filter((u) => !u.startsWith(dash!.url) && !u.startsWith('data:')),
      [],
    );
    // a closed browser leaves the server serving; a new page starts from everything so far
    await page.close();
    assert.equal(await get(dash.port, '/', `127.0.0.1:${dash.port}`), 200);
    const again = await open(browser, dash.url);
    assert.deepEqual((await pageState(again.page)).charts.loss, { 'train loss (step)': step, 'train loss (epoch)': 1, 'validation loss (epoch)': 1 });
    // stopping the dashboard tells open pages, which stop reconnecting and keep what they show
    await dash.close();
    dash = undefined;
    await again.page.waitForFunction(() => document.getElementById('live-status')?.textContent?.includes('stopped'));
    await new Promise((r) => setTimeout(r, 1500)); // longer than the EventSource retry delay
    // the page closing its own event stream on 'end' may show as an aborted request; nothing else
    assert.deepEqual(
      again.errors.filter((e) => !/\/events\?.*net::ERR_ABORTED/.test(e)),
      [],
    );
    await again.page.close();
  });
});
