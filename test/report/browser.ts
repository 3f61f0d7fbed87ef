/** A real headless Chromium (Debian's package) driven by playwright-core, for the report tests. */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';

export const CHROMIUM = process.env.DESCENT_CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots land here (git-ignored), named after what they show. */
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Launch Chromium with a fresh profile; fails loudly (never skips) when it is not installed. */
export async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}. The report tests open pages in a real headless Chromium: install Debian's package (apt-get install -y chromium; .ci/run does this when it is missing) or set DESCENT_CHROMIUM to a Chromium binary.`,
    );
  }
  const profile = mkdtempSync(join(tmpdir(), 'descent-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface OpenedPage {
  page: Page;
  /** Console errors, uncaught exceptions and failed requests seen so far. */
  errors: string[];
  /** Every URL the page requested. */
  requests: string[];
}

export async function open(b: Browser, url: string, colorScheme: 'light' | 'dark' = 'light'): Promise<OpenedPage> {
  const page = await b.context.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
  page.on('request', (r) => requests.push(r.url()));
  await page.emulateMedia({ colorScheme });
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { __descent?: { ready: boolean } }).__descent?.ready === true, undefined, { timeout: 10000 });
  return { page, errors, requests };
}

/** What the page's script published: points drawn per chart and series, the confusion total... */
export interface PageState {
  ready: boolean;
  charts: Record<string, Record<string, number>>;
  errors: string[];
  renders: number;
  confusionTotal: number | null;
  misclassifiedShown: number | null;
  received: number;
}

export function pageState(page: Page): Promise<PageState> {
  return page.evaluate(() => {
    const s = (window as unknown as { __descent: PageState }).__descent;
    return JSON.parse(JSON.stringify({ ...s, eventSource: undefined })) as PageState;
  });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, name);
  await page.screenshot({ path, fullPage: true });
  return path;
}
