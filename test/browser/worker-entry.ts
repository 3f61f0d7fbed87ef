// A module Web Worker's script for the worker test: trains blobs (train-blobs.ts) on the threads the
// page asks for, posting fit()'s progress to the page as it goes, then the result.
import * as d from '../../src/index.js';
import { trainBlobs } from './train-blobs.js';
import { runtime } from '../../src/backend/wasm/runtime.js';

self.onmessage = (e: MessageEvent<{ threads: number }>) => {
  trainBlobs(d, e.data.threads, [d.progressCallback((m) => postMessage(m))]).then(
    (r) => postMessage({ type: 'done', ...r, isolated: self.crossOriginIsolated, workers: runtime().pool.started }),
    (err: Error) => postMessage({ type: 'error', error: String(err?.stack ?? err) }),
  );
};
