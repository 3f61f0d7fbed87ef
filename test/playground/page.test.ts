/**
 * The playground in real Chromium (the built app, served as `descent playground` serves it):
 * two spirals learned with the page's defaults and seed 0 (>= 95% test accuracy, timed), the
 * boundary changing, every panel live, the mean of the per-example gradients equal to the batch
 * gradient in the page's own numbers, measured variances on the exact without-replacement curve,
 * the steps-against-examples race, divergence stopped with the last good weights kept, backprop
 * step by step, every control reachable by Tab, and no horizontal scrolling or overlapping panels
 * on a phone and a laptop. Screenshots go to test-artifacts/ (and docs/img/ with UPDATE_SCREENSHOTS=1).
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { bundlePlayground, servePlayground } from '../../src/cli/playground-cmd.js';
import type { PlaygroundState } from '../../playground/ui/state.js';
import { ARTIFACTS, launch, screenshot } from '../report/browser.js';
import type { Browser } from '../report/browser.js';

const DOCS = join(import.meta.dirname, '..', '..', 'docs', 'img');
let browser: Browser;
let server: Server;
let url = '';

before(async () => {
  ({ url, server } = await servePlayground(await bundlePlayground(), 0));
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server?.close();
});

async function open(query: string, size = { width: 1366, height: 768 }): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.context.newPage();
  await page.setViewportSize(size);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text());
  });
  await page.goto(`${url}${query}`);
  await page.waitForFunction(() => (window as unknown as { __playground?: { ready: boolean } }).__playground?.ready === true, undefined, { timeout: 10_000 });
  return { page, errors };
}

const state = (page: Page): Promise<PlaygroundState> =>
  page.evaluate(() => JSON.parse(JSON.stringify((window as unknown as { __playground: unknown }).__playground)) as PlaygroundState);

async function until(page: Page, test: (s: PlaygroundState) => boolean, timeout = 30_000): Promise<PlaygroundState> {
  const t0 = Date.now();
  for (;;) {
    const s = await state(page);
    if (test(s)) return s;
    if (Date.now() - t0 > timeout)
      throw new Error(`timed out; last state: step ${s.step}, ${JSON.stringify(s.evaluation)}, errors ${JSON.stringify(s.errors)}`);
    await page.waitForTimeout(100);
  }
}

/** A screenshot in test-artifacts/ (the whole page, or its top `height` pixels), copied to docs/img/ with UPDATE_SCREENSHOTS=1. */
async function saveScreenshot(page: Page, name: string, height?: number): Promise<void> {
  const path = height === undefined ? await screenshot(page, name) : join(ARTIFACTS, name);
  if (height !== undefined) {
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path, fullPage: true, clip: { x: 0, y: 0, width: page.viewportSize()!.width, height } });
  }
  if (process.env.UPDATE_SCREENSHOTS === '1') {
    mkdirSync(DOCS, { recursive: true });
    copyFileSync(path, join(DOCS, name));
  }
}

