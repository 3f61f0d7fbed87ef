/**
 * Checkpoints as bytes (issue 14): one self-contained file in memory that resumes a run exactly,
 * the memory RunStore that keeps them, and the strict reading that refuses truncated, damaged or
 * foreign bytes with one CheckpointError line. Also the pure-TS SHA-256 against node:crypto.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkpointFrom, runFolder } from '../../src/node/index.js';
import * as d from '../api/internal.js';
import type { Tensor } from '../../src/index.js';
import { checkpointToBytes, decodeCheckpoint, encodeCheckpoint, loadCheckpointBytes, memoryStore } from '../../src/train/index.js';
import type { CheckpointContent } from '../../src/train/index.js';
import { readBytes } from '../../src/io/index.js';
import { Sha256, sha256Hex } from '../../src/train/sha256.js';
import '../helpers.js';

const ce = (out: Tensor, y: Tensor) => d.crossEntropy(out, y);
const weights = (m: d.Module) => m.parameters().map((p) => Array.from(p.data));
const SAVED_AT = '2024-01-01T00:00:00.000Z';

/** 3 Gaussian blobs in 4-D. */
function blobs(n: number, seed: number) {
  const g = new d.Generator(seed);
  const y = d.randint(0, 3, [n], { generator: g });
  const centers = d.tensor([
    [2, 0, 0, 1],
    [0, 2, 0, -1],
    [0, 0, 2, 0],
  ]);
  return new d.TensorDataset(d.add(d.indexSelect(centers, 0, y), d.randn([n, 4], { generator: g, std: 0.7 })), y);
}

/** A run's objects, built the same way every time (dropout and shuffling draw from the default generator). */
const setup = (n = 120) => {
  d.manualSeed(42);
  const model = d.mlp([4, 32, 3], { dropout: 0.2 });
  const optimizer = new d.Adam(model.parameters(), { lr: 0.01 });
  const scheduler = new d.StepLR(optimizer, 1, 0.5);
  const train = new d.DataLoader(blobs(n, 5), { batchSize: 16, shuffle: true });
  return { model, optimizer, scheduler, train, loss: ce };
};

/** Epochs of a hand-written loop: one update per batch, the scheduler stepped per epoch. */
function trainEpochs(s: ReturnType<typeof setup>, epochs: number): number {
  let steps = 0;
  s.model.train(true);
  for (let e = 0; e < epochs; e++) {
    for (const [x, y] of s.train) {
      s.optimizer.step(d.grad(() => ce(s.model.forward(x!), y!), s.model.parameters()));
      steps++;
    }
    s.scheduler.step();
  }
  return steps;
}

const optimizerState = (o: d.Adam) => {
  const sd = o.stateDict();
  return { meta: sd.meta, tensors: Object.fromEntries(Object.entries(sd.tensors).map(([k, t]) => [k, Array.from(t.data)])) };
};

/** A small checkpoint: a 2-3 linear layer with SGD momentum, after one update. */
function small(): Uint8Array<ArrayBuffer> {
  d.manualSeed(3);
  const model = new d.Linear(2, 3);
  const optimizer = new d.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  optimizer.step(d.grad(() => d.sum(model.forward(d.ones([1, 2]))), model.parameters()));
  return checkpointToBytes({ model, optimizer, epoch: 1, step: 1, extra: { note: 'small' } }, { savedAt: SAVED_AT });
}

/** decodeCheckpoint must refuse `bytes` with a CheckpointError of one line naming the source (and matching `what`). */
function refused(bytes: Uint8Array, what?: RegExp): string {
  let message = '';
  assert.throws(
    () => decodeCheckpoint(bytes, 'ckpt.bin'),
    (e: Error) => {
      assert.ok(e instanceof d.CheckpointError, `a CheckpointError, got ${e.name}: ${e.message}`);
      assert.ok(!/[\n\r]/.test(e.message), `one line: ${e.message}`);
      assert.match(e.message, /^checkpoint: ckpt\.bin: /);
      if (what) assert.match(e.message, what);
      message = e.message;
      return true;
    },
  );
  return message;
}

