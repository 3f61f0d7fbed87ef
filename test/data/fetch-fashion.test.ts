/** fetchFashionMnist without a browser: a fake fetch serving the shipped files (raw or .gz), and refusals. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { fetchFashionMnist } from '../../src/data/index.js';
import { loadFashionMnist } from '../../src/node/index.js';

const DIR = join(import.meta.dirname, '..', '..', 'data', 'fashion-mnist-subset');
const NAMES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];

/** A fetch over a table of paths; anything else is a 404. Records what was asked. */
function fakeFetch(files: Record<string, Uint8Array>, asked: string[] = []): typeof fetch {
  return (async (url: URL | string) => {
    const path = new URL(String(url)).pathname;
    asked.push(path);
    const body = files[path];
    return body ? new Response(body as Uint8Array<ArrayBuffer>) : new Response('no', { status: 404, statusText: 'Not Found' });
  }) as typeof fetch;
}

const shipped = (name: string) => new Uint8Array(readFileSync(join(DIR, `${name}.gz`)));

describe('fetchFashionMnist', () => {
  it('reads the four files as .gz or, where there is none, raw, to the tensors Node reads from disk', async () => {
    const files: Record<string, Uint8Array> = {};
    NAMES.forEach((n, i) => (files[i % 2 ? `/d/${n}` : `/d/${n}.gz`] = i % 2 ? new Uint8Array(gunzipSync(shipped(n))) : shipped(n)));
    const asked: string[] = [];
    const f = await fetchFashionMnist('http://x/d', { fetch: fakeFetch(files, asked) });
    const node = loadFashionMnist();
    const [x, y] = f.test.getBatch!(Int32Array.from([0, 7, 999]));
    const [nx, ny] = node.test.getBatch!(Int32Array.from([0, 7, 999]));
    assert.deepEqual([f.train.length, f.test.length], [6000, 1000]);
    assert.deepEqual(Array.from(x!.dataSync()), Array.from(nx!.dataSync()));
    assert.deepEqual(Array.from(y!.dataSync()), Array.from(ny!.dataSync()));
    assert.ok(asked.includes('/d/train-labels-idx1-ubyte.gz') && asked.includes('/d/train-labels-idx1-ubyte'), 'the .gz first, then the raw name');
  });

  it('names the missing file, the size limit and a gzip bomb in one line', async () => {
    const all: Record<string, Uint8Array> = Object.fromEntries(NAMES.map((n) => [`/d/${n}.gz`, shipped(n)]));
    const missing = { ...all };
    delete missing['/d/t10k-labels-idx1-ubyte.gz'];
    await assert.rejects(fetchFashionMnist('http://x/d/', { fetch: fakeFetch(missing) }), /^Error: loadFashionMnist: http:\/\/x\/d\/t10k-labels-idx1-ubyte\(\.gz\): not found; expected the files/);
    // the limit sits between the largest real file (train images: 4,704,016 bytes) and the bomb,
    // so the bomb is the only file over it whichever download finishes first
    const bomb = { ...all, '/d/train-labels-idx1-ubyte.gz': new Uint8Array(gzipSync(new Uint8Array(5_000_000))) };
    await assert.rejects(
      fetchFashionMnist('http://x/d/', { fetch: fakeFetch(bomb), maxBytes: 4_900_000 }),
      /^Error: loadFashionMnist: http:\/\/x\/d\/train-labels-idx1-ubyte\.gz: decompresses to more than 4900000 bytes/,
    );
    const server: Record<string, Uint8Array> = { ...all };
    const broken = fakeFetch(server);
    const fail500: typeof fetch = (async (u: URL | string) => (String(u).includes('t10k-images') ? new Response('', { status: 500 }) : broken(u))) as typeof fetch;
    await assert.rejects(fetchFashionMnist('http://x/d/', { fetch: fail500 }), /HTTP 500/);
  });
});
