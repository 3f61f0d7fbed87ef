// The page's module for the thread test: trains with trainBlobs on the threads the page asks for.
import * as d from '../../src/index.js';
import { trainBlobs } from './train-blobs.js';
import { runtime } from '../../src/backend/wasm/runtime.js';

const w = window as unknown as { __result?: unknown; __error?: string; crossOriginIsolated: boolean };
const threads = Number(new URL(location.href).searchParams.get('threads') ?? '1');
trainBlobs(d, threads).then(
  // workers: how many Web Workers the pool started (they took tasks only if they started)
  (r) => (w.__result = { ...r, isolated: w.crossOriginIsolated, workers: runtime().pool.started }),
  (e: Error) => (w.__error = String(e?.stack ?? e)),
);