describe('SHA-256 in TypeScript', () => {
  it('matches node:crypto for every length around the block boundaries, and fed in pieces', () => {
    const g = new d.Generator(1);
    const data = Uint8Array.from(d.randint(0, 256, [5000], { generator: g }).data);
    for (let n = 0; n <= 300; n++) assert.equal(sha256Hex(data.subarray(0, n)), createHash('sha256').update(data.subarray(0, n)).digest('hex'), `length ${n}`);
    assert.equal(sha256Hex(data), createHash('sha256').update(data).digest('hex'));
    // FIPS 180-2 appendix B.1: SHA-256("abc")
    assert.equal(sha256Hex(new TextEncoder().encode('abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    for (const cuts of [[1, 63, 64, 65], [0, 0, 100], [55, 56, 57, 4999], [128]]) {
      const h = new Sha256();
      let at = 0;
      for (const c of cuts) {
        h.update(data.subarray(at, c));
        at = c;
      }
      h.update(data.subarray(at));
      assert.equal(h.hex(), createHash('sha256').update(data).digest('hex'), `cuts ${cuts}`);
    }
  });
});

describe('checkpoints as bytes', () => {
  it('encode, decode and restore into fresh objects: training continues bit-identical to an uninterrupted run', () => {
    const full = setup();
    trainEpochs(full, 4);

    const first = setup();
    const steps = trainEpochs(first, 2);
    const bytes = checkpointToBytes({ model: first.model, optimizer: first.optimizer, scheduler: first.scheduler, loader: first.train, epoch: 2, step: steps });
    const meta = decodeCheckpoint(bytes).meta;
    assert.equal(meta.format, 'descent-checkpoint-bytes/1');
    assert.deepEqual([meta.epoch, meta.step], [2, 16]);

    d.manualSeed(999); // disturb the default generator: the checkpoint must restore it
    const second = setup();
    d.manualSeed(999);
    const restored = loadCheckpointBytes(bytes.buffer as ArrayBuffer, {
      model: second.model,
      optimizer: second.optimizer,
      scheduler: second.scheduler,
      loader: second.train,
    });
    assert.equal(restored.step, 16);
    assert.equal(second.optimizer.paramGroups[0]!.lr, 0.0025, 'the scheduler was restored (0.01 halved twice)');
    trainEpochs(second, 2);
    assert.deepEqual(weights(second.model), weights(full.model));
    assert.deepEqual(optimizerState(second.optimizer), optimizerState(full.optimizer));
  });

  it('fit with a memory store, resumed from its bytes after 2 epochs, ends where an uninterrupted run does', async () => {
    const full = setup();
    await d.fit({ ...full, epochs: 4 });
    const saved: string[] = [];
    const store = memoryStore({ onCheckpoint: (name, bytes) => saved.push(`${name} ${bytes.length}`) });
    const first = setup();
    await d.fit({ ...first, epochs: 2, store, logEvery: 1 });
    assert.equal(saved.length, 2, 'one checkpoint per epoch');
    assert.ok(saved.every((s) => s.startsWith('checkpoint ')));
    const second = setup();
    const r = await d.fit({ ...second, epochs: 4, store, logEvery: 1, resume: store.resume() });
    assert.deepEqual(
      r.epochs.map((e) => e.epoch),
      [3, 4],
    );
    assert.deepEqual(weights(second.model), weights(full.model));
    const epochs = store.records.filter((l) => l.type === 'epoch').map((l) => l.epoch);
    assert.deepEqual(epochs, [1, 2, 3, 4]);
    assert.deepEqual(
      store.records.filter((l) => l.type === 'step').map((l) => l.step),
      Array.from({ length: 32 }, (_, i) => i + 1),
    );
  });

  it('a checkpoint from bytes resumes into a run folder on disk (a fresh metrics.jsonl, checkpoints as folders)', async () => {
    const full = setup();
    await d.fit({ ...full, epochs: 3 });
    const store = memoryStore();
    await d.fit({ ...setup(), epochs: 2, store });
    const dir = mkdtempSync(join(tmpdir(), 'descent-bytes-resume-'));
    try {
      const second = setup();
      const r = await d.fit({ ...second, epochs: 3, ...runFolder(dir, { resumeFrom: decodeCheckpoint(store.checkpoints.get('checkpoint')!) }) });
      assert.deepEqual(
        r.epochs.map((e) => e.epoch),
        [3],
      );
      assert.deepEqual(weights(second.model), weights(full.model));
      const log = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; epoch?: number });
      assert.deepEqual(
        log.filter((l) => l.type === 'epoch').map((l) => l.epoch),
        [3],
      );
      assert.equal(checkpointFrom(join(dir, 'checkpoint')).meta.epoch, 3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fit aborted mid-epoch keeps the last update as bytes; resuming from them reaches the uninterrupted weights', async () => {
    // 256 examples in batches of 16: 16 updates per epoch, the abort lands in epoch 2.
    const full = setup(256);
    await d.fit({ ...full, epochs: 3 });
    const store = memoryStore();
    const first = setup(256);
    const controller = new AbortController();
    const r = await d.fit({
      ...first,
      epochs: 3,
      store,
      logEvery: 1,
      signal: controller.signal,
      callbacks: [{ onStepEnd: (m) => void (m.step === 21 && controller.abort()) }],
    });
    assert.equal(r.aborted, true);
    assert.equal(r.steps, 21);
    const bytes = store.checkpoints.get('checkpoint')!;
    const c = decodeCheckpoint(bytes, 'idb:run-1');
    assert.equal(c.meta.step, 21);
    assert.equal(c.meta.trainer?.progress?.epoch, 2, 'a mid-epoch checkpoint');
    assert.equal(c.source, 'idb:run-1');

    // As a page would after a reload: the checkpoint's bytes (say from IndexedDB) and nothing else.
    const second = setup(256);
    const again = await d.fit({ ...second, epochs: 3, resume: decodeCheckpoint(bytes.slice().buffer) });
    assert.equal(again.aborted, false);
    assert.deepEqual(weights(second.model), weights(full.model));

    // The same store continued: its log is cut back to the checkpoint, so each step appears once.
    const third = setup(256);
    await d.fit({ ...third, epochs: 3, store, logEvery: 1, resume: store.resume() });
    assert.deepEqual(weights(third.model), weights(full.model));
    assert.deepEqual(
      store.records.filter((l) => l.type === 'step').map((l) => l.step),
      Array.from({ length: 48 }, (_, i) => i + 1),
    );
  });

  it('the same state always encodes to the same bytes, and a decoded checkpoint re-encodes to them', () => {
    const a = small();
    const b = small();
    assert.deepEqual(a, b);
    const c = decodeCheckpoint(a);
    const { format, savedAt, optimizer, files, ...meta } = c.meta;
    assert.deepEqual([format, savedAt, optimizer !== undefined, files], ['descent-checkpoint-bytes/1', SAVED_AT, true, undefined]);
    const content: CheckpointContent = { model: c.model, optimizer: c.optimizer, meta };
    assert.deepEqual(encodeCheckpoint(content, { savedAt }), a);
    assert.notDeepEqual(encodeCheckpoint(content, { savedAt: '2024-01-01T00:00:00.001Z' }), a);
  });

  it('is one safetensors file: model.* and optimizer.* tensors, and a digest of the whole file as documented', () => {
    const bytes = small();
    const f = d.decodeSafetensors(bytes);
    assert.deepEqual(Object.keys(f.tensors).sort(), ['model.bias', 'model.weight', 'optimizer.state.0.momentumBuffer', 'optimizer.state.1.momentumBuffer']);
    assert.deepEqual(Object.keys(f.metadata).sort(), ['checkpoint', 'format', 'sha256']);
    assert.equal(f.metadata.format, 'descent-checkpoint-bytes/1');
    const json = JSON.parse(f.metadata.checkpoint!);
    assert.deepEqual([json.format, json.epoch, json.step, json.extra], ['descent-checkpoint-bytes/1', 1, 1, { note: 'small' }]);
    // The SHA-256 of the file with the digest's 64 hex digits read as ASCII zeros.
    const text = new TextDecoder().decode(bytes);
    const at = text.indexOf(`"sha256":"${f.metadata.sha256}"`) + '"sha256":"'.length;
    const zeroed = bytes.slice();
    zeroed.fill(0x30, at, at + 64);
    assert.equal(createHash('sha256').update(zeroed).digest('hex'), f.metadata.sha256);
  });

  it('refuses every truncation of a small checkpoint with one CheckpointError line', { timeout: 60_000 }, () => {
    const bytes = small();
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    for (let len = 0; len < bytes.length; len++) {
      const m = refused(bytes.slice(0, len));
      if (len >= 8 + n) assert.match(m, new RegExp(`has ${len} bytes, expected ${bytes.length} as its header describes \\(truncated\\?\\)`));
      else assert.match(m, /not a valid safetensors file: /);
      refused(bytes.subarray(0, len)); // a view of a larger buffer reads the same
    }
    refused(Uint8Array.from([...bytes, 0]), new RegExp(`has ${bytes.length + 1} bytes, expected ${bytes.length} .*\\(bytes added at the end\\?\\)`));
  });

  it('refuses every single-byte change, in the header, the metadata and the data', { timeout: 60_000 }, () => {
    const bytes = small();
    const dataStart = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const kinds = new Set<string>();
    for (let i = 0; i < bytes.length; i++) {
      for (const mask of [0x01, 0x20, 0x80, 0xff]) {
        const bad = bytes.slice();
        bad[i]! ^= mask;
        const m = refused(bad);
        if (i >= dataStart) assert.match(m, /its SHA-256 is [0-9a-f]{64}, expected [0-9a-f]{64} \(__metadata__\.sha256\): the bytes are damaged$/);
        kinds.add(m.replace(/^checkpoint: ckpt\.bin: /, '').slice(0, 24));
      }
    }
    assert.ok(kinds.size > 3, `varied messages: ${[...kinds].join(' | ')}`);
    refused(Uint8Array.from(bytes).fill(0), /not a valid safetensors file/);
  });

  it('refuses a safetensors file that is not a checkpoint, and things that are not safetensors, saying what they are', () => {
    const w = { weight: d.ones([2, 2]) };
    refused(
      d.encodeSafetensors(w),
      /__metadata__\.format is missing, expected "descent-checkpoint-bytes\/1" \(a safetensors file, but not a checkpoint written by encodeCheckpoint\)$/,
    );
    refused(
      d.encodeSafetensors(w, { format: 'descent-checkpoint/2' }),
      /this is the model\.safetensors of a checkpoint folder; on Node read the folder with checkpointFrom/,
    );
    refused(new Uint8Array(0), /not a valid safetensors file: header length \(bytes 0-7\)/);
    refused(new TextEncoder().encode('{"epoch": 1, "step": 2, "format": "descent-checkpoint-bytes/1"}'), /not a valid safetensors file/);
  });

  it('refuses bytes with a valid digest whose contents do not fit the format, naming the part', () => {
    // Files built as the format says (digest included), with one thing wrong each.
    const seal = (tensors: Record<string, Tensor>, meta: Record<string, string>): Uint8Array => {
      const bytes = d.encodeSafetensors(tensors, { ...meta, sha256: '0'.repeat(64) });
      const at = new TextDecoder().decode(bytes).indexOf('"sha256":"') + 10;
      bytes.set(new TextEncoder().encode(createHash('sha256').update(bytes).digest('hex')), at);
      return bytes;
    };
    const format = 'descent-checkpoint-bytes/1';
    const good = { format, epoch: 1, step: 2, rng: [1, 2, 3, 4], savedAt: SAVED_AT };
    const m = { 'model.w': d.ones([2]) };
    assert.equal(decodeCheckpoint(seal(m, { format, checkpoint: JSON.stringify(good) })).meta.step, 2, 'the sealing is right');
    refused(seal(m, { format, checkpoint: JSON.stringify({ ...good, epoch: -1 }) }), /__metadata__\.checkpoint: epoch is -1, expected a non-negative integer$/);
    refused(
      seal(m, { format, checkpoint: JSON.stringify({ ...good, rng: [1, 2] }) }),
      /__metadata__\.checkpoint: rng is \[1,2\], expected four unsigned 32-bit integers$/,
    );
    refused(
      seal(m, { format, checkpoint: JSON.stringify({ ...good, format: 'descent-checkpoint/2' }) }),
      /format is "descent-checkpoint\/2", expected descent-checkpoint-bytes\/1$/,
    );
    refused(seal(m, { format, checkpoint: '{"epoch": 1,' }), /__metadata__\.checkpoint is not valid JSON \(.*\); expected the checkpoint's JSON$/);
    refused(
      seal(m, { format, checkpoint: JSON.stringify(good), note: 'x' }),
      /__metadata__ has the keys "checkpoint", "format", "note", "sha256", expected exactly checkpoint, format, sha256$/,
    );
    refused(
      seal({ ...m, w2: d.ones([1]) }, { format, checkpoint: JSON.stringify(good) }),
      /tensor "w2": expected a name starting with "model\." or "optimizer\."$/,
    );
    refused(
      seal({ ...m, 'optimizer.state.0.m': d.ones([1]) }, { format, checkpoint: JSON.stringify(good) }),
      /tensor "optimizer\.state\.0\.m" is optimizer state, but __metadata__\.checkpoint has no optimizer; expected both or neither$/,
    );
    const unsealed = d.encodeSafetensors(m, { format, checkpoint: JSON.stringify(good), sha256: 'abc' });
    refused(unsealed, /__metadata__\.sha256 is "abc", expected 64 lowercase hex digits/);
  });

  it('a restore that does not fit names the part, and an optimizer asked of a checkpoint without one is refused', () => {
    const bytes = small();
    const other = new d.Linear(3, 3);
    assert.throws(
      () => loadCheckpointBytes(bytes, { model: other }, 'a.ckpt'),
      (e: Error) => e instanceof d.CheckpointError && /^checkpoint: a\.ckpt: model\.safetensors: /.test(e.message),
    );
    d.manualSeed(0);
    const m = new d.Linear(2, 3);
    const noOpt = checkpointToBytes({ model: m, epoch: 0, step: 0 });
    assert.throws(
      () => loadCheckpointBytes(noOpt, { model: m, optimizer: new d.SGD(m.parameters(), { lr: 0.1 }) }),
      /checkpoint: <bytes>: holds no optimizer state/,
    );
    assert.equal(decodeCheckpoint(noOpt).optimizer, undefined);
  });

  it('reads from a Blob and from a fetch Response', async () => {
    const bytes = small();
    const fromBlob = decodeCheckpoint(await readBytes(new Blob([bytes])), 'upload');
    const fromResponse = decodeCheckpoint(await readBytes(new Response(bytes)), 'download');
    assert.deepEqual(Array.from(fromBlob.model.weight!.data), Array.from(fromResponse.model.weight!.data));
    assert.equal(fromResponse.meta.savedAt, SAVED_AT);
  });

  it('the memory store says when it holds no checkpoint of a name, and takes checkpoints and records of an earlier run', () => {
    const empty = memoryStore();
    assert.throws(() => empty.resume(), /^CheckpointError: checkpoint: memory:checkpoint: there is none \(the store holds no checkpoint\)$/);
    const records = [{ type: 'step', step: 1 }, { type: 'step', step: 2 }, { type: 'epoch' }];
    const bytes = small();
    const store = memoryStore({ records, checkpoints: [['checkpoint-last-good', bytes]] });
    assert.equal(store.logSize, 3);
    assert.throws(() => store.resume(), /the store holds checkpoint-last-good/);
    assert.equal(store.resume('checkpoint-last-good').meta.step, 1);
    assert.equal(store.records.length, 3, 'a checkpoint that records no log length cuts nothing');
  });
});
