/**
 * `descent train --stream`: the training images of an IDX folder read from disk batch by batch.
 * The same weights as loading the folder (bit for bit), the checks of the loaded path, one-line
 * errors for data it cannot stream, and, with a DataLoader shard, each rank reading only the
 * records of its own batches (counted at the file reads themselves).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs, { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import '../helpers.js';
import { assertRejected, cliInProcess as cli, lcgBytes as bytes } from './helpers.js';
import { loadData } from '../../src/cli/data.js';
import { checkTrainingMemory } from '../../src/cli/memory.js';
import { Generator } from '../../src/core/random.js';
import type { Tensor } from '../../src/core/tensor.js';
import { DataLoader } from '../../src/data/loader.js';
import { IdxFileDataset } from '../../src/data/streaming.js';
import { writeIdx } from '../../src/data/readers/idx.js';

const base = mkdtempSync(join(tmpdir(), 'descent-stream-'));
after(() => rmSync(base, { recursive: true, force: true }));

/** An IDX folder of 28x28 uint8 images, labels 0..3: `train` and `test` examples, uncompressed unless `gz` names files to gzip. */
function idxDir(name: string, o: { train?: number; test?: number; gz?: string[]; labels?: Uint8Array } = {}): string {
  const dir = join(base, name);
  mkdirSync(dir, { recursive: true });
  const [n, m] = [o.train ?? 300, o.test ?? 64];
  const files: [string, { shape: number[]; data: Uint8Array }][] = [
    ['train-images-idx3-ubyte', { shape: [n, 28, 28], data: bytes(n * 784, 1) }],
    ['train-labels-idx1-ubyte', { shape: [n], data: o.labels ?? bytes(n, 2, 4) }],
    ['t10k-images-idx3-ubyte', { shape: [m, 28, 28], data: bytes(m * 784, 3) }],
    ['t10k-labels-idx1-ubyte', { shape: [m], data: bytes(m, 4, 4) }],
  ];
  for (const [f, arr] of files) writeIdx(join(dir, o.gz?.includes(f) ? `${f}.gz` : f), arr);
  return dir;
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const json = (file: string) => JSON.parse(readFileSync(file, 'utf8'));
const floats = (t: Tensor) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);

async function train(data: string, out: string, ...flags: string[]) {
  const r = await cli(
    'train',
    '--data',
    data,
    '--model',
    'mlp:16',
    '--epochs',
    '1',
    '--batch-size',
    '32',
    '--seed',
    '5',
    '--no-progress',
    '--json',
    '--out',
    out,
    ...flags,
  );
  assert.equal(r.code, 0, r.err);
  return r;
}

/** What must be bit-identical between two runs: weights, optimizer state, losses, generator and loader. */
function runState(run: string) {
  const summary = json(join(run, 'summary.json'));
  const meta = json(join(run, 'checkpoint', 'checkpoint.json'));
  return {
    model: sha(join(run, 'checkpoint', 'model.safetensors')),
    optimizer: sha(join(run, 'checkpoint', 'optimizer.safetensors')),
    losses: [summary.train_loss, summary.test_loss, summary.test_accuracy],
    rng: meta.rng,
    loader: meta.loader,
  };
}

