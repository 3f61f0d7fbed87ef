// The page's module for the thread test: trains with trainBlobs on the threads the page asks for.
import * as d from '../../src/index.js';
import { trainBlobs } from './train-blobs.js';

const w = window as unknown as { __result?: unknown; __error?: string; crossOriginIsolated: boolean };
const threads = Number(new URL(location.href).searchParams.get('threads') ?? '1');
trainBlobs(d, threads).then(
  (r) => (w.__result = { ...r, isolated: w.crossOriginIsolated }),
  (e: Error) => (w.__error = String(e?.stack ?? e)),
);
