/**
 * `descent export` and `descent predict --logits`: a trained checkpoint exported as ONNX runs in
 * ONNX Runtime (onnxruntime-node) with the same predictions as `descent predict` on the test split:
 * every argmax equal, logits within 1e-4.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import * as d from '../../src/index.js';
import { loadFashionMnist, loadSafetensors } from '../../src/node/index.js';
import '../helpers.js';
import { assertRejected, cliInProcess } from './helpers.js';

const base = mkdtempSync(join(tmpdir(), 'descent-export-'));
after(() => rmSync(base, { recursive: true, force: true }));

async function train(name: string, ...args: string[]): Promise<string> {
  const out = join(base, name);
  const r = await cliInProcess('train', ...args, '--seed', '3', '--out', out, '--json', '--no-progress');
  assert.equal(r.code, 0, r.err);
  return join(out, 'checkpoint');
}

async function predictLogits(ckpt: string, n: number): Promise<{ logits: number[]; predictions: { class: number }[] }[]> {
  const r = await cliInProcess('predict', ckpt, '--indices', `0:${n}`, '--json', '--logits');
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out.trim());
}

async function runOnnx(file: string, x: Float32Array, shape: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(readFileSync(file));
  const { output } = await session.run({ input: new ort.Tensor('float32', x, shape) });
  return output!.data as Float32Array;
}

/** Every row's argmax equal and every logit within 1e-4 of ONNX Runtime's. */
function assertSame(rows: { logits: number[]; predictions: { class: number }[] }[], ort: Float32Array, k: number): void {
  let worst = 0;
  rows.forEach((row, i) => {
    const o = Array.from(ort.subarray(i * k, (i + 1) * k));
    assert.equal(o.indexOf(Math.max(...o)), row.predictions[0]!.class, `example ${i}: argmax`);
    for (let j = 0; j < k; j++) worst = Math.max(worst, Math.abs(o[j]! - row.logits[j]!));
  });
  assert.ok(worst <= 1e-4, `largest logit difference ${worst}`);
}

/** A small CSV data set of 4x4 "images" (16 features), 3 classes, for a convolutional model that trains in a moment. */
function csvImages(): string {
  const dir = join(base, 'csv-images');
  mkdirSync(dir, { recursive: true });
  const g = new d.Generator(7);
  const rows = (n: number) => {
    const lines = [Array.from({ length: 16 }, (_, i) => `p${i}`).join(',') + ',label'];
    for (let r = 0; r < n; r++) {
      const label = r % 3;
      const noise = new Float64Array(16);
      g.fillNormal(noise, 0, 0.3);
      const px = Array.from({ length: 16 }, (_, i) => (((i >> 2) + (i & 3) * label) % 3 === 0 ? 1 : 0) + noise[i]!);
      lines.push([...px.map((v) => v.toFixed(4)), label].join(','));
    }
    return lines.join('\n') + '\n';
  };
  writeFileSync(join(dir, 'train.csv'), rows(120));
  writeFileSync(join(dir, 'test.csv'), rows(30));
  return dir;
}

describe('descent export --format onnx', () => {
  it('an MLP trained on Fashion-MNIST: ONNX Runtime gives descent predict --logits on all 1,000 test images', async () => {
    const ckpt = await train('mlp', '--model', 'mlp:32', '--epochs', '1');
    const file = join(base, 'mlp.onnx');
    const r = await cliInProcess('export', ckpt, '--format', 'onnx', '--out', file);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /wrote .*mlp\.onnx \(onnx: ONNX opset 17, input \[batch, 784\], output \[batch, 10\] logits/);
    const rows = await predictLogits(ckpt, 1000);
    const { test } = loadFashionMnist();
    const x = test.getBatch!(Int32Array.from({ length: 1000 }, (_, i) => i))[0]!;
    assertSame(rows, await runOnnx(file, x.dataSync() as Float32Array, [1000, 784]), 10);
  });

  it('a CNN with BatchNorm and a residual block: the same through ONNX Runtime', async () => {
    const data = csvImages();
    const ckpt = await train('cnn', '--data', data, '--model', 'conv:4x3same,bn,pool:2,res:6,flatten,dense:8', '--epochs', '3', '--batch-size', '16');
    const file = join(base, 'cnn.onnx');
    assert.equal((await cliInProcess('export', ckpt, '--out', file)).code, 0);
    const rows = await predictLogits(ckpt, 30);
    const lines = readFileSync(join(data, 'test.csv'), 'utf8').trim().split('\n').slice(1);
    const x = Float32Array.from(lines.flatMap((l) => l.split(',').slice(0, 16).map(Number)));
    assertSame(rows, await runOnnx(file, x, [30, 16]), 3);
  });

  it('--format safetensors writes the state dict under PyTorch keys', async () => {
    const ckpt = await train('mlp-st', '--data', 'iris', '--model', 'mlp:8', '--epochs', '1');
    const file = join(base, 'w.safetensors');
    assert.equal((await cliInProcess('export', ckpt, '--format', 'safetensors', '--out', file)).code, 0);
    assert.deepEqual(Object.keys(loadSafetensors(file).tensors).sort(), ['0.bias', '0.weight', '2.bias', '2.weight']);
  });

  it('bad input: one line and exit code 2', async () => {
    const ckpt = await train('mlp-bad', '--data', 'iris', '--model', 'mlp:4', '--epochs', '1');
    assertRejected(await cliInProcess('export', ckpt, '--format', 'tflite', '--out', join(base, 'x')), /--format.*tflite/);
    assertRejected(await cliInProcess('export', ckpt), /--out: expected the file to write/);
    assertRejected(await cliInProcess('export', ckpt, '--out', join(base, 'no-such-dir', 'm.onnx')), /--out: the folder .*no-such-dir does not exist/);
    assertRejected(await cliInProcess('export', join(base, 'nowhere'), '--out', join(base, 'm.onnx')), /checkpoint: .*nowhere/);
    const file = join(base, 'exists.onnx');
    writeFileSync(file, 'x');
    assertRejected(await cliInProcess('export', ckpt, '--out', file), /already exists; pass --overwrite/);
    assert.equal((await cliInProcess('export', ckpt, '--out', file, '--overwrite')).code, 0);
  });
});