describe('descent train --stream', () => {
  const dir = idxDir('small');

  it('reads the same float32 pixels and labels as loading the folder', () => {
    const opts = { labelColumn: 'label', valSplit: 0, seed: 0 };
    const lazy = loadData(dir, { ...opts, stream: true });
    const eager = loadData(dir, opts);
    assert.ok(lazy.train instanceof IdxFileDataset);
    assert.equal(lazy.streamed, true);
    assert.equal(eager.streamed, undefined);
    for (const k of ['inputSize', 'numClasses', 'imageShape', 'classes', 'name'] as const) assert.deepEqual(lazy[k], eager[k], k);
    const all = Int32Array.from({ length: 300 }, (_, i) => 299 - i);
    const [x, y] = lazy.train.getBatch!(all);
    const [x0, y0] = eager.train.getBatch!(all);
    // pixel * (1/255) rounded to float32 equals pixel / 255 rounded to float32 for every byte 0..255
    assert.ok(floats(x!).equals(floats(x0!)), 'pixels bit-identical');
    assert.deepEqual(Array.from(y!.data), Array.from(y0!.data));
    assert.deepEqual(Array.from(lazy.test.getBatch!(Int32Array.of(0, 63))[0]!.data), Array.from(eager.test.getBatch!(Int32Array.of(0, 63))[0]!.data));
  });

  it('trains the same weights and losses as loading the folder, bit for bit, without and with --val-split', async () => {
    await train(dir, join(base, 'loaded'));
    const r = await train(dir, join(base, 'streamed'), '--stream');
    assert.deepEqual(runState(join(base, 'streamed')), runState(join(base, 'loaded')));
    assert.equal(JSON.parse(r.out.trim().split('\n').pop()!).train_loss, json(join(base, 'loaded', 'summary.json')).train_loss);
    assert.equal(json(join(base, 'streamed', 'config.json')).stream, true);
    assert.equal(json(join(base, 'loaded', 'config.json')).stream, false);
    // --val-split: randomSplit's Subset maps each batch to the file's records, so validation streams too
    await train(dir, join(base, 'loaded-val'), '--val-split', '0.2');
    await train(dir, join(base, 'streamed-val'), '--val-split', '0.2', '--stream');
    assert.deepEqual(runState(join(base, 'streamed-val')), runState(join(base, 'loaded-val')));
  });

  it('is taken from --config, and a resumed run may switch it on or off', async () => {
    writeFileSync(join(base, 'stream.json'), '{"stream": true}');
    await train(dir, join(base, 'from-config'), '--config', join(base, 'stream.json'));
    assert.equal(json(join(base, 'from-config', 'config.json')).stream, true);
    await cli('train', '--resume', join(base, 'from-config', 'checkpoint'), '--epochs', '2', '--no-stream', '--no-progress', '--out', join(base, 'resumed'));
    assert.equal(json(join(base, 'resumed', 'config.json')).stream, false);
    assert.equal(json(join(base, 'resumed', 'summary.json')).epochs, 2);
    const r = await cli(
      'train',
      '--resume',
      join(base, 'resumed', 'checkpoint'),
      '--epochs',
      '3',
      '--stream',
      '--no-progress',
      '--out',
      join(base, 'resumed-2'),
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(json(join(base, 'resumed-2', 'config.json')).stream, true);
    writeFileSync(join(base, 'bad.json'), '{"stream": "yes"}');
    assertRejected(
      await cli('train', '--data', dir, '--config', join(base, 'bad.json'), '--out', join(base, 'bad')),
      /--stream must be true or false, got "yes"/,
      join(base, 'bad'),
    );
  });

  it('counts only the test split as resident data in the memory estimate', () => {
    const cfg = { model: 'mlp:16', activation: 'relu', dropout: 0, optimizer: 'sgd', momentum: 0.9, batchSize: 32, accumulate: 1 } as const;
    const opts = { labelColumn: 'label', valSplit: 0.2, seed: 0 };
    // 64 test examples of 784 pixels and a label, four bytes each; without --stream also 300 training examples
    assert.equal(checkTrainingMemory(cfg, loadData(dir, { ...opts, stream: true })).parts.data, 64 * 785 * 4);
    assert.equal(checkTrainingMemory(cfg, loadData(dir, opts)).parts.data, (300 + 64) * 785 * 4);
  });
});

describe('descent train --stream: what it cannot stream is exit 2, one line, nothing written', () => {
  async function fails(data: string, pattern: RegExp, ...flags: string[]) {
    const out = join(base, 'runs', Math.random().toString(36).slice(2));
    assertRejected(await cli('train', '--data', data, '--stream', '--epochs', '1', '--no-progress', '--out', out, ...flags), pattern, out);
  }

  it('a built-in data set', async () => {
    await fails('fashion-mnist', /--stream reads IDX folders \(uncompressed .*\); --data fashion-mnist is a built-in data set/);
    await fails('iris', /--stream reads IDX folders .*; --data iris is a built-in data set/);
  });

  it('a CSV folder', async () => {
    const dir = join(base, 'csv');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'train.csv'), 'a,b,label\n1,2,0\n2,1,1\n3,3,0\n4,4,1\n');
    await fails(dir, /--stream reads IDX folders .*; --data .*csv is a folder of CSV files/);
  });

  it('gzip-compressed training files name the file and say how to decompress it', async () => {
    const dir = idxDir('gz', { gz: ['train-images-idx3-ubyte', 't10k-images-idx3-ubyte'] });
    const file = join(dir, 'train-images-idx3-ubyte.gz');
    await fails(dir, new RegExp(`--stream: ${file} is gzip-compressed; .* needs the uncompressed file: decompress it once with gunzip -k ${file}$`));
    // A compressed file without the .gz name
    const hidden = idxDir('gz-hidden', { gz: ['train-labels-idx1-ubyte'] });
    renameSync(join(hidden, 'train-labels-idx1-ubyte.gz'), join(hidden, 'train-labels-idx1-ubyte'));
    await fails(hidden, /--stream: .*gz-hidden\/train-labels-idx1-ubyte is gzip-compressed \(without a \.gz name\).*gunzip -k/);
  });

  it('a compressed test split is loaded as without --stream', async () => {
    const dir = idxDir('gz-test', { gz: ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'] });
    await train(dir, join(base, 'gz-test-run'), '--stream');
  });

  it('the loaded path’s checks: a label beyond 0..9, a missing file, test labels the training labels lack', async () => {
    await fails(
      idxDir('label12', { train: 20, labels: Uint8Array.from({ length: 20 }, (_, i) => (i === 7 ? 12 : i % 2)) }),
      /train-labels-idx1-ubyte: label 12 at example 7 \(byte 15\); expected a class 0\.\.9/,
    );
    const missing = idxDir('missing');
    rmSync(join(missing, 't10k-labels-idx1-ubyte'));
    await fails(missing, /missing t10k-labels-idx1-ubyte; expected the files/);
    // one class in the training labels: the test split's labels 1..3 are not classes of the training data
    await fails(
      idxDir('single', { train: 20, labels: new Uint8Array(20) }),
      /t10k-labels-idx1-ubyte: label [1-3] of example \d+ is not a class of the training data \(expected 0\.\.0\)/,
    );
    assert.ok(!existsSync(join(base, 'runs')));
  });
});

/**
 * The file reads of `fn`, as record indices of `path` (positional reads of `recordBytes` records
 * after `header` bytes): node:fs's openSync and readSync are wrapped, and the wrappers made visible
 * to ES module imports with syncBuiltinESMExports.
 */
function recordsRead(path: string, header: number, recordBytes: number, fn: () => void): number[] {
  const { openSync, readSync } = fs;
  const fds = new Set<number>();
  const read: number[] = [];
  fs.openSync = ((p: fs.PathLike, ...rest: unknown[]) => {
    const fd = (openSync as (...a: unknown[]) => number)(p, ...rest);
    if (String(p) === path) fds.add(fd);
    return fd;
  }) as typeof fs.openSync;
  fs.readSync = ((fd: number, buf: NodeJS.ArrayBufferView, off: number, len: number, pos: number) => {
    if (fds.has(fd) && pos >= header) for (let r = (pos - header) / recordBytes; r < (pos - header + len) / recordBytes; r++) read.push(r);
    return readSync(fd, buf, off, len, pos);
  }) as typeof fs.readSync;
  syncBuiltinESMExports();
  try {
    fn();
  } finally {
    fs.openSync = openSync;
    fs.readSync = readSync;
    syncBuiltinESMExports();
  }
  return read;
}

describe('--stream under data parallelism: each rank reads only its own batches', () => {
  it('with shard { rank, size: 2 } a rank reads exactly the image records of its batches; the ranks together read the epoch once', () => {
    const dir = idxDir('shard', { train: 250 });
    const images = join(dir, 'train-images-idx3-ubyte');
    const data = loadData(dir, { labelColumn: 'label', valSplit: 0, seed: 0, stream: true });
    // The epoch's batches in the loader's seeded order (what every rank draws), from the indices asked for.
    const ds = data.train as IdxFileDataset;
    const batches: number[][] = [];
    const getBatch = ds.getBatch.bind(ds);
    ds.getBatch = (idx: Int32Array) => (batches.push(Array.from(idx)), getBatch(idx));
    for (const _ of new DataLoader(ds, { batchSize: 32, shuffle: true, generator: new Generator(9) }));
    ds.getBatch = getBatch;
    assert.equal(batches.length, 8); // 250 examples in batches of 32: 7 full, one of 26
    const perRank = [0, 1].map((rank) => {
      ds.close(); // reopen under the counting wrapper
      return recordsRead(images, 16, 784, () => {
        for (const _ of new DataLoader(ds, { batchSize: 32, shuffle: true, generator: new Generator(9), shard: { rank, size: 2 } }));
      });
    });
    const sorted = (a: number[]) => [...a].sort((p, q) => p - q);
    for (const rank of [0, 1]) {
      const own = batches.filter((_, b) => b % 2 === rank).flat();
      assert.deepEqual(sorted(perRank[rank]!), sorted(own), `rank ${rank} reads the records of batches ${rank}, ${rank + 2}, ...`);
    }
    assert.equal(new Set([...perRank[0]!, ...perRank[1]!]).size, 250, 'together: every record once');
    assert.equal(perRank[0]!.length + perRank[1]!.length, 250, 'disjoint');
    assert.equal(perRank[0]!.length, 32 * 4);
  });
});