describe('the playground in Chromium', () => {
  it('learns two spirals with the defaults and seed 0 to >= 95% test accuracy in under 20 s, every panel live', async () => {
    const { page, errors } = await open('?dataset=spirals&seed=0');
    const start = await until(page, (s) => s.boundary.length === 3600);
    assert.equal(start.step, 0);
    assert.deepEqual([start.config.hidden, start.config.optimizer, start.config.batchSize], [[32, 32], 'adam', 32]);
    await page.getByRole('button', { name: 'Play' }).click();
    // Waited for inside the page (polling from here would take time from the training it measures).
    const reached = await page.waitForFunction(
      () => {
        const e = (window as unknown as { __playground: PlaygroundState }).__playground.evaluation;
        return (e.testAccuracy ?? 0) >= 0.95 ? e : null;
      },
      undefined,
      { polling: 200, timeout: 30_000 },
    );
    const done = { evaluation: (await reached.jsonValue()) as PlaygroundState['evaluation'] };
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByRole('button', { name: 'Race the batch sizes' }).click();
    const s = await until(
      page,
      (x) =>
        !x.running &&
        x.boundary.length === 3600 &&
        x.landscape?.step === x.step &&
        x.noise.live?.step === x.step &&
        x.analysis!.step > 1 &&
        x.tradeoff !== null,
    );
    // eslint-disable-next-line no-console
    console.log(
      `# spirals: ${(done.evaluation.testAccuracy! * 100).toFixed(1)}% test accuracy after ${done.evaluation.seconds.toFixed(1)} s of training (${done.evaluation.step} steps)`,
    );
    assert.ok(done.evaluation.seconds < 20, `${done.evaluation.seconds} s`);
    assert.ok(s.evaluation.testAccuracy! > start.evaluation.testAccuracy! + 0.3, 'accuracy rose');
    const changed = s.boundary.filter((v, i) => v !== start.boundary[i]).length;
    assert.ok(changed > 360, `the boundary moved: ${changed} of 3600 cells changed class`);
    // the current mini-batch is highlighted: 32 distinct examples, or the epoch's shorter last batch
    // (where the pause lands depends on the machine's speed)
    assert.ok(
      s.batch.length > 0 && s.batch.length <= 32 && new Set(s.batch).size === s.batch.length,
      `the current mini-batch is highlighted: ${s.batch.length} examples`,
    );
    assert.ok(s.drawn.lossCurve > 10 && s.drawn.variance > 10, JSON.stringify(s.drawn));
    assert.ok(s.landscape!.finite === 17 * 17);
    assert.ok(s.tradeoff && 'points' in s.tradeoff && s.tradeoff.points.length >= 2, JSON.stringify(s.tradeoff));
    assert.ok(s.noise.live!.step > 0 && s.noise.live!.pool.noiseScale > 0);
    assert.ok(
      s.analysis!.losses.every((l) => l >= 0),
      'per-example losses are never negative',
    );
    await page.getByRole('button', { name: /Show the numbers/ }).click();
    const rel = Number(await page.locator('#proof [data-relative-difference]').getAttribute('data-relative-difference'));
    assert.ok(rel <= 1e-5, `mean of per-example gradients vs batch gradient: ${rel}`);
    assert.ok(Math.abs(s.analysis!.meanOfLosses - s.analysis!.batchLoss) <= 1e-12 * s.analysis!.batchLoss);
    assert.ok((await page.locator('#proof tbody tr').count()) >= 10);
    for (let i = 0; i < 8; i++) await page.getByRole('button', { name: 'Next operation' }).click();
    await saveScreenshot(page, 'playground.png');
    assert.deepEqual([...errors, ...s.errors], []);
    await page.close();
  });

  it('measures the variance against the batch size from >= 400 batches per size: on the exact curve within 15%', async () => {
    const { page, errors } = await open('?dataset=spirals&seed=0');
    await page.getByRole('button', { name: 'One step' }).click();
    await until(page, (s) => s.step === 1);
    await page.getByRole('button', { name: 'Measure the variance' }).click();
    const s = await until(page, (x) => x.noise.measured?.done === true, 40_000);
    const m = s.noise.measured!;
    assert.equal(m.step, 1);
    assert.deepEqual(
      m.points.map((p) => p.B),
      [1, 2, 4, 8, 16, 32, 64, 125],
    );
    for (const p of m.points) {
      assert.ok(p.batches >= 400, `B=${p.B}: ${p.batches} batches`);
      assert.ok(Math.abs(p.measured / p.exact - 1) <= 0.15, `B=${p.B}: measured ${p.measured}, exact ${p.exact}`);
      assert.ok(p.autodiffDifference < 1e-12, `B=${p.B}: batch gradient vs autodiff ${p.autodiffDifference}`);
    }
    const half = m.points.at(-1)!;
    assert.ok(half.withReplacement / half.exact > 1.9, 'plain 1/B is off by 2x at B = N/2');
    // eslint-disable-next-line no-console
    console.log(`# variance vs B: ${m.points.map((p) => `B=${p.B} ${(p.measured / p.exact).toFixed(3)}`).join(', ')} (${m.seconds.toFixed(1)} s)`);
    assert.match(await page.locator('#noise-caption').innerText(), /noise scale/);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('races the batch sizes to a target loss, and a learning rate far too large diverges and keeps the last good weights', async () => {
    const { page, errors } = await open('?dataset=circles&seed=0');
    await page.getByRole('button', { name: 'Race the batch sizes' }).click();
    const s = await until(page, (x) => x.tradeoff !== null, 30_000);
    assert.ok(s.tradeoff && 'points' in s.tradeoff && s.tradeoff.points.length >= 4, JSON.stringify(s.tradeoff));
    assert.ok(s.drawn.tradeoff >= 4);
    const small = s.tradeoff.points[0]!,
      large = s.tradeoff.points.at(-1)!;
    assert.ok(small.steps > large.steps && small.examples < large.examples, 'small batches: more steps, fewer examples');
    await page.goto(`${url}?dataset=regression&activation=relu&optimizer=sgd&lr=30&seed=0&autoplay=1`);
    const d = await until(page, (x) => x.diverged !== null, 20_000);
    assert.match(d.diverged!, /kept the last good weights/);
    assert.ok(Number.isFinite(d.evaluation.trainLoss), 'the kept weights give a finite loss');
    assert.match(await page.locator('#status').innerText(), /^Diverged/);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it("walks backprop step by step on explain's network, each example's gradient flowing, then the update", async () => {
    const { page } = await open('');
    await page.locator('#bp-batch').selectOption('3');
    const next = page.getByRole('button', { name: 'Next operation' });
    await next.click();
    assert.equal(await page.locator('.bp-steps li.current').getAttribute('data-step'), '1');
    for (let i = 0; i < 4; i++) await next.click();
    assert.equal(await page.locator('.bp-steps li.current .chip').first().innerText(), await page.locator('.bp-steps li.current .chip').first().innerText());
    assert.equal(await page.locator('.bp-steps li.current .chips').first().locator('.chip').count(), 3, 'one gradient per example');
    for (let i = 0; i < 10; i++) await next.click();
    const s = await state(page);
    assert.deepEqual(s.backprop, { batch: 3, at: 15, steps: 15 });
    assert.match(await page.locator('#bp-update').innerText(), /The update with learning rate 0.1/);
    assert.match(await page.locator('.bp-steps li.current').innerText(), /shares add up/);
    await page.getByRole('button', { name: 'Previous operation' }).click();
    assert.equal((await state(page)).backprop.at, 14);
    await page.close();
  });

  it('every control is reachable with Tab and works from the keyboard', async () => {
    const { page } = await open('?dataset=xor');
    const controls = await page.$$eval('main input, main select, main button', (els) =>
      els
        .filter((e) => !(e as HTMLButtonElement).disabled && !(e as HTMLElement).hidden && (e as HTMLElement).offsetParent !== null)
        .map((e) => e.id || (e as HTMLInputElement).name),
    );
    const reached = new Set<string>();
    for (let i = 0; i < controls.length + 10; i++) {
      await page.keyboard.press('Tab');
      reached.add(await page.evaluate(() => (document.activeElement as HTMLInputElement).id || (document.activeElement as HTMLInputElement).name));
    }
    assert.deepEqual(
      controls.filter((c) => !reached.has(c)),
      [],
    );
    await page.locator('[name=seed]').focus();
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('ArrowRight');
    assert.equal((await state(page)).config.batchSize, 32, 'the batch-size slider moves with the arrow keys');
    await page.locator('#play').focus();
    await page.keyboard.press('Enter');
    await until(page, (s) => s.step > 20);
    await page.keyboard.press(' ');
    await until(page, (s) => !s.running);
    await page.close();
  });

  for (const size of [
    { width: 375, height: 667 },
    { width: 1366, height: 768 },
  ])
    it(`lays out at ${size.width}x${size.height} without horizontal scrolling or overlapping panels`, async () => {
      const { page } = await open('?dataset=spirals&seed=0', size);
      await page.getByRole('button', { name: 'One step' }).click();
      await until(page, (s) => s.step === 1 && s.analysis !== null);
      const layout = await page.evaluate(() => {
        const boxes = Array.from(document.querySelectorAll('.panel')).map((p) => p.getBoundingClientRect());
        const overlaps: string[] = [];
        boxes.forEach((a, i) =>
          boxes.slice(i + 1).forEach((b, j) => {
            if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) overlaps.push(`${i} and ${i + j + 1}`);
          }),
        );
        const wide = Array.from(document.querySelectorAll('body *'))
          .filter((e) => e.getBoundingClientRect().right > innerWidth + 1 && !e.closest('.scroll'))
          .map((e) => e.tagName + '#' + e.id);
        return { scroll: document.documentElement.scrollWidth, width: innerWidth, overlaps, wide, panels: boxes.length };
      });
      assert.equal(layout.panels, 6);
      assert.ok(layout.scroll <= layout.width, `page ${layout.scroll} px wide in a ${layout.width} px window`);
      assert.deepEqual(layout.overlaps, []);
      assert.deepEqual(layout.wide, []);
      if (size.width < 400) await saveScreenshot(page, 'playground-phone.png', 1500);
      await page.close();
    });
});
