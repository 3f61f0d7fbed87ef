/**
 * `npm run example:browser`: bundles examples/browser/main.ts with esbuild (the page imports
 * 'descent' by name, resolved here to this checkout's sources) and serves the page, its module and
 * the built-in Fashion-MNIST subset on 127.0.0.1, cross-origin isolated (COOP + COEP headers), so
 * the page's wasm backend runs on every core.
 *
 *   npm run example:browser                 http://127.0.0.1:8080/
 *   npm run example:browser -- --port 9000
 */
import { readFileSync, realpathSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = join(import.meta.dirname, '..');
const EXAMPLE = join(ROOT, 'examples', 'browser');
const DATA = join(ROOT, 'data', 'fashion-mnist-subset');
/** The headers that make a page cross-origin isolated, which lets it share memory with Web Workers. */
export const ISOLATION_HEADERS = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

/** Bundle the example's module for the browser: no plugin, no stub; only 'descent' mapped to the sources. */
export async function bundleExample(): Promise<string> {
  const r = await build({
    entryPoints: [join(EXAMPLE, 'main.ts')],
    alias: { descent: join(ROOT, 'src', 'index.ts') },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: 'inline',
    write: false,
    logLevel: 'silent',
  });
  return r.outputFiles[0]!.text;
}

/** Serve the example on host:port (port 0: any free port); resolves once it listens. */
export async function serveExample(port = 8080, host = '127.0.0.1'): Promise<{ url: string; server: Server }> {
  const js = await bundleExample();
  const html = readFileSync(join(EXAMPLE, 'index.html'));
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const data = /^\/data\/fashion-mnist-subset\/([\w-]+\.gz)$/.exec(path);
    if (path === '/' || path === '/index.html') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...ISOLATION_HEADERS }).end(html);
    else if (path === '/main.js') res.writeHead(200, { 'content-type': 'text/javascript', ...ISOLATION_HEADERS }).end(js);
    else if (data) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(join(DATA, data[1]!));
      } catch {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/gzip', ...ISOLATION_HEADERS }).end(bytes);
    } else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, ok);
  });
  const a = server.address() as AddressInfo;
  return { url: `http://${host}:${a.port}/`, server };
}

function parsePort(argv: string[]): number {
  const i = argv.indexOf('--port');
  if (i < 0) return 8080;
  const v = argv[i + 1] ?? '';
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) {
    process.stderr.write(`example:browser: --port: expected a port number from 0 to 65535, got ${JSON.stringify(v)}\n`);
    process.exit(2);
  }
  return n;
}

if (realpathSync(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) {
  const port = parsePort(process.argv.slice(2));
  serveExample(port).then(
    ({ url }) => process.stdout.write(`Descent's browser example (cross-origin isolated: threads on): ${url}\nCtrl-C stops it.\n`),
    (e: NodeJS.ErrnoException) => {
      process.stderr.write(`example:browser: ${e.code === 'EADDRINUSE' ? `port ${port} is in use (try --port 0 or another number)` : e.message}\n`);
      process.exit(1);
    },
  );
}
