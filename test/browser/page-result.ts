/**
 * What a test page publishes: open `url` in a new tab, wait until its script sets
 * window.__result (or window.__error), and fail on any page error or console error. Returns the
 * result and the page's other console lines. Shared by the Chromium tests (this folder's, and
 * test/webgpu's, which launches its own Chromium with WebGPU on).
 */
import assert from 'node:assert/strict';
import type { BrowserContext } from 'playwright-core';

export async function pageResult(browser: { context: BrowserContext }, url: string): Promise<{ r: Record<string, unknown>; console: string[] }> {
  const page = await browser.context.newPage();
  const logs: string[] = [],
    errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => (m.type() === 'error' ? errors : logs).push(m.text()));
  await page.goto(url);
  await page.waitForFunction(
    () => {
      const w = window as unknown as { __result?: unknown; __error?: unknown };
      return w.__result !== undefined || w.__error !== undefined;
    },
    undefined,
    { timeout: 120_000 },
  );
  const out = await page.evaluate(() => {
    const w = window as unknown as { __result?: Record<string, unknown>; __error?: string };
    return { result: w.__result, error: w.__error };
  });
  await page.close();
  assert.equal(out.error, undefined, String(out.error));
  assert.deepEqual(errors, []);
  return { r: out.result!, console: logs };
}
