/**
 * Entry of the dashboard's worker thread. Training runs synchronously on the main thread for a
 * whole epoch at a time, so a server there would answer nothing until the epoch ends; in its own
 * thread it reads metrics.jsonl from disk and serves while the main thread trains.
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { listenDashboard } from './dashboard-server.js';

const { runDir, port, pollMs } = workerData as { runDir: string; port: number; pollMs?: number };
// Serving must never slow training: this thread runs at a lower priority than the training
// threads (on Linux a thread's nice value is its own; elsewhere this may lower the whole process,
// so it is only done where it is known to be per thread).
if (process.platform === 'linux') {
  try {
    setPriority(10);
  } catch {
    // not permitted here: serve at normal priority
  }
}
const port_ = parentPort!;
try {
  const d = await listenDashboard(runDir, port, pollMs);
  port_.on('message', (m: { type: string }) => {
    if (m.type !== 'close') return;
    void d.close().then(() => {
      port_.postMessage({ type: 'closed' });
      port_.close();
    });
  });
  port_.postMessage({ type: 'listening', port: d.port, address: d.address });
} catch (e) {
  port_.postMessage({ type: 'error', message: (e as Error).message });
  port_.close();
}
