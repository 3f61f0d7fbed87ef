/**
 * The CLI on the webgpu backend (SwiftShader here): `descent train --backend webgpu` trains the
 * built-in data as wasm does (the same epoch figures), writes the checkpoint, predictions and
 * report from GPU memory, and `descent evaluate --backend webgpu` reads the run back; the commands
 * that compute on the CPU only refuse webgpu in one line.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertRejected, cliInProcess } from '../cli/helpers.js';
import { webgpu } from './setup.js';

let skip: string | undefined;
const dir = mkdtempSync(join(tmpdir(), 'descent-webgpu-cli-'));
const summary = (run: string) => JSON.parse(readFileSync(join(dir, run, 'summary.json'), 'utf8')) as Record<string, number | string>;

describe('the CLI on webgpu', () => {
  before(async () => {
    const b = await webgpu();
    if (typeof b === 'string') skip = b;
    else b.destroy(); // the CLI starts its own
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('trains the built-in data for one epoch as wasm does, and evaluates the run', async (t) => {
    if (skip) return t.skip(skip);
    const gpu = await cliInProcess('train', '--backend', 'webgpu', '--epochs', '1', '--out', join(dir, 'gpu'), '--no-progress');
    assert.equal(gpu.code, 0, gpu.err);
    const cpu = await cliInProcess('train', '--backend', 'wasm', '--epochs', '1', '--out', join(dir, 'cpu'), '--no-progress');
    assert.equal(cpu.code, 0, cpu.err);
    const [g, c] = [summary('gpu'), summary('cpu')];
    assert.equal(g.backend, 'webgpu');
    for (const k of ['train_loss', 'test_loss'] as const)
      assert.ok(Math.abs((g[k] as number) - (c[k] as number)) <= 1e-3 * (c[k] as number), `${k}: webgpu ${g[k]} vs wasm ${c[k]}`);
    assert.ok(
      Math.abs((g.test_accuracy as number) - (c.test_accuracy as number)) <= 0.01,
      `test accuracy: webgpu ${g.test_accuracy} vs wasm ${c.test_accuracy}`,
    );
    const ev = await cliInProcess('evaluate', join(dir, 'gpu', 'checkpoint'), '--backend', 'webgpu', '--json');
    assert.equal(ev.code, 0, ev.err);
    const r = JSON.parse(ev.out) as { test_accuracy: number; test_loss: number; examples: number };
    assert.equal(r.examples, 1000);
    assert.ok(Math.abs(r.test_accuracy - (g.test_accuracy as number)) <= 0.002, `evaluate: ${r.test_accuracy} vs ${g.test_accuracy}`);
  });

  it('the commands that compute on the CPU only refuse webgpu in one line', async (t) => {
    if (skip) return t.skip(skip);
    assertRejected(
      await cliInProcess('explain', '--backend', 'webgpu'),
      /--backend webgpu: explain computes on the CPU \(js, wasm\); train and evaluate take webgpu/,
    );
  });
});
