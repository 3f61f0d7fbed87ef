/**
 * The dashboard's HTTP server: the run's page at /, and at /events a server-sent-event stream
 * that tails metrics.jsonl. It listens on 127.0.0.1 only and answers only requests addressed to
 * 127.0.0.1 or localhost (a page elsewhere cannot reach it through DNS rebinding). Each stream
 * keeps its own byte offset into metrics.jsonl, so a browser that disconnects and reconnects
 * (EventSource sends Last-Event-ID) misses nothing, and a closed browser costs training nothing.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runPageHtml } from './report.js';
import { metaSignature, readMetricsFrom, readRun, readRunMeta } from './run-data.js';

export const DASHBOARD_HOST = '127.0.0.1';
/** Event streams served at once; more get 503 (each costs a socket and a share of every poll). */
export const MAX_STREAMS = 32;
/** A page load within this long of the last rendering gets the same bytes. */
const PAGE_TTL_MS = 1000;

interface Client {
  res: ServerResponse;
  offset: number;
  metaSig: string;
  /** The socket's buffer is full: wait for 'drain' before sending more. */
  blocked: boolean;
}

export interface DashboardServer {
  server: Server;
  port: number;
  address: AddressInfo;
  close(): Promise<void>;
}

function send(c: Client, event: string, data: string, id?: number): void {
  const ok = c.res.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${data}\n\n`);
  if (!ok) {
    c.blocked = true;
    c.res.once('drain', () => {
      c.blocked = false;
    });
  }
}

/** Start serving runDir on 127.0.0.1:port (0: any free port); polls metrics.jsonl every pollMs. */
// lint-allow-long-function: the server's handlers share its state (clients, page cache, port) as closures; a class would only rename them
export function listenDashboard(runDir: string, port: number, pollMs = 100): Promise<DashboardServer> {
  const metricsPath = join(runDir, 'metrics.jsonl');
  const clients = new Set<Client>();
  let actualPort = port;

  // However many pages are open, each poll reads the new part of metrics.jsonl once per distinct
  // offset (open pages share one after they caught up) and the run's other files once, so that
  // serving costs training (on the other threads of the same machine) next to nothing.
  const tick = (): void => {
    if (clients.size === 0) return;
    const sig = metaSignature(runDir);
    const reads = new Map<number, ReturnType<typeof readMetricsFrom>>();
    let meta: string | undefined;
    for (const c of clients) {
      if (c.blocked) continue;
      let m = reads.get(c.offset);
      if (!m) reads.set(c.offset, (m = readMetricsFrom(metricsPath, c.offset)));
      if (m.truncated) {
        // metrics.jsonl was started again or cut back (a new run, or a resume): the page reloads.
        send(c, 'reset', '{}');
        c.offset = 0;
        continue;
      }
      if (m.offset !== c.offset) {
        c.offset = m.offset;
        send(c, 'records', JSON.stringify(m.records), m.offset);
      }
      if (sig !== c.metaSig) {
        c.metaSig = sig;
        if (meta === undefined) {
          const { metaSig: _s, ...rest } = readRunMeta(runDir);
          meta = JSON.stringify(rest);
        }
        send(c, 'meta', meta);
      }
    }
  };

  const events = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    if (clients.size >= MAX_STREAMS) {
      res
        .writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '5' })
        .end(`descent dashboard: ${MAX_STREAMS} pages are following this run already; close one\n`);
      return;
    }
    const lastId = Number(req.headers['last-event-id']);
    const fromQuery = Number(url.searchParams.get('offset'));
    const offset = Number.isInteger(lastId) && lastId >= 0 ? lastId : Number.isInteger(fromQuery) && fromQuery >= 0 ? fromQuery : 0;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-content-type-options': 'nosniff',
    });
    res.write('retry: 1000\n\n');
    const c: Client = { res, offset, metaSig: url.searchParams.get('meta') ?? '', blocked: false };
    clients.add(c);
    req.on('close', () => clients.delete(c));
    // The next poll (within pollMs) brings it up to date, together with every other page.
  };

  // The page is rendered at most once per PAGE_TTL_MS and only when the run changed; every load in
  // between gets the same bytes (its live stream catches up from the offset the page holds).
  let page: { sig: string; html: string; at: number } | undefined;
  const pageHtml = (): string => {
    const now = Date.now();
    if (page && now - page.at < PAGE_TTL_MS) return page.html;
    const sig = `${metaSignature(runDir)}|${existsSync(metricsPath) ? statSync(metricsPath).size : -1}`;
    if (page && page.sig === sig) {
      page.at = now;
      return page.html;
    }
    page = { sig, html: runPageHtml(readRun(runDir, undefined, { allowEmpty: true }), { live: { events: '/events' } }), at: now };
    return page.html;
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const host = req.headers.host ?? '';
    if (host !== `${DASHBOARD_HOST}:${actualPort}` && host !== `localhost:${actualPort}`) {
      res
        .writeHead(403, { 'content-type': 'text/plain; charset=utf-8' })
        .end(`descent dashboard: only requests to ${DASHBOARD_HOST}:${actualPort} are answered, not to ${JSON.stringify(host)}\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('descent dashboard: only GET and HEAD\n');
      return;
    }
    const url = new URL(req.url ?? '/', `http://${host}`);
    if (url.pathname === '/events') return events(req, res, url);
    if (url.pathname === '/' || url.pathname === '/index.html' || url.pathname === '/report.html') {
      let html: string;
      try {
        html = pageHtml();
      } catch (e) {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`descent dashboard: ${(e as Error).message}\n`);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' }).end(html);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('descent dashboard: not found (pages: /, /events)\n');
  };

  const server = createServer(handle);
  let timer: ReturnType<typeof setInterval> | undefined;
  const heartbeat = setInterval(() => {
    for (const c of clients) if (!c.blocked) c.res.write(': ping\n\n');
  }, 15000);
  const close = (): Promise<void> =>
    new Promise((resolveClose) => {
      clearInterval(timer);
      clearInterval(heartbeat);
      tick(); // the last lines written before close reach open pages
      for (const c of clients) {
        send(c, 'end', '{}'); // the page stops reconnecting and keeps what it shows
        c.res.end();
      }
      clients.clear();
      server.close(() => resolveClose());
      server.closeAllConnections();
    });
  return new Promise((resolveListen, reject) => {
    server.once('error', (e) => {
      clearInterval(heartbeat);
      reject(new Error(`startDashboard: cannot listen on ${DASHBOARD_HOST}:${port}: ${(e as Error).message}`));
    });
    server.listen(port, DASHBOARD_HOST, () => {
      const address = server.address() as AddressInfo;
      actualPort = address.port;
      timer = setInterval(tick, pollMs);
      resolveListen({ server, port: address.port, address, close });
    });
  });
}
