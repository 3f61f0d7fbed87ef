/**
 * startDashboard(): serve a run's page on http://127.0.0.1:PORT/ and update it live as lines
 * are appended to metrics.jsonl. The server runs in a worker thread (see dashboard-worker.ts), so
 * it answers even while training blocks the main thread, and browsers come and go without
 * touching training.
 */
import { Worker } from 'node:worker_threads';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { DASHBOARD_HOST } from './dashboard-server.js';

export interface DashboardOptions {
  /** TCP port on 127.0.0.1 (default 0: any free port; the chosen one is in the result). */
  port?: number;
  /** How often metrics.jsonl is checked for new lines, in ms (default 100). */
  pollMs?: number;
}

export interface Dashboard {
  url: string;
  port: number;
  /** What the listening socket reports (server.address()): always 127.0.0.1. */
  address: AddressInfo;
  /** Stop serving (open pages keep what they show); resolves once the port is released. */
  close(): Promise<void>;
}

/** The worker's entry: its .ts source when running from src/ (under tsx), else the built .js. */
function workerSource(): { code: string } {
  const fromTs = import.meta.url.endsWith('.ts');
  const entry = new URL(`./dashboard-worker${fromTs ? '.ts' : '.js'}`, import.meta.url).href;
  // A worker does not inherit the parent's module hooks, so under tsx it registers them first.
  const code = fromTs
    ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`
    : `import(${JSON.stringify(entry)});`;
  return { code };
}

export function startDashboard(runDir: string, options: DashboardOptions = {}): Promise<Dashboard> {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    return Promise.reject(new RangeError(`startDashboard: port must be an integer in 0..65535, got ${port}`));
  const pollMs = options.pollMs ?? 100;
  if (!(pollMs > 0)) return Promise.reject(new RangeError(`startDashboard: pollMs must be positive, got ${pollMs}`));
  const worker = new Worker(workerSource().code, { eval: true, workerData: { runDir: resolve(runDir), port, pollMs } });
  return new Promise((resolveStart, reject) => {
    let closed: Promise<void> | undefined;
    const onExit = (code: number) => reject(new Error(`startDashboard: the server's worker thread stopped (exit code ${code}) before listening`));
    worker.once('error', reject);
    worker.once('exit', onExit);
    worker.on('message', (m: { type: string; port?: number; address?: AddressInfo; message?: string }) => {
      if (m.type === 'error') reject(new Error(m.message));
      if (m.type !== 'listening') return;
      worker.off('exit', onExit);
      const close = (): Promise<void> => {
        closed ??= new Promise<void>((done) => {
          worker.once('exit', () => done());
          worker.on('message', (x: { type: string }) => {
            if (x.type === 'closed') void worker.terminate();
          });
          worker.postMessage({ type: 'close' });
        });
        return closed;
      };
      resolveStart({ url: `http://${DASHBOARD_HOST}:${m.port}/`, port: m.port!, address: m.address!, close });
    });
  });
}
