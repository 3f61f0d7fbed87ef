/**
 * The CLI on the webgpu backend (SwiftShader here): `descent train --backend webgpu` trains the
 * built-in data as wasm does (the same epoch figures), writes the checkpoint, predictions and
 * report from GPU memory, and `descent evaluate --backend webgpu` reads the run back; the gradient
 * statistics, clipping and DP-SGD give wasm's figures; explain, predict, export and info take it.
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

  it('trains with --grad-stats, --clip-grad-norm and DP-SGD as wasm does (figures read asynchronously)', async (t) => {
    if (skip) return t.skip(skip);
    const flags = ['--data', 'iris', '--epochs', '3', '--batch-size', '16', '--grad-stats', '2', '--clip-grad-norm', '1', '--no-progress'];
    const dp = ['--dp-clip', '1', '--dp-noise', '0.5'];
    for (const [name, extra] of [
      ['plain', []],
      ['dp', dp],
    ] as const) {
      const gpu = await cliInProcess('train', ...flags, ...extra, '--backend', 'webgpu', '--out', join(dir, `${name}-gpu`));
      assert.equal(gpu.code, 0, gpu.err);
      const cpu = await cliInProcess('train', ...flags, ...extra, '--backend', 'wasm', '--out', join(dir, `${name}-cpu`));
      assert.equal(cpu.code, 0, cpu.err);
      const [g, c] = [summary(`${name}-gpu`), summary(`${name}-cpu`)];
      assert.ok(
        Math.abs((g.train_loss as number) - (c.train_loss as number)) <= 1e-3 * (c.train_loss as number),
        `${name}: ${g.train_loss} vs ${c.train_loss}`,
      );
      const stats = (run: string) =>
        readFileSync(join(dir, run, 'metrics.jsonl'), 'utf8')
          .split('\n')
          .filter((l) => l.includes('"type":"stats"'))
          .map((l) => JSON.parse(l) as { step: number; grad_mean_norm_sq: number });
      const [gs, cs] = [stats(`${name}-gpu`), stats(`${name}-cpu`)];
      assert.ok(gs.length >= 4 && gs.length === cs.length, `${name}: ${gs.length} stats lines on webgpu, ${cs.length} on wasm`);
      gs.forEach((x, i) => {
        assert.equal(x.step, cs[i]!.step);
        assert.ok(Math.abs(x.grad_mean_norm_sq - cs[i]!.grad_mean_norm_sq) <= 1e-2 * cs[i]!.grad_mean_norm_sq, `${name} step ${x.step}`);
      });
    }
  });

  it('explain, predict, export and info take webgpu: the same output as wasm', async (t) => {
    if (skip) return t.skip(skip);
    const same = async (...args: string[]) => {
      const g = await cliInProcess(...args, '--backend', 'webgpu');
      const c = await cliInProcess(...args, '--backend', 'wasm');
      assert.equal(g.code, 0, g.err);
      assert.equal(c.code, 0, c.err);
      return [g.out, c.out] as const;
    };
    // the tiny network is float64, which stays on the host under webgpu (WGSL has no float64): identical
    const [ge, ce] = await same('explain', '--batch', '3', '--json');
    assert.deepEqual(JSON.parse(ge), JSON.parse(ce));
    const ckpt = join(dir, 'plain-gpu', 'checkpoint');
    const [gp, cp] = await same('predict', ckpt, '--indices', '0:6', '--json', '--logits');
    const [pg, pc] = [JSON.parse(gp), JSON.parse(cp)] as { predictions: { class: number }[]; logits: number[] }[][];
    pg!.forEach((r, i) => {
      assert.equal(r.predictions[0]!.class, pc![i]!.predictions[0]!.class);
      r.logits.forEach((v, k) => assert.ok(Math.abs(v - pc![i]!.logits[k]!) <= 1e-4, `logit ${i},${k}: ${v} vs ${pc![i]!.logits[k]}`));
    });
    const g = await cliInProcess('export', ckpt, '--format', 'onnx', '--out', join(dir, 'g.onnx'), '--backend', 'webgpu');
    assert.equal(g.code, 0, g.err);
    const c = await cliInProcess('export', ckpt, '--format', 'onnx', '--out', join(dir, 'c.onnx'), '--backend', 'wasm');
    assert.equal(c.code, 0, c.err);
    assert.deepEqual(readFileSync(join(dir, 'g.onnx')), readFileSync(join(dir, 'c.onnx')));
    const info = JSON.parse((await cliInProcess('info', '--backend', 'webgpu', '--json')).out) as {
      backend: string;
      webgpu: { available: boolean; adapter: string };
    };
    assert.equal(info.backend, 'webgpu');
    assert.ok(info.webgpu.available && info.webgpu.adapter.length > 0, JSON.stringify(info.webgpu));
  });
});
