import '../helpers.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import { DataLoader, TensorDataset } from '../../src/data/index.js';
import type { Dataset } from '../../src/data/index.js';

// Example i: x = [i, -i] float32, y = i int32, so a batch's y column names its examples.
function dataset(n: number): TensorDataset {
  const x = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) { x[2 * i] = i; x[2 * i + 1] = -i; }
  return new TensorDataset(d.tensor(x, { shape: [n, 2] }), d.arange(0, n));
}

/** The example ids of each batch of one epoch. */
function epoch(loader: DataLoader): number[][] {
  const out: number[][] = [];
  for (const [, y] of loader) out.push(Array.from(y!.data));
  return out;
}

/** The same dataset without getBatch, so the loader stacks get() results. */
function plain(ds: TensorDataset): Dataset {
  return { length: ds.length, get: (i) => ds.get(i) };
}

describe('DataLoader', () => {
  it('batches in order, stacking along axis 0, keeping the last partial batch', () => {
    const loader = new DataLoader(dataset(10), { batchSize: 4 });
    assert.equal(loader.length, 3); // ceil(10 / 4)
    const shapes: number[][][] = [];
    const ids: number[][] = [];
    for (const [x, y] of loader) {
      shapes.push([x!.shape.slice(), y!.shape.slice()]);
      ids.push(Array.from(y!.data));
      // x row j is [id, -id]
      assert.deepEqual(Array.from(x!.data).filter((_, k) => k % 2 === 0), Array.from(y!.data));
    }
    assert.deepEqual(shapes, [[[4, 2], [4]], [[4, 2], [4]], [[2, 2], [2]]]);
    assert.deepEqual(ids, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
  });

  it('dropLast drops the partial batch', () => {
    const loader = new DataLoader(dataset(10), { batchSize: 4, dropLast: true });
    assert.equal(loader.length, 2); // floor(10 / 4)
    assert.deepEqual(epoch(loader), [[0, 1, 2, 3], [4, 5, 6, 7]]);
    assert.equal(new DataLoader(dataset(8), { batchSize: 4, dropLast: true }).length, 2);
  });

  it('stacks get() results the same way when the dataset has no getBatch', () => {
    const ds = dataset(5);
    // Collected with a spread, so they must be retained (by default each batch is freed on the next).
    const batches = [...new DataLoader(plain(ds), { batchSize: 3, retainBatches: true })];
    assert.deepEqual(batches.map((b) => b.map((t) => t.shape)), [[[3, 2], [3]], [[2, 2], [2]]]);
    assert.deepEqual(batches[1]![0]!.toArray(), [[3, -3], [4, -4]]);
  });

  it('shuffle: every example once per epoch, a new order each epoch, the same orders for the same seed', () => {
    const run = () => {
      const loader = new DataLoader(dataset(23), { batchSize: 5, shuffle: true, generator: new d.Generator(7) });
      return [epoch(loader), epoch(loader), epoch(loader)];
    };
    const a = run();
    for (const e of a) {
      assert.deepEqual(e.map((b) => b.length), [5, 5, 5, 5, 3]);
      assert.deepEqual(e.flat().sort((p, q) => p - q), Array.from({ length: 23 }, (_, i) => i));
    }
    assert.notDeepEqual(a[0], a[1]);
    assert.notDeepEqual(a[1], a[2]);
    assert.notDeepEqual(a[0]!.flat(), Array.from({ length: 23 }, (_, i) => i));
    assert.deepEqual(run(), a);
  });

  it('the order of an epoch is the generator permutation drawn at its start', () => {
    const loader = new DataLoader(dataset(6), { batchSize: 6, shuffle: true, generator: new d.Generator(3) });
    const expected = Array.from(new d.Generator(3).permutation(6));
    assert.deepEqual(epoch(loader), [expected]);
  });

  it('setState between epochs continues with the same orders', () => {
    const g = new d.Generator(11);
    const loader = new DataLoader(dataset(17), { batchSize: 4, shuffle: true, generator: g });
    epoch(loader);
    const saved = JSON.parse(JSON.stringify(loader.getState()));
    assert.equal(saved.epoch, 1);
    const next = [epoch(loader), epoch(loader)];
    // A fresh run (different seed, so only the restored state can make it agree).
    const resumed = new DataLoader(dataset(17), { batchSize: 4, shuffle: true, generator: new d.Generator(999) });
    resumed.setState(saved);
    assert.deepEqual([epoch(resumed), epoch(resumed)], next);
    assert.equal(resumed.epoch, 3);
  });

  it('setState mid-epoch serves the rest of that epoch, then the same following epochs', () => {
    const loader = new DataLoader(dataset(17), { batchSize: 4, shuffle: true, generator: new d.Generator(5) });
    const first: number[][] = [];
    let saved: ReturnType<DataLoader['getState']> | null = null;
    for (const [, y] of loader) {
      first.push(Array.from(y!.data));
      if (first.length === 2) saved = JSON.parse(JSON.stringify(loader.getState()));
    }
    const following = epoch(loader);
    assert.equal(saved!.batch, 2);
    const resumed = new DataLoader(dataset(17), { batchSize: 4, shuffle: true, generator: new d.Generator(0) });
    resumed.setState(saved!);
    assert.deepEqual(epoch(resumed), first.slice(2));
    assert.deepEqual(epoch(resumed), following);
  });

  it('validates batchSize', () => {
    assert.throws(() => new DataLoader(dataset(3), { batchSize: 0 }), /batchSize must be a positive integer, got 0/);
    assert.throws(() => new DataLoader(dataset(3), { batchSize: 2.5 }), /batchSize must be a positive integer, got 2.5/);
  });

  it('frees each batch when the next is requested, unless retainBatches', () => {
    const ds = dataset(8);
    const seen: Tensor[] = [];
    for (const [x] of new DataLoader(ds, { batchSize: 2 })) seen.push(x!);
    assert.ok(seen.every((t) => t.isDisposed));
    assert.ok(!ds.tensors[0]!.isDisposed); // the dataset's own tensors are untouched
    const kept: Tensor[] = [];
    for (const [x] of new DataLoader(ds, { batchSize: 2, retainBatches: true })) kept.push(x!);
    assert.ok(kept.every((t) => !t.isDisposed));
    assert.deepEqual(kept[3]!.toArray(), [[6, -6], [7, -7]]);
  });

  it('async iteration gives the same batches and awaits async datasets', async () => {
    const ds = dataset(7);
    const sync = epoch(new DataLoader(ds, { batchSize: 3, shuffle: true, generator: new d.Generator(2) }));
    const asyncIds: number[][] = [];
    const slow = { length: 7, get: async (i: number) => ds.get(i) };
    for await (const [, y] of new DataLoader(slow, { batchSize: 3, shuffle: true, generator: new d.Generator(2) })) asyncIds.push(Array.from(y!.data));
    assert.deepEqual(asyncIds, sync);
    assert.throws(() => [...new DataLoader(slow, { batchSize: 3 })], /for await/);
  });
});
