import '../helpers.js';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import * as d from '../../src/index.js';
import { DataLoader } from '../../src/data/index.js';
import { IdxFileDataset, NpyFileDataset, writeIdx, writeNpy } from '../../src/node/index.js';

const dir = mkdtempSync(join(tmpdir(), 'descent-stream-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const PIXELS = 784;
/** Pixel j of record i: the first three bytes spell i (little-end first), the rest (i + j) mod 256. */
const pixel = (i: number, j: number) => (j === 0 ? i & 255 : j === 1 ? (i >>> 8) & 255 : j === 2 ? (i >>> 16) & 255 : (i + j) & 255);

/** A raw IDX uint8 file of n 28x28 records, written in 4 MB chunks (never whole in memory). */
function writeBigIdx(path: string, n: number): void {
  const fd = openSync(path, 'w');
  const header = Buffer.alloc(16);
  header.set([0, 0, 0x08, 3]);
  header.writeInt32BE(n, 4); header.writeInt32BE(28, 8); header.writeInt32BE(28, 12);
  writeSync(fd, header);
  const perChunk = 5000;
  const chunk = Buffer.alloc(perChunk * PIXELS);
  for (let start = 0; start < n; start += perChunk) {
    const m = Math.min(perChunk, n - start);
    for (let r = 0; r < m; r++) {
      const i = start + r, o = r * PIXELS;
      chunk[o] = i & 255; chunk[o + 1] = (i >>> 8) & 255; chunk[o + 2] = (i >>> 16) & 255;
      for (let j = 3; j < PIXELS; j++) chunk[o + j] = (i + j) & 255;
    }
    writeSync(fd, chunk, 0, m * PIXELS);
  }
  closeSync(fd);
}

describe('IdxFileDataset', () => {
  it('gets single records and batches, scaled by 1/255, label files checked', () => {
    const n = 7;
    const img = new Uint8Array(n * PIXELS);
    for (let i = 0; i < n; i++) for (let j = 0; j < PIXELS; j++) img[i * PIXELS + j] = pixel(i, j);
    writeIdx(join(dir, 'small-images'), { shape: [n, 28, 28], data: img });
    writeIdx(join(dir, 'small-labels'), { shape: [n], data: Uint8Array.from({ length: n }, (_, i) => 9 - i) });
    const ds = new IdxFileDataset(join(dir, 'small-images'), join(dir, 'small-labels'));
    assert.equal(ds.length, 7);
    const [x, y] = ds.get(5);
    assert.deepEqual(x.shape, [784]);
    assert.deepEqual(y.shape, []);
    assert.equal(y.item(), 4); // 9 - 5
    assert.equal(x.data[3], Math.fround(((5 + 3) & 255) / 255)); // 8/255
    // Unsorted, repeated and consecutive indices all land in their own rows.
    const [bx, by] = ds.getBatch(Int32Array.of(6, 2, 3, 2, 0));
    assert.deepEqual(bx.shape, [5, 784]);
    assert.deepEqual(by.toArray(), [3, 7, 6, 7, 9]);
    assert.deepEqual([0, 1, 2, 3, 4].map((r) => Math.round(bx.data[r * PIXELS]! * 255)), [6, 2, 3, 2, 0]);
    const unflat = new IdxFileDataset(join(dir, 'small-images'), join(dir, 'small-labels'), { flatten: false, scale: 1 });
    assert.deepEqual(unflat.get(1)[0].shape, [28, 28]);
    assert.equal(unflat.get(1)[0].data[783], (1 + 783) & 255);
    ds.close();
    unflat.close();
    writeIdx(join(dir, 'few-labels'), { shape: [6], data: new Uint8Array(6) });
    assert.throws(() => new IdxFileDataset(join(dir, 'small-images'), join(dir, 'few-labels')), /holds 7 images but .*few-labels holds 6 labels/);
    writeIdx(join(dir, 'gz-images.gz'), { shape: [n, 28, 28], data: img });
    assert.throws(() => new IdxFileDataset(join(dir, 'gz-images.gz'), join(dir, 'small-labels')), /gz-images\.gz: is gzip-compressed; streaming reads need the raw IDX file/);
  });

  it('streams a 300 MB file through one shuffled epoch holding only a batch or two in memory', () => {
    const n = 382_000; // 382,000 x 784 bytes = 299.5 MB
    const images = join(dir, 'big-images-idx3-ubyte');
    const labels = join(dir, 'big-labels-idx1-ubyte');
    writeBigIdx(images, n);
    writeIdx(labels, { shape: [n], data: Uint8Array.from({ length: n }, (_, i) => i % 10) });
    const fileBytes = 16 + n * PIXELS;

    const ds = new IdxFileDataset(images, labels);
    const loader = new DataLoader(ds, { batchSize: 256, shuffle: true, generator: new d.Generator(1) });
    const seen = new Uint8Array(n);
    let lastPixelSum = 0;
    const rss0 = process.memoryUsage().rss;
    d.resetPeakMemory();
    const bytes0 = d.memory().bytes;
    let rssMax = rss0;
    let batches = 0;
    for (const [x, y] of loader) {
      const xd = x.data, yd = y.data;
      for (let r = 0; r < yd.length; r++) {
        const o = r * PIXELS;
        // Rebuild the record index from its first three pixels (each stored as byte / 255).
        const i = Math.round(xd[o]! * 255) + 256 * Math.round(xd[o + 1]! * 255) + 65536 * Math.round(xd[o + 2]! * 255);
        seen[i]!++;
        assert.equal(yd[r], i % 10);
        lastPixelSum += Math.round(xd[o + 783]! * 255);
      }
      if (++batches % 64 === 0) rssMax = Math.max(rssMax, process.memoryUsage().rss);
    }
    ds.close();
    rssMax = Math.max(rssMax, process.memoryUsage().rss);
    assert.equal(batches, Math.ceil(n / 256));
    assert.ok(seen.every((c) => c === 1), 'every record read exactly once');
    let expected = 0;
    for (let i = 0; i < n; i++) expected += (i + 783) & 255;
    assert.equal(lastPixelSum, expected);
    const peakGrowth = d.memory().peakBytes - bytes0;
    const rssGrowth = rssMax - rss0;
    // One float32 batch is 256 * 784 * 4 = 0.8 MB; the loader holds at most two at a time.
    assert.ok(peakGrowth < fileBytes / 4, `tensor memory grew by ${peakGrowth} bytes for a ${fileBytes}-byte file`);
    assert.ok(peakGrowth <= 2 * (256 * 784 * 4 + 256 * 4) + 4096, `tensor memory grew by ${peakGrowth} bytes, more than two batches`);
    assert.ok(rssGrowth < fileBytes / 4, `RSS grew by ${rssGrowth} bytes for a ${fileBytes}-byte file`);
  });
});

describe('NpyFileDataset', () => {
  it('reads the requested rows of features and labels in their dtypes', () => {
    const x = d.reshape(d.arange(0, 24, 1, { dtype: 'float64' }), [6, 2, 2]);
    writeNpy(join(dir, 'x.npy'), x);
    writeNpy(join(dir, 'y.npy'), d.tensor([5, 4, 3, 2, 1, 0], { dtype: 'int32' }));
    const ds = new NpyFileDataset(join(dir, 'x.npy'), join(dir, 'y.npy'));
    assert.equal(ds.length, 6);
    const [a, b] = ds.get(2);
    assert.equal(a!.dtype, 'float64');
    assert.deepEqual(a!.toArray(), [[8, 9], [10, 11]]); // row 2 holds 4*2 .. 4*2+3
    assert.equal(b!.item(), 3);
    const [bx, by] = [...new DataLoader(ds, { batchSize: 4, retainBatches: true })][1]!;
    assert.deepEqual(bx!.shape, [2, 2, 2]);
    assert.deepEqual(by!.toArray(), [1, 0]);
    assert.equal(new NpyFileDataset(join(dir, 'x.npy')).get(0).length, 1);
    ds.close();
    writeNpy(join(dir, 'y5.npy'), d.tensor([1, 2, 3, 4, 5], { dtype: 'int32' }));
    assert.throws(() => new NpyFileDataset(join(dir, 'x.npy'), join(dir, 'y5.npy')), /x\.npy holds 6 examples but .*y5\.npy holds 5/);
  });
});
