/**
 * The benchmark MLP (784-512-256-10, batch 128, SGD with momentum) in a cross-origin isolated
 * page of Debian's headless Chromium (wasm on Web Workers) and in Node, in the same run: one
 * thread and all threads each. Rows carry `runtime` ('chromium' | 'node') and `threads`; the
 * chromium all-threads row gives its ratio to Node's all-threads rate and to its own one-thread
 * rate (issue 14's targets: >= 0.85x and >= 1.25x). Node's rows compared run the wasm GEMM, as the
 * page does; a 'native' Node row (the addon of issue 15, where built) is given beside them.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { build } from 'esbuild';
import { launch } from '../test/report/browser.js';
import { mlpRates } from './browser-page.js';
import { nativeGemmActive, useNativeGemm } from '../src/backend/wasm/native-gemm.js';

export interface BrowserRow {
  name: string;
  runtime: 'chromium' | 'node';
  backend: string;
  threads: number;
  examples_per_second: number;
  ratio_vs_node_all_threads?: number;
  ratio_vs_one_thread?: number;
}

export async function benchBrowser(o: { quick: boolean }): Promise<BrowserRow[]> {
  const budget = o.quick ? 0.5 : 2;
  const page = await build({
    entryPoints: [join(import.meta.dirname, 'browser-page.ts')],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  const js = page.outputFiles[0]!.text;
  const coi = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/bench.js')) res.writeHead(200, { 'content-type': 'text/javascript', ...coi }).end(js);
    else res.writeHead(200, { 'content-type': 'text/html', ...coi }).end('<!doctype html><script type="module" src="/bench.js"></script>');
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const browser = await launch();
  let chromium: { threads: number; examples_per_second: number }[];
  try {
    const tab = await browser.context.newPage();
    await tab.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/?budget=${budget}`);
    await tab.waitForFunction(
      () => (window as unknown as { __result?: unknown; __error?: unknown }).__result ?? (window as unknown as { __error?: unknown }).__error,
      undefined,
      { timeout: 300_000 },
    );
    const got = await tab.evaluate(() => {
      const w = window as unknown as { __result?: { threads: number; examples_per_second: number }[]; __error?: string };
      return { result: w.__result, error: w.__error };
    });
    if (got.error) throw new Error(`browser bench: ${got.error}`);
    chromium = got.result!;
  } finally {
    await browser.close();
    server.close();
  }
  // Node on the same kernels as the page (the wasm GEMM: threads against threads), then with the
  // native addon where it is built, for scale (a page cannot load it).
  useNativeGemm(false);
  let node: { threads: number; examples_per_second: number }[];
  try {
    node = await mlpRates(budget);
  } finally {
    useNativeGemm(true);
  }
  const native = nativeGemmActive() ? await mlpRates(budget) : [];
  const rows: BrowserRow[] = [];
  const nodeAll = node[node.length - 1]!.examples_per_second;
  for (const r of node) rows.push({ name: 'mlp_784_512_256_10_b128_runtime', runtime: 'node', backend: 'wasm', ...r });
  for (const r of native) rows.push({ name: 'mlp_784_512_256_10_b128_runtime', runtime: 'node', backend: 'native', ...r });
  for (const r of chromium) {
    const row: BrowserRow = { name: 'mlp_784_512_256_10_b128_runtime', runtime: 'chromium', backend: 'wasm', ...r };
    if (r.threads > 1) {
      row.ratio_vs_node_all_threads = Number((r.examples_per_second / nodeAll).toFixed(2));
      row.ratio_vs_one_thread = Number((r.examples_per_second / chromium[0]!.examples_per_second).toFixed(2));
    }
    rows.push(row);
  }
  return rows;
}
